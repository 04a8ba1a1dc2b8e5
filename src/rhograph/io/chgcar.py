"""VASP volumetric files (CHGCAR, CHG, AECCAR*, PARCHG) as :class:`~rhograph.io.DensityGrid`.

Layout of a CHGCAR (see ``docs/conventions.md``)::

    comment
    scale                      (one number; negative = target cell volume in Å³; or three per-axis factors)
    a1x a1y a1z                (lattice vectors, rows, Å before scaling)
    a2x a2y a2z
    a3x a3y a3z
    O H                        (VASP 5 element names; absent in VASP 4 files)
    1 2                        (atoms per species)
    [Selective dynamics]
    Direct | Cartesian
    x y z ...                  (one line per atom)
    <blank>
    N1 N2 N3
    ρ·V_cell values, first index fastest (Fortran order), usually 5 per line
    [augmentation occupancies ...]           (PAW; skipped)
    [<magnetic moments line>] N1 N2 N3       (spin-polarised files: magnetisation block follows)
    (ρ↑ − ρ↓)·V_cell values

Stored values are ρ·V_cell (electrons per cell); the reader divides by the cell volume to give e/Å³ and
the writer multiplies. The whole value block is converted with vectorised numpy (see ``_numtext``).
"""

from __future__ import annotations

import logging
import os
import re
from typing import IO

import ase
import numpy as np
from ase.data import atomic_numbers

from rhograph.errors import DensityFileError
from rhograph.io._numtext import LineCursor, format_block, parse_block
from rhograph.io.compression import read_input, write_bytes
from rhograph.io.density_grid import DensityGrid

log = logging.getLogger(__name__)

#: values per line written by :func:`write_chgcar` (as VASP does)
VALUES_PER_LINE = 5


def _element(name: str) -> str:
    """VASP 5/6 species label (``Fe_pv``, ``O_s/…``) → element symbol."""
    return re.split(r"[_/.:]", name, maxsplit=1)[0]


def _check_symbols(header: LineCursor, symbols: list[str]) -> None:
    for symbol in symbols:
        if symbol not in atomic_numbers or symbol == "X":
            raise header.error(f"unknown element symbol {symbol!r}")


def _read_structure(header: LineCursor) -> tuple[ase.Atoms, tuple[int, int, int]]:
    """Parse the POSCAR part and the grid dimensions line; leaves the cursor at the first value."""
    comment = header.line("comment line")
    scale = header.floats("scale factor line", minimum=1)
    scale_line = header.lineno  # errors about the scale name its line, not the lattice line read after it

    def scale_error(problem: str) -> DensityFileError:
        return DensityFileError(header.source, f"line {scale_line}: {problem}")

    lattice = np.array([header.floats(f"lattice vector {i + 1}", 3) for i in range(3)])
    if len(scale) >= 3:
        if min(scale[:3]) <= 0:
            raise scale_error("three scale factors must all be positive")
        lattice = lattice * np.array(scale[:3])[None, :]
        factor = np.array(scale[:3])
    else:
        s = scale[0]
        if s < 0:
            raw_volume = abs(np.linalg.det(lattice))
            if raw_volume == 0:
                raise scale_error(
                    "a negative scale asks for a cell volume, but the lattice (lines 3-5) has zero volume"
                )
            s = (-s / raw_volume) ** (1.0 / 3.0)
        elif s == 0:
            raise scale_error("scale factor is zero")
        lattice = lattice * s
        factor = np.full(3, s)
    volume = float(np.linalg.det(lattice))
    if not volume > 0:
        raise DensityFileError(
            header.source, f"cell volume must be positive (right-handed lattice), got {volume:.6g} Å^3"
        )

    line = header.line("element names or atom counts")
    tokens = line.split()
    vasp5 = bool(tokens) and not tokens[0].lstrip("+").isdigit()
    if vasp5:  # element names line
        symbols = [_element(t) for t in tokens]
        _check_symbols(header, symbols)
        tokens = header.line("atom counts").split()
    else:  # VASP 4: no names line; the comment line is the only place left to find them
        symbols = [_element(t) for t in comment.split()]
    try:
        counts = [int(t) for t in tokens]
    except ValueError as exc:
        raise header.error(f"atom counts: expected integers, got {' '.join(tokens)!r}") from exc
    if not counts or min(counts) < 0:
        raise header.error(f"atom counts must be non-negative integers, got {tokens}")
    if sum(counts) == 0:
        raise DensityFileError(header.source, "empty structure: the file holds 0 atoms")
    if vasp5 and len(symbols) != len(counts):
        raise header.error(f"{len(symbols)} element names but {len(counts)} atom counts")
    if not vasp5 and (len(symbols) != len(counts) or any(s not in atomic_numbers or s == "X" for s in symbols)):
        raise DensityFileError(
            header.source,
            f"no element names: this is a VASP 4 file without the element line, and the comment line "
            f"{comment!r} does not list {len(counts)} element symbols; add a line with the element "
            "names (VASP 5 format) above the atom counts",
        )

    mode = header.line("coordinate mode")
    if mode[:1] in ("S", "s"):  # selective dynamics
        mode = header.line("coordinate mode")
    cartesian = mode[:1] in ("C", "c", "K", "k")
    natoms = sum(counts)
    coords = np.array([header.floats(f"position of atom {i + 1}", 3) for i in range(natoms)])
    positions = coords * factor[None, :] if cartesian else coords @ lattice
    numbers = np.repeat([atomic_numbers[s] for s in symbols], counts)
    atoms = ase.Atoms(numbers=numbers, positions=positions, cell=lattice, pbc=True)

    line = header.line("grid dimensions")
    while not line:
        line = header.line("grid dimensions")
    try:
        dims = [int(t) for t in line.split()]
    except ValueError as exc:
        raise header.error(f"expected the grid dimensions N1 N2 N3, got {line!r}") from exc
    if len(dims) != 3 or min(dims) < 1:
        raise header.error(f"expected three positive grid dimensions N1 N2 N3, got {line!r}")
    return atoms, (dims[0], dims[1], dims[2])


