"""What a training run builds before its first step: the target source and the model (with its baseline).

* :func:`open_source`: a dataset path → a target source: density grids (CHGCAR / cube, :class:`GridSource`)
  or, for a folder that holds only compact labels (``*.dm.npz``), :class:`~rhograph.labels.CompactSource`
  (probes drawn anywhere in the box, the exact DFT density at each).
* :func:`baseline_tables`: the free-atom tables of the run's atomic baseline: ``baseline: auto`` computes
  them with PySCF from the label settings in the dataset's ``manifest.json`` for the elements the manifest
  lists, once per run (cached as ``RUN_DIR/atomic_densities.npz``), and without a manifest (data not
  labelled by rhograph) the run trains without a baseline and says so; ``baseline: fit`` fits the tables to
  the training densities (:mod:`rhograph.train.baseline_fit`), which ``auto`` also does for labels made with
  GPAW (free PySCF atoms do not describe a PAW pseudo density); ``baseline: PATH.npz`` reads tables
  (``rhograph atom-densities``); ``baseline: none`` drops the preset's baseline.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rhograph.errors import ConfigError, DensityFileError
from rhograph.labels.manifest import MANIFEST_NAME
from rhograph.models.baseline import AtomicDensityTables

log = logging.getLogger(__name__)

#: cached free-atom tables of a run
TABLES_NAME = "atomic_densities.npz"


def open_source(path: str, pbc: str = "file") -> Any:
    """The target source of a dataset path (see the module docstring).

    Raises:
        DensityFileError: nothing usable at ``path`` (names the path and the problem).
    """
    from rhograph.data.pool import GridSource
    from rhograph.labels.compact import COMPACT_SUFFIX, is_compact_folder

    root = Path(path)
    if is_compact_folder(root):
        from rhograph.labels.compact import CompactSource

        if pbc != "file":
            raise ConfigError(f"pbc={pbc!r} does not apply to compact labels (they know their periodicity)")
        source = CompactSource.from_path(root)
        log.info("training on %d compact labels (*%s) in %s", len(source), COMPACT_SUFFIX, root)
        return source
    return GridSource.from_path(str(root), pbc=pbc)


def read_label_manifest(data: str) -> dict[str, Any] | None:
    """The labelling manifest of a dataset folder, or ``None`` if it has none."""
    path = Path(data) / MANIFEST_NAME
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    if not isinstance(manifest, dict) or "settings" not in manifest:
        raise DensityFileError(path, "is not a rhograph labelling manifest (no 'settings')")
    return manifest


def manifest_elements(manifest: dict[str, Any]) -> list[int]:
    """Atomic numbers of every labelled structure of a manifest."""
    from ase.data import atomic_numbers
    from ase.formula import Formula

    found: set[int] = set()
    for entry in manifest.get("structures", {}).values():
        if entry.get("status") == "done" and entry.get("formula"):
            found.update(atomic_numbers[symbol] for symbol in Formula(entry["formula"]).count())
    return sorted(found)


def baseline_tables(
    choice: str,
    data: str,
    run_dir: Path,
    cutoff: float,
    source: Any = None,
    train: Sequence[int] = (),
) -> AtomicDensityTables | None:
    """The free-atom tables for ``baseline: choice`` (``auto``, ``fit`` or a path; see the module docstring);
    ``None`` for ``auto`` on a dataset without a labelling manifest (the caller warns and trains without a
    baseline). ``source`` and ``train`` (the training indices) are what ``fit`` fits to.

    Raises:
        DensityFileError: an unreadable tables file.
    """
    cached = run_dir / TABLES_NAME
    if cached.is_file():
        return AtomicDensityTables.load(cached)
    manifest = read_label_manifest(data) if choice == "auto" else None
    if choice == "fit" or (manifest is not None and manifest["settings"].get("code") == "gpaw"):
        from rhograph.train.baseline_fit import fit_atomic_tables

        if source is None:
            raise ConfigError("baseline: fit needs the training data to fit to")
        tables = fit_atomic_tables(source, train, cutoff)
    elif choice != "auto":
        tables = AtomicDensityTables.load(choice)
    else:
        if manifest is None:
            return None
        from rhograph.labels.atoms import free_atom_tables
        from rhograph.labels.config import LabelConfig

        settings = dict(manifest["settings"])
        config = LabelConfig(**settings, write_compact=True)
        elements = manifest_elements(manifest)
        log.info("computing free-atom densities of Z=%s with the label settings %s", elements, settings)
        tables = free_atom_tables(elements, config, cutoff=cutoff)
    tables.save(cached)
    return tables
