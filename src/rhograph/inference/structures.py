"""Reading input structures for prediction: anything ASE reads, rhograph's density files, pymatgen objects.

Density files (CHGCAR, cube, …) are read with rhograph's own readers so that a reference grid's structure
is taken exactly as stored; every other format (xyz, extxyz, cif, POSCAR/CONTCAR, …) goes through
``ase.io.read``. Errors name the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import ase
import ase.io

from rhograph.errors import DensityFileError, StructureError

_DENSITY_MARKERS = ("CHGCAR", "CHG", "AECCAR", "PARCHG", "ELFCAR", "LOCPOT")
_DENSITY_SUFFIXES = (".cube", ".cub", ".npz")
_COMPRESSION_SUFFIXES = (".gz", ".zz", ".lz4", ".zst")


def is_density_file(path: str | os.PathLike[str]) -> bool:
    """True if the name looks like a density file that rhograph's own readers handle."""
    name = Path(path).name
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.endswith(_DENSITY_SUFFIXES) or any(marker in name for marker in _DENSITY_MARKERS)


def check_structure(atoms: ase.Atoms, source: str) -> ase.Atoms:
    """Validate a structure with the package's one validator (:func:`rhograph.data.graph.validate_atoms`: atoms
    present, elements 1..118, finite positions and cell, a periodic cell with volume); errors name ``source``."""
    from rhograph.data.graph import validate_atoms

    validate_atoms(atoms, source)
    return atoms


def as_atoms(structure: object, source: str | None = None) -> tuple[ase.Atoms, str]:
    """The ASE ``Atoms`` of what a user passed as a structure, and a name for messages.

    Args:
        structure: ``ase.Atoms``; a pymatgen ``Structure`` (periodic) or ``Molecule`` (non-periodic), converted
            with ``pymatgen.io.ase.AseAtomsAdaptor``; or a file path (the last frame, read as
            :func:`read_structures` reads it).
        source: name for messages; default the file path, ``<pymatgen Structure>`` or ``<atoms>``.

    Raises:
        TypeError: anything else. FileNotFoundError / StructureError / DensityFileError: see
            :func:`read_structures`.
    """
    if isinstance(structure, ase.Atoms):
        return structure, source or "<atoms>"
    if isinstance(structure, str | os.PathLike):
        return read_structures(structure)[-1], source or str(structure)
    from rhograph.io.pymatgen_io import atoms_from_pymatgen, is_pymatgen_structure

    if is_pymatgen_structure(structure):
        return atoms_from_pymatgen(structure), source or f"<pymatgen {type(structure).__name__}>"
    raise TypeError(
        f"expected ase.Atoms, a pymatgen Structure / Molecule or a file path, got {type(structure).__name__}"
    )


def read_structures(path: str | os.PathLike[str], index: str | int = -1) -> list[ase.Atoms]:
    """Read one structure (``index=-1``: the last frame) or several (``index=":"``) from a file.

    Raises:
        FileNotFoundError: the file does not exist.
        StructureError / DensityFileError: unreadable file, unknown element, empty structure.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "no such file", str(path))
    if is_density_file(path):
        from rhograph.io.formats import read_density

        frames = [read_density(path).atoms]
    else:
        try:
            result = ase.io.read(path, index=index)
        except (KeyError, ValueError, IndexError, StopIteration) as exc:
            # ASE raises KeyError for unknown element symbols and ValueError/StopIteration for bad files.
            raise StructureError(f"{path}: cannot read structure ({type(exc).__name__}: {exc})") from exc
        except Exception as exc:  # ase.io.formats.UnknownFileTypeError and parser-specific errors
            raise StructureError(f"{path}: cannot read structure ({type(exc).__name__}: {exc})") from exc
        frames = result if isinstance(result, list) else [result]
    if not frames:
        raise DensityFileError(path, "file contains no structure")
    return [check_structure(atoms, str(path)) for atoms in frames]
