"""Sum of spherical free-atom densities at probe points, from per-element radial cubic splines."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: rows of the species lookup (Z = 0..118)
_NUM_SPECIES = 119


#: width in Å of the taper that brings a free-atom density to zero at the cutoff
TAPER_WIDTH = 0.5


def taper(radii: np.ndarray, cutoff: float, width: float = TAPER_WIDTH) -> np.ndarray:
    """1 below ``cutoff − width``, then ``½(1 + cos(π (r − cutoff + width) / width))`` down to 0 at ``cutoff``."""
    x = np.clip((np.asarray(radii) - (cutoff - width)) / width, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * x))


class AtomicDensity(nn.Module):
    """Promolecule density at probes: the baseline of delta learning.

    .. math:: \\rho_\\mathrm{atoms}(\\mathbf r_p) = \\sum_{j:\\,|\\mathbf r_p - \\mathbf r_j| < r_\\mathrm{cut}}
        \\rho_{Z_j}(|\\mathbf r_p - \\mathbf r_j|)

    ``ρ_Z`` is a clamped cubic spline (zero slope at ``r = 0`` and ``r = r_cut``, so the field is smooth at the
    nuclei and at the cutoff) on ``num_points`` uniform knots of ``[0, r_cut]``; its coefficients are buffers,
    saved with the model. Evaluated on the probe edges the decoder already has, so it adds one gather and one
    scatter per edge.

    Args:
        elements: atomic numbers with a table.
        num_points: spline knots on ``[0, cutoff]``.
        cutoff: ``r_cut`` in Å (the model's).

    Shapes:
        atomic_numbers: ``(num_atoms,)``; distance: ``(num_edges,)`` Å; edges: ``(2, num_edges)`` row 0 atom,
        row 1 probe; output: ``(num_probes,)`` e/Å³.
    """

    def __init__(self, elements: tuple[int, ...], num_points: int, cutoff: float) -> None:
        super().__init__()
        self.elements = tuple(int(z) for z in elements)
        self.num_points = int(num_points)
        self.cutoff = float(cutoff)
        self.spacing = self.cutoff / (self.num_points - 1)
        index = torch.full((_NUM_SPECIES,), -1, dtype=torch.long)
        index[list(self.elements)] = torch.arange(len(self.elements))
        self.register_buffer("species_index", index)
        self.register_buffer("coefficients", torch.zeros(len(self.elements), self.num_points - 1, 4))

    def set_tables(self, radii: np.ndarray, values: np.ndarray) -> None:
        """Fit the splines to radial densities ``values (E, R)`` (e/Å³) sampled at ``radii (R,)`` Å.

        The tables are interpolated onto the knots (cubic), so any radial grid reaching ``cutoff`` works, and
        multiplied by :func:`taper` so that the baseline goes smoothly to zero at the cutoff.
        """
        from scipy.interpolate import CubicSpline

        radii = np.asarray(radii, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(self.elements), len(radii)):
            raise ValueError(f"tables must be (elements={len(self.elements)}, radii={len(radii)}), got {values.shape}")
        if radii[0] > 1e-9 or radii[-1] < self.cutoff - 1e-9:
            raise ValueError(f"radial tables must cover [0, {self.cutoff}] Å, got [{radii[0]}, {radii[-1]}]")
        knots = np.linspace(0.0, self.cutoff, self.num_points)
        on_knots = CubicSpline(radii, values, axis=1)(knots) * taper(knots, self.cutoff)  # (E, num_points)
        spline = CubicSpline(knots, on_knots, axis=1, bc_type="clamped")
        coefficients = spline.c.transpose(2, 1, 0)  # (4, knots - 1, E) -> (E, knots - 1, 4), highest power first
        with torch.no_grad():
            self.coefficients.copy_(torch.as_tensor(coefficients, dtype=self.coefficients.dtype))

    def radial(self, atomic_number: int, distance: torch.Tensor) -> torch.Tensor:
        """``ρ_Z(d)`` of one element (for plots and tests)."""
        species = torch.full_like(distance, self.species_lookup(atomic_number), dtype=torch.long)
        return self._spline(species, distance)

    def species_lookup(self, atomic_number: int) -> int:
        row = int(self.species_index[atomic_number])
        if row < 0:
            raise ValueError(f"the atomic baseline has no table for Z={atomic_number} (has {list(self.elements)})")
        return row

    def check_species(self, atomic_numbers: torch.Tensor) -> None:
        """Raise ``ValueError`` naming the elements without a table."""
        missing = self.species_index.index_select(0, atomic_numbers) < 0
        if bool(missing.any()):
            absent = sorted(set(atomic_numbers[missing].tolist()))
            raise ValueError(
                f"the model's atomic-density baseline has no table for element(s) Z={absent}; "
                f"it covers Z={list(self.elements)}"
            )

    def _spline(self, species: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
        interval = torch.clamp(torch.floor(distance / self.spacing), 0, self.num_points - 2).long()
        t = distance - interval.to(distance.dtype) * self.spacing  # (num_edges,)
        c = self.coefficients[species, interval].to(distance.dtype)  # (num_edges, 4)
        value = ((c[:, 0] * t + c[:, 1]) * t + c[:, 2]) * t + c[:, 3]
        return torch.where(distance < self.cutoff, value, torch.zeros_like(value))

    def forward(
        self, atomic_numbers: torch.Tensor, distance: torch.Tensor, edges: torch.Tensor, num_probes: int
    ) -> torch.Tensor:
        species = self.species_index.index_select(0, atomic_numbers.index_select(0, edges[0]))  # (num_edges,)
        value = self._spline(species, distance)  # (num_edges,)
        return value.new_zeros(num_probes).index_add_(0, edges[1], value)

    def extra_repr(self) -> str:
        return f"elements={list(self.elements)}, num_points={self.num_points}, cutoff={self.cutoff}"
