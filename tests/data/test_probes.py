"""Probe sampling from density grids."""

from __future__ import annotations

import ase
import numpy as np

from rhograph.data import fixed_validation_probes, sample_grid_probes
from rhograph.io.density_grid import DensityGrid


def make_grid(shape=(4, 5, 6)) -> DensityGrid:
    values = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    atoms = ase.Atoms("H", positions=[[1.0, 1.0, 1.0]], cell=[[3.0, 0, 0], [0.5, 4.0, 0], [0, 0, 5.0]], pbc=True)
    return DensityGrid(atoms, values, origin=np.array([0.1, 0.2, 0.3]))


def test_sampled_probes_are_grid_points_with_their_values() -> None:
    grid = make_grid()
    positions, values = sample_grid_probes(grid, 50, np.random.default_rng(0))
    assert positions.shape == (50, 3) and values.shape == (50,)
    flat = values.astype(np.int64)  # the value of a point is its flat index
    assert len(np.unique(flat)) == 50  # distinct while the grid is large enough
    np.testing.assert_allclose(positions, grid.grid_positions(flat), atol=1e-12)


def test_sampling_is_uniform_and_reproducible() -> None:
    grid = make_grid((2, 2, 3))
    a = sample_grid_probes(grid, 12_000, np.random.default_rng(1))
    b = sample_grid_probes(grid, 12_000, np.random.default_rng(1))
    np.testing.assert_array_equal(a[0], b[0])
    counts = np.bincount(a[1].astype(np.int64), minlength=12)
    assert counts.min() > 850 and counts.max() < 1150  # 1000 ± 4.8σ


def test_fixed_validation_probes() -> None:
    grid = make_grid()
    first = fixed_validation_probes(grid, 20, seed=3)
    np.testing.assert_array_equal(first[0], fixed_validation_probes(grid, 20, seed=3)[0])
    assert not np.array_equal(first[1], fixed_validation_probes(grid, 20, seed=4)[1])
    assert (np.diff(first[1]) > 0).all()
    everything = fixed_validation_probes(grid, 10_000, seed=0)
    np.testing.assert_array_equal(everything[1], np.arange(grid.num_points))
