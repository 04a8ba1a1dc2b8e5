"""rhograph: electron density prediction with DeepDFT graph neural networks.

Top-level API (positions in Å, densities in e/Å³; see docs/conventions.md):

* ``predict(structure, model=None, ...) -> DensityGrid`` — the density of an ``ase.Atoms``, a pymatgen
  ``Structure`` / ``Molecule`` or a structure file on a full grid;
* ``predict_to_file(structure, path, model=None, ...)`` — the same, streamed into a cube / CHGCAR / ``.npy`` file
  chunk by chunk (grids of any size in bounded memory);
* ``load_model(name_or_path)`` — a bundled model (``"qm9-painn-delta"``), a checkpoint or a DeepDFT folder;
* ``available_models()`` — the names of the bundled models;
* ``build_model(preset, **overrides)`` — a new, untrained model of a preset (``rhograph models`` lists them);
* ``read_density(path)`` / ``write_density(path, grid)`` — cube, CHGCAR, npz (compressed by suffix);
* ``DensityGrid`` — a structure plus a density grid (``.electrons``, ``.to_pymatgen()``, ``.from_pymatgen()``).

Analysis lives in :mod:`rhograph.analysis` (ε_mae, Bader, comparisons). The names that need torch are
imported lazily, so that file utilities such as ``rhograph info`` start without loading torch.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("rhograph")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from rhograph.io.density_grid import DensityGrid

#: public name -> module that defines it (imported on first access)
_LAZY = {
    "available_models": "rhograph.inference.model_source",
    "build_model": "rhograph.models.presets",
    "load_model": "rhograph.inference.model_source",
    "predict": "rhograph.inference.predict",
    "predict_to_file": "rhograph.inference.predict",
    "read_density": "rhograph.io.formats",
    "write_density": "rhograph.io.formats",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rhograph' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Module attributes including the lazily imported API, for ``dir()``, ``help()`` and tab completion."""
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["DensityGrid", "__version__", *_LAZY]
