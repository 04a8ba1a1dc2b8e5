"""Regular grids over a structure: one type (:class:`GridSpec`) and one builder used by prediction and labelling.

A :class:`GridSpec` is the geometry of a :class:`~rhograph.io.DensityGrid` without values: cell (Å, rows are
spanning vectors), shape ``(N1, N2, N3)`` and origin. Point ``(i, j, k)`` sits at
``origin + (i/N1, j/N2, k/N3) @ cell`` (corner-aligned; docs/conventions.md).

* :func:`grid_shape`: ``ceil(|a_i| / step)`` points along each cell vector (the spacing is at most ``step``);
* :func:`molecule_box`: a molecule's orthorhombic box, its extent plus ``vacuum`` Å on every side.

:func:`rhograph.inference.grids.make_grid` (prediction) and :func:`rhograph.labels.grids.label_geometry`
(labels) both build their grids from these two, so a prediction and a label of the same molecule with the same
step and vacuum have the same box and shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rhograph.io.density_grid import DensityGrid


def grid_shape(cell: np.ndarray, step: float) -> tuple[int, int, int]:
    """Points along each cell vector (rows of ``cell``, Å) so that the spacing is at most ``step`` Å."""
    lengths = np.linalg.norm(np.asarray(cell, dtype=np.float64), axis=1)
    n1, n2, n3 = (max(1, math.ceil(length / step - 1e-9)) for length in lengths)
    return (n1, n2, n3)


def molecule_box(positions: np.ndarray, vacuum: float) -> tuple[np.ndarray, np.ndarray]:
    """Orthorhombic box of a molecule: extent plus ``vacuum`` Å on each side.

    Returns:
        cell ``(3, 3)`` Å (diagonal) and origin ``(3,)`` Å (the lower corner).
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    lower = positions.min(axis=0) - vacuum
    upper = positions.max(axis=0) + vacuum
    lengths = np.maximum(upper - lower, 1e-3)
    return np.diag(lengths), lower


@dataclass(frozen=True)
class GridSpec:
    """Geometry of a regular grid.

    Args:
        cell: (3, 3) Å, rows are the vectors spanned by the whole grid.
        shape: (N1, N2, N3) points per axis.
        origin: (3,) Å, position of point (0, 0, 0).
    """

    cell: np.ndarray
    shape: tuple[int, int, int]
    origin: np.ndarray

    @property
    def num_points(self) -> int:
        return int(np.prod(self.shape))

    @property
    def voxel_vectors(self) -> np.ndarray:
        """(3, 3) Å, row a = cell[a] / N_a."""
        return np.asarray(self.cell) / np.asarray(self.shape, dtype=np.float64)[:, None]

    def positions(self, start: int, stop: int) -> np.ndarray:
        """Cartesian positions (Å) of the flat (C-order) grid points ``start..stop-1``, shape (stop-start, 3)."""
        from rhograph.data.grid_neighbors import grid_points

        return grid_points(self.cell, self.shape, self.origin, range(start, stop))

    @classmethod
    def of(cls, grid: DensityGrid) -> GridSpec:
        """The grid of an existing density file."""
        assert grid.cell is not None
        return cls(cell=grid.cell.copy(), shape=grid.shape, origin=grid.origin.copy())
