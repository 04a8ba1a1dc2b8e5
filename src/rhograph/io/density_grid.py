"""The :class:`DensityGrid` data object: a structure plus a scalar field on a regular grid.

Conventions (see ``docs/conventions.md``):

* positions, cell and origin in Å; density values in e/Å³ (float32);
* ``values[i, j, k]`` sits at ``origin + (i/N1, j/N2, k/N3) @ cell`` — corner-aligned, no half-voxel
  shift, C (row-major) order of the array, ``i`` along the first cell vector;
* the grid cell may differ from ``atoms.cell`` (cube files of molecules); for CHGCARs it is the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ase
import numpy as np

from rhograph.errors import DensityFileError


@dataclass
class DensityGrid:
    """Electron density on a regular grid, with the structure that produced it.

    Args:
        atoms: the structure (positions Å; ``atoms.pbc`` says which directions are periodic).
        values: total density in e/Å³, shape ``(N1, N2, N3)``, float32.
        cell: grid cell in Å, shape ``(3, 3)``, rows are the spanning vectors (the grid covers
            ``N1`` voxels along row 0 etc.). Defaults to ``atoms.cell``.
        origin: Cartesian position of grid point ``(0, 0, 0)`` in Å, shape ``(3,)``.
        spin: optional magnetisation density ρ↑ − ρ↓ in e/Å³, same shape as ``values``.
        source: file the grid was read from (used in error messages), if any.
        fields: further per-voxel fields on the same grid, e.g. a predicted ``gradient`` of shape
            ``(N1, N2, N3, 3)`` in e/Å⁴ or ``iri`` of shape ``(N1, N2, N3)``; written beside the density.

    Raises:
        DensityFileError: non-3D or empty values, NaN/inf values, a non-positive cell volume, or a
            spin block of another shape.
    """

    atoms: ase.Atoms
    values: np.ndarray
    cell: np.ndarray | None = None
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    spin: np.ndarray | None = None
    source: str | None = None
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = self.source or "<density grid>"
        self.values = np.asarray(self.values, dtype=np.float32)
        if self.values.ndim != 3 or min(self.values.shape) < 1:
            raise DensityFileError(where, f"density grid must be 3-D and non-empty, got shape {self.values.shape}")
        if not np.isfinite(self.values).all():
            bad = int((~np.isfinite(self.values)).sum())
            raise DensityFileError(where, f"density contains {bad} NaN/inf values")
        if self.cell is None:
            self.cell = np.array(self.atoms.cell.array, dtype=np.float64)
        self.cell = np.asarray(self.cell, dtype=np.float64).reshape(3, 3)
        if not np.isfinite(self.cell).all():
            raise DensityFileError(where, "grid cell contains NaN/inf")
        volume = float(np.linalg.det(self.cell))
        if not volume > 0.0:
            raise DensityFileError(
                where, f"grid cell volume must be positive (right-handed cell), got {volume:.6g} Å^3"
            )
        self.origin = np.asarray(self.origin, dtype=np.float64).reshape(3)
        if self.spin is not None:
            self.spin = np.asarray(self.spin, dtype=np.float32)
            if self.spin.shape != self.values.shape:
                raise DensityFileError(
                    where,
                    f"spin block shape {self.spin.shape} differs from density shape {self.values.shape}",
                )
            if not np.isfinite(self.spin).all():
                raise DensityFileError(where, "spin density contains NaN/inf values")

    # ------------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape ``(N1, N2, N3)``."""
        n1, n2, n3 = self.values.shape
        return (n1, n2, n3)

    @property
    def num_points(self) -> int:
        return int(self.values.size)

    @property
    def pbc(self) -> np.ndarray:
        """Periodicity of the structure, shape ``(3,)`` bool."""
        return np.asarray(self.atoms.pbc, dtype=bool)

    @property
    def cell_volume(self) -> float:
        """Volume of the grid cell in Å³."""
        assert self.cell is not None
        return float(abs(np.linalg.det(self.cell)))

    @property
    def voxel_volume(self) -> float:
        """Volume of one voxel in Å³."""
        return self.cell_volume / self.num_points

    @property
    def voxel_vectors(self) -> np.ndarray:
        """Voxel step vectors in Å, shape ``(3, 3)``, row ``a`` = ``cell[a] / N_a``."""
        assert self.cell is not None
        return self.cell / np.asarray(self.shape, dtype=np.float64)[:, None]

    def grid_positions(self, flat_indices: np.ndarray | None = None) -> np.ndarray:
        """Cartesian positions (Å) of grid points.

        Args:
            flat_indices: indices into ``values.ravel()`` (C order); all points if ``None``.

        Returns:
            positions, shape ``(len(flat_indices), 3)`` or ``(N1*N2*N3, 3)``, float64.
        """
        if flat_indices is None:
            flat_indices = np.arange(self.num_points)
        ijk = np.stack(np.unravel_index(np.asarray(flat_indices), self.shape), axis=-1)
        return ijk.astype(np.float64) @ self.voxel_vectors + self.origin

    # ------------------------------------------------------------------ integrals
    @property
    def electrons(self) -> float:
        """∫ρ dV in electrons (sum of values times voxel volume, float64 accumulation)."""
        return float(self.values.sum(dtype=np.float64) * self.voxel_volume)

    def summary(self) -> dict:
        """A JSON-ready description: shape, cell, origin, pbc, symbols, electrons, min, max."""
        assert self.cell is not None
        return {
            "file": self.source,
            "shape": list(self.shape),
            "cell": self.cell.tolist(),
            "origin": self.origin.tolist(),
            "pbc": [bool(p) for p in self.pbc],
            "symbols": self.atoms.get_chemical_symbols(),
            "natoms": len(self.atoms),
            "electrons": self.electrons,
            "min": float(self.values.min()),
            "max": float(self.values.max()),
            "spin": self.spin is not None,
        }

    def with_values(self, values: np.ndarray, spin: np.ndarray | None = None) -> DensityGrid:
        """A copy on the same grid and structure with other values (e.g. a prediction)."""
        return DensityGrid(
            atoms=self.atoms.copy(),
            values=values,
            cell=None if self.cell is None else self.cell.copy(),
            origin=self.origin.copy(),
            spin=spin,
            source=None,
        )

    @property
    def name(self) -> str:
        """Short name (file name without directory) for tables and plots."""
        return Path(self.source).name if self.source else "density"

    # ------------------------------------------------------------------ pymatgen
    def to_pymatgen(self) -> Any:
        """This grid as a pymatgen ``Chgcar`` (needs pymatgen: ``pip install rhograph[pymatgen]``).

        pymatgen keeps the CHGCAR convention: ``data["total"]`` is ``ρ·V_cell`` (e per cell), so
        ``data["total"].sum() / ngridpts`` equals :attr:`electrons`; the magnetisation goes to ``data["diff"]``.
        The lattice is the grid cell; a non-zero origin is removed by translating the atoms by ``−origin``.
        """
        from rhograph.io.pymatgen_io import grid_to_pymatgen

        return grid_to_pymatgen(self)

    @classmethod
    def from_pymatgen(cls, obj: Any, *, volume_scaled: bool | None = None) -> DensityGrid:
        """A grid from a pymatgen ``VolumetricData`` (``Chgcar``: ``ρ·V_cell`` divided by the cell volume).

        See :func:`rhograph.io.pymatgen_io.grid_from_pymatgen` for ``volume_scaled`` and other types.
        """
        from rhograph.io.pymatgen_io import grid_from_pymatgen

        return grid_from_pymatgen(obj, volume_scaled=volume_scaled)
