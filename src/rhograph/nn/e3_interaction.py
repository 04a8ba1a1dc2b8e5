"""Atom interaction layer of the higher-order equivariant model (NequIP-like, with a residual)."""

from __future__ import annotations

import torch
from torch import nn

from rhograph.nn.e3_convolution import TensorProductConvolution
from rhograph.nn.e3_gate import Gate
from rhograph.nn.e3_irreps import Irreps
from rhograph.nn.e3_linear import IrrepsLinear


class E3Interaction(nn.Module):
    """One atom message-passing layer on irreps features.

    .. math:: h_i^{t} = h_i^{t-1} + \\mathrm{Gate}\\left(W_\\mathrm{self} h_i^{t-1}
        + \\mathrm{Conv}(h^{t-1})_i\\right)

    with :class:`~rhograph.nn.e3_convolution.TensorProductConvolution` messages from the atoms within the
    cutoff and the :class:`~rhograph.nn.e3_gate.Gate` nonlinearity. The residual ``h^{t-1}`` is added when
    the input and output irreps agree (every layer but the first, whose input is the ``F×0e`` embedding).

    Args:
        irreps_in: ``h^{t-1}``.
        irreps_out: ``h^t`` (``F×0e + M×1o + M×2e + …``).
        lmax_sh, num_basis, radial_hidden, avg_num_neighbors: see the convolution.

    Shapes:
        h: ``(num_atoms, irreps_in.dim)``; edges: ``(2, num_edges)`` row 0 sender, row 1 receiver;
        sh: ``(num_edges, (lmax_sh+1)²)``; basis: ``(num_edges, K)``; envelope: ``(num_edges,)``;
        output: ``(num_atoms, irreps_out.dim)``.
    """

    def __init__(
        self,
        irreps_in: Irreps,
        irreps_out: Irreps,
        lmax_sh: int,
        num_basis: int,
        radial_hidden: int,
        avg_num_neighbors: float,
    ) -> None:
        super().__init__()
        self.gate = Gate(irreps_out)
        self.convolution = TensorProductConvolution(
            irreps_in, self.gate.irreps_in, lmax_sh, num_basis, radial_hidden, avg_num_neighbors
        )
        self.self_linear = IrrepsLinear(irreps_in, self.gate.irreps_in)
        self.residual = irreps_in == irreps_out

    def forward(
        self, h: torch.Tensor, edges: torch.Tensor, sh: torch.Tensor, basis: torch.Tensor, envelope: torch.Tensor
    ) -> torch.Tensor:
        messages = self.convolution(self.convolution.sender_features(h), edges, sh, basis, envelope, h.shape[0])
        update = self.gate(self.self_linear(h) + messages)  # (num_atoms, irreps_out.dim)
        return h + update if self.residual else update

    def extra_repr(self) -> str:
        return f"residual={self.residual}"
