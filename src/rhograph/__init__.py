"""rhograph: electron density prediction with DeepDFT graph neural networks.

The top-level names that need torch (``build_model``, ``load_model``, ``predict``) are imported lazily,
so that file utilities such as ``rhograph info`` start without loading torch.
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
    "build_model": "rhograph.models.presets",
    "load_model": "rhograph.models.checkpoint",
    "predict": "rhograph.inference.predict",
    "read_density": "rhograph.io.formats",
    "write_density": "rhograph.io.formats",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rhograph' has no attribute {name!r}")


__all__ = ["DensityGrid", "__version__", *_LAZY]
