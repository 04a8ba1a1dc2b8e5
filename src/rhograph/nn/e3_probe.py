"""Probe layer of the higher-order equivariant model: probes receive tensor-product messages from atoms."""

from __future__ import annotations

import torch
from torch import nn

from rhograph.nn.e3_convolution import TensorProductConvolution
from rhograph.nn.e3_gate import Gate
from rhograph.nn.e3_irreps import Irreps
from rhograph.nn.e3_linear import IrrepsLinear


class E3ProbeLayer(nn.Module):
    """Probe layer ``t``: messages from the atom features ``h^t`` of atom layer ``t``, a gated residual update.

    .. math:: x_p^{t} = x_p^{t-1} + \\mathrm{Gate}\\left(W_\\mathrm{self} x_p^{t-1}
        + \\mathrm{Conv}(h^{t} \\to p)\\right), \\qquad x_p^{0} = 0

    (the first layer, ``first=True``, has no ``W_self``: ``x_p^1 = Gate(Conv(h^1 → p))``). Probes only receive.
    The per-atom part of the messages (:meth:`sender_features`) is computed once per structure.

    Args:
        irreps_atoms: the atom features ``h^t``.
        irreps_out: the probe features ``x^t`` (``F×0e + M×1o + …``).
        first: the probe state before this layer is zero.
        lmax_sh, num_basis, radial_hidden, avg_num_neighbors: see the convolution.

    Shapes:
        sender_features: ``(num_atoms, irreps_atoms.dim)``; probe_state: ``(num_probes, irreps_out.dim)`` or
        ``None`` (first layer); edges: ``(2, num_edges)`` row 0 atom, row 1 probe;
        sh: ``(num_edges, (lmax_sh+1)²)``; basis: ``(num_edges, K)``; envelope: ``(num_edges,)``;
        output: ``(num_probes, irreps_out.dim)``.
    """

    def __init__(
        self,
        irreps_atoms: Irreps,
        irreps_out: Irreps,
        lmax_sh: int,
        num_basis: int,
        radial_hidden: int,
        avg_num_neighbors: float,
        *,
        first: bool,
    ) -> None:
        super().__init__()
        self.gate = Gate(irreps_out)
        self.convolution = TensorProductConvolution(
            irreps_atoms, self.gate.irreps_in, lmax_sh, num_basis, radial_hidden, avg_num_neighbors
        )
        self.self_linear = None if first else IrrepsLinear(irreps_out, self.gate.irreps_in)

    def sender_features(self, atom_features: torch.Tensor) -> torch.Tensor:
        """Per-atom factors of the messages of this layer ``(num_atoms, irreps_atoms.dim)``."""
        return self.convolution.sender_features(atom_features)

    def forward(
        self,
        sender_features: torch.Tensor,
        probe_state: torch.Tensor | None,
        edges: torch.Tensor,
        sh: torch.Tensor,
        basis: torch.Tensor,
        envelope: torch.Tensor,
        num_probes: int,
    ) -> torch.Tensor:
        messages = self.convolution(sender_features, edges, sh, basis, envelope, num_probes)
        if self.self_linear is None:
            if probe_state is not None:
                raise ValueError("the first probe layer expects a zero (None) probe state")
            return self.gate(messages)
        if probe_state is None:
            raise ValueError("a probe layer after the first needs the probe state")
        return probe_state + self.gate(self.self_linear(probe_state) + messages)  # (num_probes, irreps_out.dim)
