"""The manifest of a label directory (``OUT_DIR/manifest.json``): settings and one entry per structure.

::

    {"format": "rhograph-labels", "version": 1, "rhograph": "0.1.0", "pyscf": "2.14.0",
     "settings": {...density settings...},
     "structures": {"water": {"status": "done", "converged": true, "energy_hartree": -17.2,
                              "electrons": 8, "electrons_grid": 7.99999, "electrons_dm": 8.0,
                              "scf_seconds": 1.1, "grid_seconds": 0.4, "files": ["water.cube"], ...},
                    "bad": {"status": "failed", "converged": false, "reason": "SCF not converged ..."}}}

The manifest is rewritten atomically as results arrive (at most every few seconds, and at the end), so
an interrupted run loses at most the structures of the last seconds (their files are rewritten on
resume). A structure counts as finished when its entry says ``done`` and all its files exist; failed
structures are tried again on the next run. A directory labelled with other density settings
(functional, basis, spacing, …) is refused rather than mixed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from rhograph.errors import DensityFileError
from rhograph.io.atomic import atomic_open

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "rhograph-labels"
MANIFEST_VERSION = 1


class Manifest:
    """Settings and per-structure records of a label directory.

    Args:
        directory: the label directory (``manifest.json`` lives in it).
        settings: the density settings of this run (:meth:`LabelConfig.density_settings`).
    """

    def __init__(self, directory: str | os.PathLike[str], settings: dict[str, Any]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / MANIFEST_NAME
        self.settings = dict(settings)
        self.structures: dict[str, dict[str, Any]] = {}
        self._saved_at = -float("inf")

    @classmethod
    def open(cls, directory: str | os.PathLike[str], settings: dict[str, Any]) -> Manifest:
        """Read the manifest of ``directory`` (or start an empty one) and check its settings.

        Raises:
            DensityFileError: the manifest is unreadable, or was written with other density settings.
        """
        manifest = cls(directory, settings)
        if not manifest.path.exists():
            return manifest
        try:
            with open(manifest.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise DensityFileError(manifest.path, f"label manifest is not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise DensityFileError(manifest.path, f"not a rhograph label manifest (format != {MANIFEST_FORMAT!r})")
        old = data.get("settings", {})
        changed = {k: (old.get(k), v) for k, v in settings.items() if old.get(k) != v}
        if changed:
            text = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(changed.items()))
            raise DensityFileError(
                manifest.path,
                f"this directory was labelled with other settings ({text}); "
                "use a new output directory or the same settings",
            )
        structures = data.get("structures", {})
        if not isinstance(structures, dict):
            raise DensityFileError(manifest.path, "'structures' must be an object of per-structure entries")
        manifest.structures = structures
        return manifest

    def is_done(self, name: str, files: list[str]) -> bool:
        """Whether ``name`` finished in an earlier run and all of ``files`` (names in the directory) exist."""
        entry = self.structures.get(name)
        if not entry or entry.get("status") != "done" or not entry.get("converged"):
            return False
        return all((self.directory / f).exists() for f in files)

    def record(self, name: str, entry: dict[str, Any], *, min_interval: float = 0.0) -> None:
        """Store the entry of ``name``; rewrite the file unless it was written < ``min_interval`` s ago.

        A throttled run must end with :meth:`save` (entries not yet on disk are recomputed after a crash,
        never lost silently: their output files are rewritten).
        """
        self.structures[name] = entry
        if time.monotonic() - self._saved_at >= min_interval:
            self.save()

    def save(self) -> None:
        from rhograph import __version__

        versions = {"rhograph": __version__}
        try:
            import pyscf

            versions["pyscf"] = pyscf.__version__
        except ImportError:  # pragma: no cover - pyscf is needed to get here
            pass
        data = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            **versions,
            "settings": self.settings,
            "structures": self.structures,
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_open(self.path, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=False)
            fh.write("\n")
        self._saved_at = time.monotonic()
