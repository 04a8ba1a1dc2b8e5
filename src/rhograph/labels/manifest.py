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
structures are tried again on the next run. GPAW labels record ``"gpaw"`` and ``"gpaw_data"`` versions
instead of ``"pyscf"``. A directory labelled with other density settings
(functional, basis, spacing, …) is refused rather than mixed. Solver accuracy settings (XC grid level,
convergence threshold) are recorded per structure (``"solver"``): a manifest from before they moved there
keeps its old values in each earlier entry when it is resumed.

Every finished entry records the SHA-256 of its files (``"sha256": {"name.dm.npz": "..."}``). A structure
whose file no longer matches its checksum counts as not finished (it is labelled again, with a warning), and
:meth:`Manifest.verify` lists every mismatch (``rhograph data qm9 --verify``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from rhograph.errors import DensityFileError
from rhograph.io.atomic import atomic_open

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "rhograph-labels"
MANIFEST_VERSION = 1

log = logging.getLogger(__name__)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: settings that moved from the directory's settings to each structure's ``"solver"`` record
SOLVER_KEYS = ("xc_grid_level", "conv_tol", "max_cycle")


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
        moved = {k: v for k, v in old.items() if k not in settings and k in SOLVER_KEYS}
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
        if moved:  # settings that now live per structure: keep what earlier entries were made with
            for entry in structures.values():
                if isinstance(entry, dict) and entry.get("status") == "done":
                    entry.setdefault("solver", dict(moved))
        manifest.structures = structures
        return manifest

    def is_done(self, name: str, files: list[str]) -> bool:
        """Whether ``name`` finished in an earlier run and all of ``files`` (names in the directory) exist."""
        entry = self.structures.get(name)
        if not entry or entry.get("status") != "done" or not entry.get("converged"):
            return False
        if not all((self.directory / f).exists() for f in files):
            return False
        bad = self._mismatches(entry, files)
        if bad:
            log.warning("%s: %s changed since labelling (SHA-256 mismatch); labelling it again", name, ", ".join(bad))
            return False
        return True

    def _mismatches(self, entry: dict[str, Any], files: list[str]) -> list[str]:
        recorded = entry.get("sha256") or {}
        return [f for f in files if f in recorded and file_sha256(self.directory / f) != recorded[f]]

    def checksums(self, files: list[str]) -> dict[str, str]:
        """SHA-256 of each of ``files`` (names in the directory) that exists."""
        return {f: file_sha256(self.directory / f) for f in files if (self.directory / f).exists()}

    def verify(self) -> dict[str, str]:
        """Check every finished structure against its recorded checksums: ``{name: problem}`` for each
        missing file, changed file or missing checksum (empty when all is well)."""
        problems: dict[str, str] = {}
        for name, entry in sorted(self.structures.items()):
            if not isinstance(entry, dict) or entry.get("status") != "done":
                continue
            files = list(entry.get("files", []))
            missing = [f for f in files if not (self.directory / f).exists()]
            if missing:
                problems[name] = f"missing {', '.join(missing)}"
            elif not entry.get("sha256"):
                problems[name] = "no checksum recorded"
            else:
                bad = self._mismatches(entry, files)
                if bad:
                    problems[name] = f"SHA-256 mismatch: {', '.join(bad)}"
        return problems

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
        if self.settings.get("code") == "gpaw":
            from rhograph.labels.gpaw_dft import versions as gpaw_versions

            versions.update(gpaw_versions())
        else:
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
