"""Gated nonlinearity of irreps features (Weiler et al. 2018; e3nn's ``nn.Gate``)."""

from __future__ import annotations

import torch
from torch import nn

from rhograph.nn.e3_irreps import Irreps


class Gate(nn.Module):
    """SiLU on the scalars; every ``l > 0`` channel is scaled by the sigmoid of its own scalar gate.

    .. math:: y^{0} = \\mathrm{SiLU}(s), \\qquad y^{l}_{u} = \\sigma(g_{l u})\\, x^{l}_{u} \\quad (l > 0)

    Only invariants pass through nonlinear functions and the gates scale whole irreps, so the map is
    O(3)-equivariant.

    Args:
        irreps_out: the gated features, ``F×0e + M_1×1o + M_2×2e + …`` (scalars first, one block per ``l``).

    Attributes:
        irreps_in: what the gate reads: ``(F + G)×0e + M_1×1o + …`` with the scalars ``s`` (first ``F``
            columns) followed by the ``G = Σ_{l>0} M_l`` gates ``g`` (in the order of the gated channels).

    Shapes:
        x: ``(N, irreps_in.dim)``; output: ``(N, irreps_out.dim)``.
    """

    def __init__(self, irreps_out: Irreps) -> None:
        super().__init__()
        if irreps_out.blocks[0][1] != 0 or any(l == 0 for _, l in irreps_out.blocks[1:]):
            raise ValueError(f"Gate needs scalars first and one block per l, got {irreps_out}")
        self.irreps_out = irreps_out
        self.num_scalars = irreps_out.blocks[0][0]
        self.num_gates = sum(mul for mul, _ in irreps_out.blocks[1:])
        self.irreps_in = Irreps(((self.num_scalars + self.num_gates, 0), *irreps_out.blocks[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        num = x.shape[0]
        blocks = self.irreps_in.split(x)
        scalars = blocks[0][:, : self.num_scalars, 0]  # (N, F)
        gates = torch.sigmoid(blocks[0][:, self.num_scalars :, 0])  # (N, G)
        out = [nn.functional.silu(scalars)]
        start = 0
        for block in blocks[1:]:
            mul = block.shape[1]
            out.append(
                (block * gates[:, start : start + mul, None]).reshape(num, block.shape[1] * block.shape[2])
            )  # (N, mul·(2l+1))
            start += mul
        return torch.cat(out, dim=1)

    def extra_repr(self) -> str:
        return f"{self.irreps_in} -> {self.irreps_out}"
