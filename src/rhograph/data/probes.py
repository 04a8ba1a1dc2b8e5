"""Probe points drawn from a density grid: random training probes and fixed validation probes.

The paper samples, in every training step, 1000 probe points uniformly from the computational grid of each
structure, and keeps a fixed set of 5000 probes per validation structure.
"""

from __future__ import annotations

import numpy as np

from rhograph.data.grid_neighbors import grid_points
from rhograph.io.density_grid import DensityGrid


def _grid_probes(grid: DensityGrid, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    assert grid.cell is not None
    positions = grid_points(grid.cell, grid.shape, grid.origin, flat)
    return positions, grid.values.reshape(-1)[flat]


def sample_grid_probes(grid: DensityGrid, num: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``num`` grid points drawn uniformly, distinct while the grid has enough points.

    Args:
        grid: the density grid.
        num: number of probes (> 0).
        rng: random generator (the only source of randomness).

    Returns:
        positions ``(num, 3)`` float64 Å and densities ``(num,)`` float32 e/Å³.
    """
    if num < 1:
        raise ValueError(f"number of probes must be positive, got {num}")
    flat = rng.choice(grid.num_points, size=num, replace=num > grid.num_points)
    return _grid_probes(grid, np.asarray(flat, dtype=np.int64))


def fixed_validation_probes(grid: DensityGrid, num: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A reproducible probe set: ``min(num, grid points)`` distinct points, a function of ``seed`` only.

    Points are returned in increasing flat-index order.

    Returns:
        positions ``(K, 3)`` float64 Å and densities ``(K,)`` float32 e/Å³.
    """
    if num < 1:
        raise ValueError(f"number of probes must be positive, got {num}")
    rng = np.random.default_rng(seed)
    if num >= grid.num_points:
        flat = np.arange(grid.num_points, dtype=np.int64)
    else:
        flat = np.sort(rng.choice(grid.num_points, size=num, replace=False)).astype(np.int64)
    return _grid_probes(grid, flat)
