"""Shared fixtures of the I/O tests: tiny grids and the fixture folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ase
import numpy as np
import pytest

from rhograph.io.density_grid import DensityGrid

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "io"


@pytest.fixture
def fixtures() -> Path:
    """The folder of hand-written fixture files (tests/fixtures/io)."""
    return FIXTURES


@pytest.fixture
def make_grid() -> Callable[..., DensityGrid]:
    """Factory of small random grids on a skewed periodic cell with three atoms (Si, Si, O)."""

    def make(
        shape: tuple[int, int, int] = (6, 7, 9),
        *,
        spin: bool = False,
        origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
        seed: int = 0,
        pbc: bool = True,
    ) -> DensityGrid:
        rng = np.random.default_rng(seed)
        cell = np.array([[4.0, 0.0, 0.0], [0.5, 5.0, 0.0], [0.2, 0.3, 6.0]])
        atoms = ase.Atoms("Si2O", scaled_positions=rng.random((3, 3)), cell=cell, pbc=pbc)
        atoms.positions += origin
        values = (rng.random(shape) * 2.0).astype(np.float32)
        values.flat[0] = 0.0
        values.flat[1] = 1e-20
        values.flat[2] = 3.5e4
        magnetisation = ((rng.random(shape) - 0.5) * 0.1).astype(np.float32) if spin else None
        return DensityGrid(atoms=atoms, values=values, cell=cell, origin=np.array(origin), spin=magnetisation)

    return make
