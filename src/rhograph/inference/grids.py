"""Prediction grids: where on space a density is evaluated.

A :class:`GridSpec` is the geometry of a :class:`~rhograph.io.DensityGrid` without values: cell (Å, rows are
spanning vectors), shape ``(N1, N2, N3)`` and origin. Point ``(i, j, k)`` sits at
``origin + (i/N1, j/N2, k/N3) @ cell`` (corner-aligned; docs/conventions.md).

How a structure gets its grid (:func:`make_grid`):

* molecule (no periodic direction): the atoms are centred in an orthorhombic box with ``vacuum`` Å on every side
  (as the DeepDFT QM9 cells), grid of ``grid_step`` Å (rounded up to a whole number of voxels per axis);
* periodic or partly periodic cell: the structure's own cell, ``ceil(|a_i| / grid_step)`` points per axis, or an
  explicit ``shape``;
* ``like=DensityGrid``: exactly the grid of a reference file, so that predictions compare voxel by voxel.
"""

from __future__ import annotations

import ase
import numpy as np

from rhograph.data.grid_geometry import GridSpec, grid_shape, molecule_box
from rhograph.errors import ConfigError, StructureError
from rhograph.io.density_grid import DensityGrid

__all__ = ["GridSpec", "make_grid", "resolve_pbc"]


def resolve_pbc(atoms: ase.Atoms, pbc: str) -> ase.Atoms:
    """Apply ``--pbc auto|on|off`` to a copy of ``atoms``.

    ``auto`` keeps the structure's periodicity; ``on`` requires a full-rank cell; ``off`` treats it as a molecule.
    """
    atoms = atoms.copy()
    if pbc == "auto":
        pass
    elif pbc == "on":
        if atoms.cell.rank < 3:
            raise StructureError("--pbc on needs a structure with a full 3-D cell; this one has none")
        atoms.pbc = True
    elif pbc == "off":
        atoms.pbc = False
    else:
        raise ConfigError(f"pbc={pbc!r} is not allowed; choose one of ['auto', 'on', 'off']")
    if atoms.pbc.any() and atoms.cell.rank < 3:
        raise StructureError(
            f"structure is periodic along {atoms.pbc.tolist()} but its cell has rank {atoms.cell.rank}; "
            "give a full cell or use --pbc off"
        )
    return atoms


def make_grid(
    atoms: ase.Atoms,
    *,
    grid_step: float = 0.1,
    vacuum: float = 4.0,
    shape: tuple[int, int, int] | None = None,
    like: DensityGrid | None = None,
) -> tuple[ase.Atoms, GridSpec]:
    """Choose the prediction grid for a structure.

    Args:
        atoms: the structure; molecules (``pbc`` all False) are centred in a new box (returned copy).
        grid_step: target spacing in Å (ignored with ``shape`` or ``like``).
        vacuum: Å of empty space around a molecule on every side.
        shape: explicit (N1, N2, N3).
        like: take cell, shape and origin from this grid (its atoms are not used; ``atoms`` is kept as is).

    Returns:
        (atoms to predict for, grid spec). For molecules the atoms are translated so that the box starts at
        the origin, which makes the result writable both as cube and as CHGCAR.
    """
    if grid_step <= 0:
        raise ConfigError(f"grid_step must be > 0 Å, got {grid_step}")
    if vacuum < 0:
        raise ConfigError(f"vacuum must be >= 0 Å, got {vacuum}")
    atoms = atoms.copy()
    if like is not None:
        return atoms, GridSpec.of(like)
    if not atoms.pbc.any():
        extent = np.ptp(atoms.positions, axis=0) + 2 * vacuum
        # A single atom with zero vacuum would give a zero-width box.
        if np.any(extent <= 0):
            raise StructureError("molecular box has zero width; use a positive --vacuum")
        box, lower = molecule_box(atoms.positions, vacuum)  # the box of the labels (rhograph.labels.grids)
        atoms.positions = atoms.positions - lower
        atoms.cell = box
    cell = np.array(atoms.cell.array, dtype=np.float64)
    if shape is None:
        shape = grid_shape(cell, grid_step)
    shape = tuple(int(n) for n in shape)  # type: ignore[assignment]
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(f"grid shape must be three positive integers, got {shape}")
    return atoms, GridSpec(cell=cell, shape=shape, origin=np.zeros(3))  # type: ignore[arg-type]
