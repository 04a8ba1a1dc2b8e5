"""Distance cutoff functions: the cosine (Behler–Parrinello) cutoff and SchNet's sigmoid soft cutoff."""

from __future__ import annotations

import math

import torch
from torch import nn


class CosineCutoff(nn.Module):
    """Cosine cutoff of the equivariant model.

    .. math:: f_\\mathrm{cut}(d) = \\tfrac12\\left(\\cos(\\pi d / r_\\mathrm{cut}) + 1\\right)
        \\text{ for } d < r_\\mathrm{cut}, \\text{ else } 0

    Args:
        cutoff: ``r_cut`` in Å.

    Shapes:
        distance: ``(num_edges,)`` Å; output: ``(num_edges,)`` dimensionless.
    """

    def __init__(self, cutoff: float) -> None:
        super().__init__()
        self.cutoff = float(cutoff)

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        value = 0.5 * (torch.cos(distance * (math.pi / self.cutoff)) + 1.0)
        return torch.where(distance < self.cutoff, value, torch.zeros_like(value))

    def extra_repr(self) -> str:
        return f"cutoff={self.cutoff}"


class SoftCutoff(nn.Module):
    """Sigmoid soft cutoff of the invariant (SchNet-like) model.

    .. math:: f(d) = 1 - \\sigma\\left(5\\,(d - (r_\\mathrm{cut} - 1.5))\\right)

    It does not reach zero at ``r_cut`` (``f(r_cut) ≈ 5.5e-4``); the graph cutoff removes farther pairs.

    Args:
        cutoff: ``r_cut`` in Å.
        width: distance below ``r_cut`` where ``f = 1/2`` (1.5 Å in the released model).
        steepness: slope factor of the sigmoid in 1/Å (5 in the released model).

    Shapes:
        distance: ``(num_edges,)`` Å; output: ``(num_edges,)`` dimensionless.
    """

    def __init__(self, cutoff: float, width: float = 1.5, steepness: float = 5.0) -> None:
        super().__init__()
        self.cutoff = float(cutoff)
        self.width = float(width)
        self.steepness = float(steepness)

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        return 1.0 - torch.sigmoid(self.steepness * (distance - (self.cutoff - self.width)))

    def extra_repr(self) -> str:
        return f"cutoff={self.cutoff}, width={self.width}, steepness={self.steepness}"
