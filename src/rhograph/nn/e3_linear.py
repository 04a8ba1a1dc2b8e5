"""Equivariant linear map between irreps features (e3nn's ``o3.Linear`` for one block per ``l``)."""

from __future__ import annotations

import torch
from torch import nn

from rhograph.nn.e3_irreps import Irreps


class IrrepsLinear(nn.Module):
    """Mixes the channels of equal ``l``; the ``2l+1`` components of an irrep are never mixed (equivariance).

    .. math:: y^{l}_{v m} = \\frac{1}{\\sqrt{M^{\\mathrm{in}}_l}} \\sum_u W^{l}_{u v}\\, x^{l}_{u m}
        \\; \\left(+\\, b_v \\text{ for } l = 0\\right)

    with ``W ~ N(0, 1)`` (e3nn's normalisation: unit-variance inputs give unit-variance outputs). Output
    ``l`` absent from the input are zero; input ``l`` absent from the output are dropped.

    Args:
        irreps_in, irreps_out: :class:`~rhograph.nn.e3_irreps.Irreps` with at most one block per ``l``.
        bias: a learned bias on the scalar (``l = 0``) outputs.

    Shapes:
        x: ``(N, irreps_in.dim)``; output: ``(N, irreps_out.dim)`` (layouts of :mod:`rhograph.nn.e3_irreps`).
    """

    def __init__(self, irreps_in: Irreps, irreps_out: Irreps, *, bias: bool = False) -> None:
        super().__init__()
        for irreps in (irreps_in, irreps_out):
            ls = [l for _, l in irreps.blocks]
            if len(set(ls)) != len(ls):
                raise ValueError(f"IrrepsLinear needs one block per l, got {irreps}")
        self.irreps_in = irreps_in
        self.irreps_out = irreps_out
        self.weights = nn.ParameterDict(
            {
                str(l): nn.Parameter(torch.randn(irreps_in.mul_of(l), mul))
                for mul, l in irreps_out.blocks
                if irreps_in.mul_of(l) > 0
            }
        )
        self.bias = nn.Parameter(torch.zeros(irreps_out.mul_of(0))) if bias and irreps_out.mul_of(0) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blocks = {l: block for (_, l), block in zip(self.irreps_in.blocks, self.irreps_in.split(x), strict=True)}
        out = []
        for mul, l in self.irreps_out.blocks:
            key = str(l)
            if key in self.weights:
                weight = self.weights[key]
                y = torch.matmul(blocks[l].transpose(1, 2), weight * weight.shape[0] ** -0.5)  # (N, 2l+1, mul)
                y = y.transpose(1, 2)  # (N, mul, 2l+1)
            else:
                y = x.new_zeros((x.shape[0], mul, 2 * l + 1))
            if l == 0 and self.bias is not None:
                y = y + self.bias[:, None]
            out.append(y.reshape(x.shape[0], mul * (2 * l + 1)))
        return torch.cat(out, dim=1)

    def extra_repr(self) -> str:
        return f"{self.irreps_in} -> {self.irreps_out}, bias={self.bias is not None}"
