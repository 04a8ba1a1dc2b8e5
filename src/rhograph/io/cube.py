"""Gaussian cube files as :class:`~rhograph.io.DensityGrid`.

Layout (see ``docs/conventions.md``)::

    comment 1
    comment 2
    natoms  ox oy oz  [nval]          origin (Bohr); natoms < 0 marks an orbital (DSET_IDS) cube
    N1  v1x v1y v1z                   voxel step vectors (Bohr); N < 0 means the file is in Å
    N2  v2x v2y v2z
    N3  v3x v3y v3z
    Z  charge  x y z                  one line per atom (Bohr)
    values in e/Bohr³, C order (last index fastest), 6 per line, a new line after every N3 values

Grid point ``(i, j, k)`` sits at ``origin + i·v1 + j·v2 + k·v3``, so the grid cell is ``(N1·v1, N2·v2,
N3·v3)``, corner-aligned as everywhere in rhograph. Cube files carry no periodicity: they are read as
non-periodic unless ``pbc`` says otherwise, with ``atoms.cell`` set to the grid cell.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO

import ase
import numpy as np
from ase.units import Bohr

from rhograph.errors import DensityFileError
from rhograph.io._numtext import LineCursor, format_block, parse_block
from rhograph.io.compression import read_input, write_bytes
from rhograph.io.density_grid import DensityGrid

#: values per line written by :func:`write_cube` (Gaussian convention)
VALUES_PER_LINE = 6


def read_cube(
    file: str | os.PathLike[str] | bytes | IO[bytes],
    source: str | None = None,
    *,
    pbc: bool | Sequence[bool] | None = None,
) -> DensityGrid:
    """Read a Gaussian cube file of a density.

    Args:
        file: a path (decompressed by suffix), the file's bytes, or a binary file object.
        source: name for error messages and ``grid.source`` (default: the path).
        pbc: periodicity to give the structure (default ``False``: cube files do not record it).

    Returns:
        a :class:`DensityGrid` in Å and e/Å³; ``atoms.cell`` is the grid cell.

    Shapes:
        values: ``(N1, N2, N3)`` float32 in e/Å³; cell ``(3, 3)`` Å; origin ``(3,)`` Å.

    Raises:
        DensityFileError: missing file, malformed header, orbital (negative atom count) or multi-valued
            cube, unknown element, no atoms, non-positive volume, too few or unparsable values, NaN/inf.
    """
    data, where = read_input(file, source)
    header = LineCursor(data, where)
    header.line("first comment line")
    header.line("second comment line")
    first = header.floats("atom count and origin line", minimum=4)
    natoms = int(first[0])
    if natoms != first[0]:
        raise header.error(f"atom count must be an integer, got {first[0]}")
    if natoms < 0:
        raise DensityFileError(
            where,
            "negative atom count: this is an orbital cube file (DSET_IDS / molecular-orbital values), "
            "not a density; write the density cube instead",
        )
    if natoms == 0:
        raise DensityFileError(where, "empty structure: the file holds 0 atoms")
    if len(first) > 4 and int(first[4]) != 1:
        raise header.error(f"{int(first[4])} values per voxel; only single-valued density cubes are read")
    axes = [header.floats(f"grid axis {i + 1}", 4) for i in range(3)]
    counts = [int(a[0]) for a in axes]
    if any(c != a[0] for c, a in zip(counts, axes, strict=True)) or 0 in counts:
        raise header.error(f"voxel counts must be non-zero integers, got {[a[0] for a in axes]}")
    if len({c > 0 for c in counts}) > 1:
        raise header.error(f"voxel counts mix Bohr (positive) and Å (negative) units: {counts}")
    length = Bohr if counts[0] > 0 else 1.0  # Å per file length unit
    shape = (abs(counts[0]), abs(counts[1]), abs(counts[2]))
    steps = np.array([a[1:] for a in axes]) * length  # (3, 3) voxel vectors, Å
    origin = np.array(first[1:4]) * length
    atom_lines = np.array([header.floats(f"atom {i + 1}", 5) for i in range(natoms)])
    numbers = atom_lines[:, 0]
    bad = [z for z in numbers if z != int(z) or not 1 <= z <= 118]
    if bad:
        raise DensityFileError(where, f"unknown element: atomic number {bad[0]:g} (expected 1–118)")
    cell = steps * np.array(shape, dtype=np.float64)[:, None]
    volume = float(np.linalg.det(cell))
    if not volume > 0:
        raise DensityFileError(where, f"grid cell volume must be positive (right-handed axes), got {volume:.6g} Å^3")

    count = shape[0] * shape[1] * shape[2]
    try:
        flat, used = parse_block(memoryview(data)[header.pos :], count, record=shape[2])
    except ValueError as exc:
        raise DensityFileError(
            where, f"cannot read {count} = {shape[0]}×{shape[1]}×{shape[2]} density values ({exc})"
        ) from exc
    if data[header.pos + used :].strip():
        raise DensityFileError(
            where,
            f"more data follows the {shape[0]}×{shape[1]}×{shape[2]} grid values: the grid dimensions do not "
            "match the data",
        )
    values = (flat / length**3).astype(np.float32).reshape(shape)
    atoms = ase.Atoms(
        numbers=numbers.astype(int),
        positions=atom_lines[:, 2:5] * length,
        cell=cell,
        pbc=False if pbc is None else pbc,
    )
    return DensityGrid(atoms=atoms, values=values, cell=cell, origin=origin, source=where)


def cube_header(
    atoms: ase.Atoms,
    cell: np.ndarray,
    origin: np.ndarray,
    shape: tuple[int, int, int],
    *,
    comment: str | None = None,
    source: str | None = None,
) -> bytes:
    """The header of a cube file (Bohr) for a grid of ``shape`` spanning ``cell`` from ``origin`` (Å)."""
    if len(atoms) == 0:
        raise DensityFileError(source or "<density grid>", "cannot write a cube file of an empty structure")
    steps = np.asarray(cell) / np.asarray(shape, dtype=np.float64)[:, None] / Bohr
    origin = np.asarray(origin) / Bohr

    def vec(v: np.ndarray) -> str:
        return "".join(f"{x:16.10f}" for x in v)

    lines = [
        comment if comment is not None else f"{atoms.get_chemical_formula()} electron density (rhograph)",
        "units: Bohr, e/Bohr^3; values in C order (z fastest)",
        f"{len(atoms):5d}{vec(origin)}",
        *(f"{n:5d}{vec(step)}" for n, step in zip(shape, steps, strict=True)),
        *(f"{z:5d}{float(z):16.10f}{vec(pos)}" for z, pos in zip(atoms.numbers, atoms.positions / Bohr, strict=True)),
        "",
    ]
    return "\n".join(lines).encode("ascii")


def cube_values(values: np.ndarray, record: int) -> bytes:
    """Cube text of whole records (rows of ``record`` = N3 values) of densities in e/Å³, written in e/Bohr³."""
    return format_block(
        np.asarray(values, dtype=np.float64) * Bohr**3,
        per_line=VALUES_PER_LINE,
        digits=9,
        vasp_style=False,
        record=record,
    )


def cube_bytes(grid: DensityGrid, *, comment: str | None = None) -> bytes:
    """The text of a cube file (Bohr, e/Bohr³) holding ``grid`` (see :func:`write_cube`)."""
    assert grid.cell is not None
    header = cube_header(grid.atoms, grid.cell, grid.origin, grid.shape, comment=comment, source=grid.source)
    return header + cube_values(grid.values, grid.shape[2])


def write_cube(path: str | os.PathLike[str], grid: DensityGrid, *, comment: str | None = None) -> None:
    """Write ``grid`` as a Gaussian cube file in Bohr and e/Bohr³.

    Values are written with 9 significant digits, enough to read back the same float32 numbers. The
    periodicity and the spin block are not part of the format and are dropped. Compressed by suffix;
    written atomically.

    Args:
        path: output file.
        grid: the density (e/Å³).
        comment: first comment line; defaults to the formula.
    """
    write_bytes(path, cube_bytes(grid, comment=comment))
