"""Valence electron counts (ZVAL) of a VASP run from its POTCAR or OUTCAR.

A CHGCAR holds the valence (pseudo) density of the PAW data sets in the run's POTCAR; the number of
electrons each atom brings, ZVAL, is not in the CHGCAR but in the POTCAR (and echoed in the OUTCAR): every
data set has a line ``TITEL  = PAW_PBE O 08Apr2002`` and a line ``POMASS =   16.000; ZVAL   =    6.000``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rhograph.errors import DensityFileError
from rhograph.io.compression import COMPRESSIONS, read_bytes

__all__ = ["find_valence_file", "read_zval"]

_TITEL = re.compile(r"^\s*TITEL\s*=\s*\S+\s+(\S+)")
_ZVAL = re.compile(r"ZVAL\s*=\s*([-+0-9.Ee]+)")
_NAMES = ("POTCAR", "OUTCAR")


def read_zval(path: str | os.PathLike[str]) -> dict[str, float]:
    """ZVAL per element from a POTCAR or OUTCAR (``{"O": 6.0, "Li": 3.0}``; ``Li_sv`` → ``Li``).

    Raises:
        DensityFileError: no data set found, a TITEL without a ZVAL, or two data sets of one element with
            different ZVAL (the element's count is then ambiguous).
    """
    text = read_bytes(path).decode("utf-8", errors="replace")
    titles: list[str] = []
    zvals: list[float] = []
    for line in text.splitlines():
        title_match = _TITEL.match(line)
        if title_match:
            titles.append(title_match.group(1))
            continue
        zval_match = _ZVAL.search(line) if "POMASS" in line else None
        if zval_match:
            zvals.append(float(zval_match.group(1)))
    if not titles or len(zvals) < len(titles):
        found = f"{len(titles)} TITEL, {len(zvals)} ZVAL"
        raise DensityFileError(path, f"no PAW data set with TITEL and ZVAL lines ({found})")
    table: dict[str, float] = {}
    for title, zval in zip(titles, zvals, strict=False):
        element = title.split("_")[0].split(".")[0]
        if element in table and table[element] != zval:
            raise DensityFileError(
                path, f"two data sets of {element} with ZVAL {table[element]:g} and {zval:g}: give --valence"
            )
        table[element] = zval
    return table


def find_valence_file(density_path: str | os.PathLike[str]) -> Path | None:
    """The POTCAR (or else OUTCAR) beside a VASP density file, optionally compressed; ``None`` if none."""
    folder = Path(density_path).parent
    for name in _NAMES:
        for suffix in ("", *COMPRESSIONS):
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    return None