def _read_values(
    data: memoryview, start: int, dims: tuple[int, int, int], volume: float, source: str, what: str
) -> tuple[np.ndarray, int]:
    """One Fortran-ordered block of ρ·V → (C-ordered float32 ρ, shape (N1, N2, N3); offset after the block)."""
    count = dims[0] * dims[1] * dims[2]
    try:
        flat, used = parse_block(data[start:], count)
    except ValueError as exc:
        raise DensityFileError(
            source, f"{what}: cannot read {count} = {dims[0]}×{dims[1]}×{dims[2]} values ({exc})"
        ) from exc
    flat /= volume
    block = np.ascontiguousarray(flat.astype(np.float32).reshape(dims[::-1]).transpose(2, 1, 0))  # F → C order
    return block, start + used


def read_chgcar(
    file: str | os.PathLike[str] | bytes | IO[bytes], source: str | None = None, *, volume_scaled: bool = True
) -> DensityGrid:
    """Read a VASP CHGCAR / CHG / AECCAR / PARCHG file.

    Args:
        file: a path (decompressed by suffix ``.gz``/``.zz``/``.lz4``/``.zst``), the file's bytes, or a
            binary file object.
        source: name used in error messages and stored as ``grid.source`` (default: the path).
        volume_scaled: the file stores ρ·V_cell (CHGCAR and friends, default); ``False`` for files that
            store the field itself (LOCPOT, ELFCAR), whose values are then returned unchanged.

    Returns:
        a :class:`DensityGrid` with ``pbc = True``, origin 0, ``cell = atoms.cell``; the magnetisation
        block of a spin-polarised file (if exactly one follows) as ``grid.spin``.

    Shapes:
        values, spin: ``(N1, N2, N3)`` float32 in e/Å³ (C order, ``values[i, j, k]`` at ``(i/N1, j/N2, k/N3)``).

    Raises:
        DensityFileError: missing file, malformed header, unknown element, no atoms, non-positive volume,
            too few or unparsable values, NaN/inf values.
    """
    data, where = read_input(file, source)
    header = LineCursor(data, where)
    atoms, dims = _read_structure(header)
    view = memoryview(data)
    volume = atoms.get_volume() if volume_scaled else 1.0
    total, end = _read_values(view, header.pos, dims, volume, where, "density block")

    # a spin-polarised file repeats the dimension line before each magnetisation block; PAW augmentation
    # occupancies (and a line of magnetic moments) in between are skipped
    dims_line = re.compile(rb"^[ \t]*%d[ \t]+%d[ \t]+%d[ \t]*\r?$" % dims, re.MULTILINE)
    blocks: list[np.ndarray] = []
    start = _next_block(data, end, dims_line, where, dims)
    while start is not None:
        block, end = _read_values(view, start, dims, volume, where, f"magnetisation block {len(blocks) + 1}")
        blocks.append(block)
        start = _next_block(data, end, dims_line, where, dims)
    spin = None
    if len(blocks) == 1:
        spin = blocks[0]
    elif blocks:
        log.info("%s: %d magnetisation blocks (non-collinear); only the total density is read", where, len(blocks))
    return DensityGrid(atoms=atoms, values=total, cell=atoms.cell.array.copy(), spin=spin, source=where)


_NON_SPACE = re.compile(rb"\S")
_NON_NUMERIC_LINE = re.compile(rb"^(?![ \t]*augmentation)[^\n]*[A-DF-Za-df-z]", re.MULTILINE)


