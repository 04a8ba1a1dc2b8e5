"""Structures to label: read from files with ASE and named after them.

A file with one structure gives one name (the file name without its extension); a file with several
(extended XYZ, trajectories) gives ``<stem>_00000``, ``<stem>_00001``, …. Names become output file names,
so they must be unique across all inputs.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import ase

from rhograph.errors import DensityFileError, StructureError

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True)
class NamedStructure:
    """A structure with the name its label files get.

    Args:
        name: output name (letters, digits, ``._+-``).
        atoms: the structure (positions Å; ``pbc`` all false = molecule, all true = periodic cell).
        source: the file it came from (for messages), if any.
    """

    name: str
    atoms: ase.Atoms
    source: str | None = None


def safe_name(text: str) -> str:
    """``text`` with characters unsafe in file names replaced by ``_``."""
    return _UNSAFE.sub("_", text) or "structure"


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".bz2", ".xz"):
        name = name.removesuffix(suffix)
    return Path(name).stem if "." in name else name


def read_structures(paths: list[str | os.PathLike[str]]) -> list[NamedStructure]:
    """Read every structure of every file (any format ASE reads: xyz, extxyz, POSCAR, cif, …).

    Raises:
        FileNotFoundError: a file does not exist.
        DensityFileError: ASE cannot read a file, or it holds no structure.
        StructureError: two structures get the same name.
    """
    out: list[NamedStructure] = []
    for item in paths:
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(2, "no such file", os.fspath(path))
        import ase.io

        try:
            frames = ase.io.read(path, index=":")
        except Exception as exc:  # ASE raises many types for unreadable files
            raise DensityFileError(path, f"cannot read a structure ({type(exc).__name__}: {exc})") from exc
        if not isinstance(frames, list):
            frames = [frames]
        if not frames:
            raise DensityFileError(path, "file holds no structure")
        stem = safe_name(_stem(path))
        for i, atoms in enumerate(frames):
            name = stem if len(frames) == 1 else f"{stem}_{i:05d}"
            out.append(NamedStructure(name=name, atoms=atoms, source=os.fspath(path)))
    check_unique(out)
    return out


def check_unique(structures: list[NamedStructure]) -> None:
    """Raise :class:`StructureError` if two structures share a name (their outputs would collide)."""
    counts = Counter(s.name for s in structures)
    duplicates = sorted(name for name, n in counts.items() if n > 1)
    if duplicates:
        raise StructureError(
            f"structure names must be unique (they name the output files); repeated: {duplicates[:10]}"
        )
