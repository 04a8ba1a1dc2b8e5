"""Radial bases that expand an edge length into edge features: sinc-like and Gaussian."""

from __future__ import annotations

import math

import torch
from torch import nn


class SincBasis(nn.Module):
    """Sinc-like radial basis of the equivariant model (DimeNet / PaiNN).

    .. math:: b_n(d) = \\frac{\\sin(n \\pi d / r_\\mathrm{cut})}{d}, \\qquad n = 1, \\dots, N

    evaluated as ``torch.sinc(n d / r_cut) · π n / r_cut`` so that ``b_n(0) = π n / r_cut`` is finite.
    The released code uses ``N = 30`` (the paper text says 20).

    Args:
        num_basis: ``N``.
        cutoff: ``r_cut`` in Å.

    Shapes:
        distance: ``(num_edges,)`` Å; output: ``(num_edges, num_basis)`` in 1/Å.
    """

    def __init__(self, num_basis: int, cutoff: float) -> None:
        super().__init__()
        self.num_basis = int(num_basis)
        self.cutoff = float(cutoff)
        # Non-persistent buffer: moves with the module but is not in the state dict (the released
        # checkpoints have no buffers).
        self.register_buffer("orders", torch.arange(1, self.num_basis + 1, dtype=torch.float32), persistent=False)

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        scaled = self.orders.to(distance.dtype) / self.cutoff  # (num_basis,) n / r_cut in 1/Å
        return torch.sinc(distance[:, None] * scaled) * (math.pi * scaled)  # (num_edges, num_basis)

    def extra_repr(self) -> str:
        return f"num_basis={self.num_basis}, cutoff={self.cutoff}"


class GaussianBasis(nn.Module):
    """Gaussian expansion of the invariant model.

    .. math:: g_k(d) = \\exp\\left(-\\frac{(d - \\mu_k)^2}{2 \\sigma^2}\\right), \\qquad
        \\mu_k = k\\,\\sigma, \\; k = 0, \\dots, \\lceil r_\\mathrm{cut} / \\sigma \\rceil - 1

    (centres 0, 0.1, …, 3.9 Å for ``r_cut = 4`` and ``σ = 0.1``: 40 functions).

    Args:
        cutoff: ``r_cut`` in Å (centres stop below it).
        step: spacing of the centres and width ``σ`` in Å.

    Shapes:
        distance: ``(num_edges,)`` Å; output: ``(num_edges, num_basis)`` dimensionless.
    """

    def __init__(self, cutoff: float, step: float = 0.1) -> None:
        super().__init__()
        self.cutoff = float(cutoff)
        self.step = float(step)
        self.num_basis = num_gaussians(self.cutoff, self.step)
        self.register_buffer("indices", torch.arange(self.num_basis, dtype=torch.float32), persistent=False)

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        centres = self.indices.to(distance.dtype) * self.step  # (num_basis,) Å
        return torch.exp((distance[:, None] - centres).square() * (-0.5 / self.step**2))

    def extra_repr(self) -> str:
        return f"num_basis={self.num_basis}, step={self.step}, cutoff={self.cutoff}"


def num_gaussians(cutoff: float, step: float) -> int:
    """Number of Gaussian centres ``0, step, 2·step, … < cutoff`` (``⌈cutoff / step⌉``)."""
    return math.ceil(cutoff / step)