def _next_block(data: bytes, end: int, dims_line: re.Pattern, source: str, dims: tuple) -> int | None:
    """Start of the next magnetisation block after a block ending at ``end``, or ``None``.

    Between two blocks only augmentation occupancies and lines of numbers (magnetic moments) may appear;
    a text line (the header of a further CHG snapshot) ends the file's first structure. Numbers directly
    after a block with no block following mean the grid is smaller than the data (an error).
    """
    match = dims_line.search(data, end)
    if match is not None and _NON_NUMERIC_LINE.search(data, end, match.start()) is None:
        return match.end() + 1
    text = _NON_SPACE.search(data, end)
    if text is None:
        return None
    line_end = data.find(b"\n", text.start())
    first_line = data[text.start() : line_end if line_end >= 0 else len(data)]
    if not first_line.startswith(b"augmentation") and not _NON_NUMERIC_LINE.match(first_line):
        raise DensityFileError(
            source,
            f"more numbers follow the {dims[0]}×{dims[1]}×{dims[2]} grid values "
            f"({first_line[:40].decode('ascii', 'replace')!r}…): the grid dimensions do not match the data",
        )
    return None


def _species_runs(symbols: list[str]) -> tuple[list[str], list[int]]:
    """Consecutive runs of equal symbols (VASP lists atoms species by species, in file order)."""
    names: list[str] = []
    counts: list[int] = []
    for s in symbols:
        if names and names[-1] == s:
            counts[-1] += 1
        else:
            names.append(s)
            counts.append(1)
    return names, counts


def chgcar_header(
    atoms: ase.Atoms,
    cell: np.ndarray,
    origin: np.ndarray,
    shape: tuple[int, int, int],
    *,
    comment: str | None = None,
    source: str | None = None,
) -> bytes:
    """The structure and grid-shape lines of a VASP 5 CHGCAR whose lattice is the grid ``cell`` (Å); atoms are
    written relative to the grid ``origin``."""
    if len(atoms) == 0:
        raise DensityFileError(source or "<density grid>", "cannot write a CHGCAR of an empty structure")
    names, counts = _species_runs(atoms.get_chemical_symbols())
    frac = np.linalg.solve(np.asarray(cell).T, (atoms.positions - origin).T).T
    lines = [
        comment if comment is not None else " ".join(names),
        "   1.00000000000000",
        *(" " + "".join(f"{x:22.16f}" for x in row) for row in cell),
        "".join(f"{n:>5s}" for n in names),
        "".join(f"{c:5d}" for c in counts),
        "Direct",
        *("".join(f"{x:20.16f}" for x in row) for row in frac),
        "",
        "".join(f"{n:5d}" for n in shape),
        "",
    ]
    return "\n".join(lines).encode("ascii")


def chgcar_bytes(grid: DensityGrid, *, volume_scaled: bool = True, comment: str | None = None) -> bytes:
    """The text of a VASP 5 CHGCAR holding ``grid`` (see :func:`write_chgcar`)."""
    assert grid.cell is not None
    header = chgcar_header(grid.atoms, grid.cell, grid.origin, grid.shape, comment=comment, source=grid.source)
    volume = grid.cell_volume if volume_scaled else 1.0
    parts = [header, _block(grid.values, volume)]
    if grid.spin is not None:
        parts += ["".join(f"{n:5d}" for n in grid.shape).encode("ascii") + b"\n", _block(grid.spin, volume)]
    return b"".join(parts)


def _block(values: np.ndarray, volume: float) -> bytes:
    return chgcar_values(values.ravel(order="F"), volume)  # Fortran order: first index fastest


def chgcar_values(flat: np.ndarray, volume: float) -> bytes:
    """CHGCAR text of densities (e/Å³) already in file (Fortran) order, written as ρ·``volume``, 5 per line."""
    return format_block(
        np.asarray(flat, dtype=np.float64) * volume, per_line=VALUES_PER_LINE, digits=11, vasp_style=True
    )


def write_chgcar(
    path: str | os.PathLike[str], grid: DensityGrid, *, volume_scaled: bool = True, comment: str | None = None
) -> None:
    """Write ``grid`` as a VASP 5 CHGCAR (element names line, Direct coordinates, 5 values per line).

    The lattice is the grid cell; a non-zero grid origin (cube files) is removed by translating the atoms
    by ``-origin``, so the density relative to the atoms is unchanged. ``grid.spin`` is written as the
    magnetisation block. No augmentation occupancies are written. Compressed by suffix; written atomically.

    Args:
        path: output file.
        grid: the density (e/Å³).
        volume_scaled: write ρ·V_cell (default, CHGCAR convention); ``False`` writes the values as they are.
        comment: first line; defaults to the element names.
    """
    write_bytes(path, chgcar_bytes(grid, volume_scaled=volume_scaled, comment=comment))
