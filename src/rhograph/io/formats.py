"""Read and write density files by name: cube, VASP (CHGCAR and friends) and numpy, optionally compressed.

The format comes from the file name after removing a compression suffix (``.gz``, ``.zz``, ``.lz4``,
``.zst``):

=====================================================  =========================================
name                                                   format
=====================================================  =========================================
``*.cube``, ``*.cub``                                  Gaussian cube (Bohr, e/Bohr³)
contains ``CHGCAR``, ``CHG``, ``AECCAR``, ``PARCHG``   VASP, values ρ·V_cell
or ends in ``.vasp``
contains ``LOCPOT``, ``ELFCAR``                        VASP layout, values stored as they are
``*.npz``                                              numpy archive: values, cell, origin, numbers,
                                                       positions, pbc (+ spin and extra fields)
``*.npy``                                              numpy array of the values only (write only)
=====================================================  =========================================
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import ase
import numpy as np

from rhograph.errors import ConfigError, DensityFileError
from rhograph.io.compression import COMPRESSIONS, read_input, split_compression, write_bytes
from rhograph.io.density_grid import DensityGrid

#: human-readable list of accepted names, for error messages
ACCEPTED = (
    "*.cube / *.cub (Gaussian cube), names containing CHGCAR, CHG, AECCAR, PARCHG or ending in .vasp "
    "(VASP ρ·V_cell), LOCPOT / ELFCAR (VASP layout, raw values), *.npz (numpy archive), *.npy (write only); "
    f"each optionally compressed as {', '.join(COMPRESSIONS)}"
)
_VASP_DENSITY = ("chgcar", "aeccar", "parchg")
_VASP_RAW = ("locpot", "elfcar")


def density_format(path: str | os.PathLike[str]) -> str:
    """Format of a file by its name: ``"cube"``, ``"vasp"``, ``"vasp-raw"``, ``"npz"`` or ``"npy"``.

    Raises:
        DensityFileError: a name of no known format (the message lists the accepted ones).
    """
    name, _ = split_compression(Path(path).name)
    lower = name.lower()
    if lower.endswith((".cube", ".cub")):
        return "cube"
    if lower.endswith(".npz"):
        return "npz"
    if lower.endswith(".npy"):
        return "npy"
    if any(key in lower for key in _VASP_DENSITY) or "CHG" in name or lower.endswith(".vasp"):
        return "vasp"
    if any(key in lower for key in _VASP_RAW):
        return "vasp-raw"
    raise DensityFileError(path, f"unknown density file format; accepted: {ACCEPTED}")


def dataset_format(name: str) -> str:
    """DeepDFT dataset rule: cube by name, numpy archives by name, everything else VASP."""
    try:
        fmt = density_format(name)
    except DensityFileError:
        return "vasp"
    return fmt if fmt in ("cube", "npz", "vasp-raw") else "vasp"


def parse_density(data: bytes, fmt: str, source: str, *, pbc: bool | Sequence[bool] | None = None) -> DensityGrid:
    """A grid from the (decompressed) bytes of a file of format ``fmt`` (see :func:`density_format`)."""
    from rhograph.io.chgcar import read_chgcar
    from rhograph.io.cube import read_cube

    if fmt == "cube":
        return read_cube(data, source, pbc=pbc)
    if fmt in ("vasp", "vasp-raw"):
        grid = read_chgcar(data, source, volume_scaled=fmt == "vasp")
    elif fmt == "npz":
        grid = _read_npz(data, source)
    elif fmt == "npy":
        raise DensityFileError(source, "a .npy file holds only the values (no cell or atoms); read a .npz instead")
    else:
        raise ConfigError(f"unknown format {fmt!r}")
    if pbc is not None:
        grid.atoms.pbc = pbc
    return grid


def read_density(path: str | os.PathLike[str], *, pbc: bool | Sequence[bool] | None = None) -> DensityGrid:
    """Read a density file, choosing the format by name (see the module table).

    Args:
        path: the file (optionally compressed).
        pbc: periodicity to give the structure; default: as the format says (VASP and npz files: as
            stored / periodic, cube files: non-periodic).

    Returns:
        the grid in Å and e/Å³.

    Raises:
        DensityFileError: unknown format, missing file, or any problem with its content (names the file).
    """
    fmt = density_format(path)
    data, where = read_input(path)
    return parse_density(data, fmt, where, pbc=pbc)


def write_density(path: str | os.PathLike[str], grid: DensityGrid) -> None:
    """Write ``grid`` in the format given by the file name (compressed by suffix, atomically).

    ``.npy`` holds only the values; ``.npz`` holds values, cell, origin, numbers, positions, pbc, and the
    spin block and ``grid.fields`` when present.
    """
    from rhograph.io.chgcar import chgcar_bytes
    from rhograph.io.cube import cube_bytes

    fmt = density_format(path)
    if fmt == "cube":
        data = cube_bytes(grid)
    elif fmt in ("vasp", "vasp-raw"):
        data = chgcar_bytes(grid, volume_scaled=fmt == "vasp")
    elif fmt == "npy":
        buffer = io.BytesIO()
        np.save(buffer, grid.values)
        data = buffer.getvalue()
    else:
        data = npz_bytes(grid)
    write_bytes(path, data)


def npz_bytes(grid: DensityGrid) -> bytes:
    """A ``.npz`` archive of ``grid`` (uncompressed members; compress the file by suffix if wanted)."""
    arrays = {
        "values": grid.values,
        "cell": grid.cell,
        "origin": grid.origin,
        "numbers": grid.atoms.get_atomic_numbers(),
        "positions": grid.atoms.positions,
        "pbc": np.asarray(grid.atoms.pbc, dtype=bool),
    }
    if grid.spin is not None:
        arrays["spin"] = grid.spin
    for name, array in grid.fields.items():
        if name not in arrays:
            arrays[name] = array
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


_NPZ_REQUIRED = ("values", "cell", "origin", "numbers", "positions", "pbc")


def _read_npz(data: bytes, source: str) -> DensityGrid:
    if not data.startswith(b"PK"):
        raise DensityFileError(source, "not an npz density or label (not a zip archive)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DensityFileError(source, f"not a readable .npz archive ({exc})") from exc
    missing = [name for name in _NPZ_REQUIRED if name not in arrays]
    if missing:
        raise DensityFileError(source, f".npz archive lacks {missing} (needs {list(_NPZ_REQUIRED)})")
    numbers = arrays.pop("numbers")
    positions = arrays.pop("positions")
    if numbers.ndim != 1 or positions.shape != (len(numbers), 3):
        raise DensityFileError(source, f"numbers {numbers.shape} and positions {positions.shape} do not match")
    if len(numbers) == 0:
        raise DensityFileError(source, "empty structure: the file holds 0 atoms")
    if not np.isin(numbers, np.arange(1, 119)).all():
        raise DensityFileError(source, f"unknown element: atomic numbers {sorted(set(numbers.tolist()))}")
    cell = arrays.pop("cell")
    atoms = ase.Atoms(numbers=numbers, positions=positions, cell=cell, pbc=arrays.pop("pbc"))
    grid = DensityGrid(
        atoms=atoms,
        values=arrays.pop("values"),
        cell=cell,
        origin=arrays.pop("origin"),
        spin=arrays.pop("spin", None),
        source=source,
    )
    grid.fields = dict(arrays)
    return grid
