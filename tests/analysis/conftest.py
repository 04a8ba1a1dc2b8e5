"""Analytic densities for the analysis tests: sums of normalised 3-D Gaussians on a grid.

A Gaussian of N electrons and width σ, ``N (2πσ²)^{-3/2} exp(−|r − c|²/2σ²)``, integrates to N; on a grid
finer than σ the voxel sum equals the integral to many digits, so Bader populations of well-separated
Gaussians must equal their N.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ase
import numpy as np
import pytest

from rhograph.io.density_grid import DensityGrid


def gaussian_values(
    cell: np.ndarray,
    shape: tuple[int, int, int],
    centres: np.ndarray,
    electrons: Sequence[float],
    sigmas: Sequence[float],
    *,
    pbc: bool,
    origin: np.ndarray | None = None,
) -> np.ndarray:
    """Values (e/Å³) of the Gaussian sum at the grid points, periodic images by minimum image if ``pbc``."""
    cell = np.asarray(cell, dtype=np.float64)
    origin = np.zeros(3) if origin is None else np.asarray(origin, dtype=np.float64)
    n = np.asarray(shape)
    idx = np.stack(np.meshgrid(*[np.arange(k) for k in shape], indexing="ij"), axis=-1).reshape(-1, 3)
    points = (idx / n) @ cell + origin
    inv = np.linalg.inv(cell)
    rho = np.zeros(len(points))
    for centre, q, s in zip(np.asarray(centres, dtype=np.float64), electrons, sigmas, strict=True):
        d = points - centre
        if pbc:
            f = d @ inv
            f -= np.rint(f)
            d = f @ cell
        rho += q / (2 * np.pi * s * s) ** 1.5 * np.exp(-(d**2).sum(axis=1) / (2 * s * s))
    return rho.reshape(shape)


def make_gaussian_grid(
    symbols: str | Sequence[str],
    centres: np.ndarray,
    electrons: Sequence[float],
    sigmas: Sequence[float],
    *,
    cell: np.ndarray,
    shape: tuple[int, int, int],
    pbc: bool = True,
    origin: np.ndarray | None = None,
) -> DensityGrid:
    """A :class:`DensityGrid` of atoms at ``centres`` carrying Gaussians of ``electrons`` and ``sigmas``."""
    atoms = ase.Atoms(symbols, positions=centres, cell=cell, pbc=pbc)
    values = gaussian_values(cell, shape, centres, electrons, sigmas, pbc=pbc, origin=origin)
    return DensityGrid(atoms=atoms, values=values, cell=cell, origin=np.zeros(3) if origin is None else origin)


#: a skewed (triclinic) cell in Å
SKEWED = np.array([[6.0, 0.0, 0.0], [1.4, 6.2, 0.0], [0.7, -0.9, 5.9]])


@pytest.fixture
def gaussian_grid() -> Callable[..., DensityGrid]:
    return make_gaussian_grid


@pytest.fixture
def skewed_cell() -> np.ndarray:
    return SKEWED.copy()
