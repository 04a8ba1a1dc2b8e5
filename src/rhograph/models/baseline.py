"""Radial free-atom density tables: what an atomic-density baseline is fitted to.

:class:`AtomicDensityTables` holds ``ρ_Z(r)`` (e/Å³) of spherically averaged free atoms on a radial grid,
with the label settings they were computed with. :func:`rhograph.labels.atoms.free_atom_tables` makes them
with PySCF; they are saved as ``.npz`` and, once a model is built, live inside its checkpoint as spline
buffers (:class:`~rhograph.nn.atomic_density.AtomicDensity`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rhograph.errors import DensityFileError, StructureError
from rhograph.io.atomic import atomic_path

FORMAT = "rhograph-atomic-densities"


@dataclass(frozen=True)
class AtomicDensityTables:
    """Spherical free-atom densities.

    Args:
        elements: atomic numbers, ascending.
        radii: ``(R,)`` Å, from 0 up to at least the model cutoff.
        values: ``(len(elements), R)`` e/Å³.
        settings: the label settings (functional, basis, pseudopotential, ...) and, per element, the spin
            and electron count of the atom calculation.
    """

    elements: tuple[int, ...]
    radii: np.ndarray
    values: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if list(self.elements) != sorted(set(self.elements)):
            raise ValueError(f"elements must be distinct and ascending, got {self.elements}")
        if self.values.shape != (len(self.elements), len(self.radii)):
            raise ValueError(f"values must be (elements, radii) = {(len(self.elements), len(self.radii))}")

    def select(self, elements: tuple[int, ...] | list[int]) -> AtomicDensityTables:
        """The tables of ``elements`` only.

        Raises:
            ValueError: an element has no table.
        """
        wanted = sorted(set(int(z) for z in elements))
        missing = [z for z in wanted if z not in self.elements]
        if missing:
            raise StructureError(f"no free-atom table for Z={missing} (tables cover Z={list(self.elements)})")
        rows = [self.elements.index(z) for z in wanted]
        return AtomicDensityTables(tuple(wanted), self.radii, self.values[rows], dict(self.settings))

    def electrons(self) -> dict[int, float]:
        """``∫ 4π r² ρ_Z(r) dr`` per element (the atom's electrons inside the table's range)."""
        from scipy.integrate import trapezoid

        weight = 4.0 * np.pi * self.radii**2
        rows = zip(self.elements, self.values, strict=True)
        return {z: float(trapezoid(weight * row, self.radii)) for z, row in rows}

    def save(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                format=np.array(FORMAT),
                elements=np.asarray(self.elements, dtype=np.int64),
                radii=self.radii,
                values=self.values,
                settings=np.array(json.dumps(self.settings)),
            )
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AtomicDensityTables:
        """Read tables written by :meth:`save`.

        Raises:
            DensityFileError: not such a file, or damaged.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != FORMAT:
                    raise DensityFileError(path, f"is not a free-atom density table file (format {data['format']})")
                return cls(
                    tuple(int(z) for z in data["elements"]),
                    np.asarray(data["radii"], dtype=np.float64),
                    np.asarray(data["values"], dtype=np.float64),
                    json.loads(str(data["settings"])),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise DensityFileError(path, f"cannot read free-atom density tables: {exc}") from exc


def gaussian_tables(elements: tuple[int, ...], cutoff: float, points: int = 201) -> AtomicDensityTables:
    """Analytic stand-in tables (normalised Gaussians holding Z electrons, width 0.5 Å): for tests and demos
    where no DFT is wanted. Not a physical free-atom density."""
    radii = np.linspace(0.0, cutoff, points)
    width = 0.5
    norm = (2.0 * np.pi * width**2) ** -1.5
    values = np.stack([z * norm * np.exp(-(radii**2) / (2.0 * width**2)) for z in elements])
    return AtomicDensityTables(tuple(elements), radii, values, {"source": "gaussian stand-in (not DFT)"})
