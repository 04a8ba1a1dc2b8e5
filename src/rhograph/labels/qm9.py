"""A QM9-derived density benchmark from the geometries that ship with ``qm9pack`` (MIT, offline).

``qm9pack`` (by R. Ramakrishnan, one of the QM9 authors) stores the 130 831 QM9 molecules (B3LYP
geometries, QM9 indices 1..133 885 with the 3 054 unconverged ones missing) in CSV files inside the
package. They are read here directly with the ``csv`` module: importing ``qm9pack`` itself needs
``pkg_resources`` and ``pandas``, which are not needed for the geometries.

:func:`prepare_qm9` picks a reproducible random subset (a function of ``count`` and ``seed`` only), writes
its geometries as XYZ files and assigns every molecule to train / validation / test by its QM9 index, so the
split does not depend on which molecules fail to label. :func:`dataset_split` turns that assignment into
the index lists of the labelled dataset (the ``split.json`` format of the public QM9 density split).
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ase
import numpy as np

from rhograph.errors import ConfigError, DensityFileError
from rhograph.io.atomic import atomic_open
from rhograph.labels.manifest import MANIFEST_NAME
from rhograph.labels.structures import NamedStructure

QM9_FILES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
#: molecules labelled by default: about 1.5–2 h of PBE/gth-dzvp on 2 cores (docs/labels.md)
DEFAULT_COUNT = 200
SPLIT_PARTS = ("train", "validation", "test")
INSTALL_HINT = "the QM9 geometries come from the qm9pack package: install rhograph[dft] (pip install qm9pack)"


@dataclass(frozen=True)
class QM9Molecule:
    """One QM9 molecule.

    Args:
        index: QM9 index (1..133885; ``dsgdb9nsd_<index>.xyz`` in the original data).
        smiles: SMILES string from QM9.
        atoms: the B3LYP/6-31G(2df,p) geometry (positions Å, no periodicity).
    """

    index: int
    smiles: str
    atoms: ase.Atoms

    @property
    def name(self) -> str:
        return qm9_name(self.index)


def qm9_name(index: int) -> str:
    """File name stem of a QM9 molecule (zero-padded, so name order = index order)."""
    return f"qm9_{index:06d}"


def qm9pack_data_dir() -> Path:
    """Folder of the ``qm9pack`` CSV files (found without importing the package).

    Raises:
        ImportError: ``qm9pack`` is not installed.
        DensityFileError: the package lacks its data files.
    """
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(INSTALL_HINT)
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [name for name in QM9_FILES if not (folder / name).is_file()]
    if missing:
        raise DensityFileError(folder, f"qm9pack data files missing: {missing}")
    return folder


def _lines(folder: Path) -> Iterator[tuple[Path, int, str]]:
    """``(file, QM9 index, raw CSV line)`` of every molecule; the index is read without parsing the row."""
    for name in QM9_FILES:
        path = folder / name
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader([fh.readline()]))
            if header[:2] != ["XYZ_file", "Index"] or header[6:8] != ["Elements", "XYZ_Ang"]:
                raise DensityFileError(path, f"unexpected qm9pack CSV header {header[:8]}")
            for line in fh:  # one molecule per line (quoted fields hold no line breaks)
                try:
                    index = int(line.split(",", 2)[1])
                except (IndexError, ValueError) as exc:
                    raise DensityFileError(path, f"malformed line {line[:60]!r}") from exc
                yield path, index, line


def qm9_indices(folder: Path | None = None) -> list[int]:
    """All QM9 indices available in ``qm9pack``, ascending."""
    folder = folder or qm9pack_data_dir()
    return sorted(index for _, index, _ in _lines(folder))


def _molecule(path: Path, row: list[str]) -> QM9Molecule:
    index = int(row[1])
    try:
        symbols = ast.literal_eval(row[6])
        positions = np.asarray(ast.literal_eval(row[7]), dtype=np.float64).reshape(-1, 3)
        atoms = ase.Atoms(symbols=symbols, positions=positions, pbc=False)
    except (ValueError, SyntaxError, KeyError) as exc:
        raise DensityFileError(f"{path}:QM9 {index}", f"malformed geometry ({exc})") from exc
    atoms.info["qm9_index"] = index
    atoms.info["smiles"] = row[2]
    return QM9Molecule(index=index, smiles=row[2], atoms=atoms)


def read_qm9(indices: Sequence[int], folder: Path | None = None) -> list[QM9Molecule]:
    """The QM9 molecules with these indices, in the order given.

    Raises:
        KeyError: an index is not in QM9 (names the missing ones).
    """
    folder = folder or qm9pack_data_dir()
    wanted = set(int(i) for i in indices)
    found: dict[int, QM9Molecule] = {}
    csv.field_size_limit(1 << 28)
    for path, index, line in _lines(folder):
        if index in wanted:
            found[index] = _molecule(path, next(csv.reader([line])))
    missing = sorted(wanted - set(found))
    if missing:
        raise KeyError(f"QM9 indices not in qm9pack: {missing[:10]}")
    return [found[int(i)] for i in indices]


def choose_subset(available: Sequence[int], count: int, seed: int) -> list[int]:
    """``count`` QM9 indices drawn without replacement with ``seed``, ascending."""
    if not 1 <= count <= len(available):
        raise ConfigError(f"count must be in [1, {len(available)}], got {count}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(np.asarray(available, dtype=np.int64), size=count, replace=False)
    return sorted(int(i) for i in chosen)


def default_part_sizes(count: int) -> tuple[int, int]:
    """Validation and test sizes of a benchmark of ``count`` molecules (10 % each, at least 1)."""
    if count < 3:
        raise ConfigError(f"a train/validation/test benchmark needs at least 3 molecules, got {count}")
    part = max(1, round(0.1 * count))
    return part, part


def assign_parts(indices: Sequence[int], seed: int, validation: int, test: int) -> dict[str, list[int]]:
    """Split QM9 indices into ``train``/``validation``/``test`` (lists of QM9 indices, ascending)."""
    if validation < 0 or test < 0 or validation + test >= len(indices):
        raise ConfigError(
            f"validation ({validation}) + test ({test}) must leave training molecules out of {len(indices)}"
        )
    order = np.random.default_rng([seed, 0x5B1]).permutation(len(indices))
    chosen = [int(indices[i]) for i in order]
    parts = {
        "validation": chosen[:validation],
        "test": chosen[validation : validation + test],
        "train": chosen[validation + test :],
    }
    return {part: sorted(values) for part, values in parts.items()}


def dataset_split(parts: dict[str, list[int]], dataset_indices: Sequence[int]) -> dict[str, list[int]]:
    """Index lists into a dataset whose i-th structure is QM9 molecule ``dataset_indices[i]``.

    Molecules of ``parts`` missing from the dataset (failed labels) are left out.
    """
    position = {int(q): i for i, q in enumerate(dataset_indices)}
    return {part: [position[q] for q in parts[part] if q in position] for part in SPLIT_PARTS}


#: molecules of the first block of the growing order: the seed's original 100-molecule draw
LEGACY_COUNT = 100
#: share of fluorinated molecules after the first block (QM9 holds only 1.5 %; the models need more)
FLUORINE_FRACTION = 0.1
#: validation and test shares of molecules after the first block (by QM9 index, fixed forever)
PART_FRACTIONS = {"validation": 0.1, "test": 0.1}


def fluorinated_indices(folder: Path | None = None) -> set[int]:
    """QM9 indices of the molecules that contain fluorine."""
    folder = folder or qm9pack_data_dir()
    csv.field_size_limit(1 << 28)
    found = set()
    for _path, index, line in _lines(folder):
        if "'F'" in next(csv.reader([line]))[6]:
            found.add(index)
    return found


def growing_order(available: Sequence[int], fluorinated: set[int], seed: int, count: int) -> list[int]:
    """The first ``count`` QM9 indices of the seed's growing order (a prefix of every longer order).

    The order starts with the seed's original draw of :data:`LEGACY_COUNT` molecules (:func:`choose_subset`,
    shuffled with the seed), so that labels made before the order existed stay part of it. After that block,
    molecules come from two seeded permutations, fluorinated and not, interleaved so that every tenth molecule
    (:data:`FLUORINE_FRACTION`) holds fluorine while any are left. Extending a set = asking for a larger
    ``count`` with the same seed: the molecules already there come first, unchanged.
    """
    if not 1 <= count <= len(available):
        raise ConfigError(f"count must be in [1, {len(available)}], got {count}")
    legacy = choose_subset(available, min(LEGACY_COUNT, len(available)), seed)
    legacy = [legacy[i] for i in np.random.default_rng([seed, 0x0D3]).permutation(len(legacy))]
    if count <= len(legacy):
        return legacy[:count]
    taken = set(legacy)
    rest = np.asarray(sorted(set(available) - taken), dtype=np.int64)
    is_f = np.fromiter((int(i) in fluorinated for i in rest), dtype=bool, count=len(rest))
    streams = {
        True: np.random.default_rng([seed, 0xF]).permutation(rest[is_f]),
        False: np.random.default_rng([seed, 0x0]).permutation(rest[~is_f]),
    }
    used = {True: 0, False: 0}
    order = list(legacy)
    for position in range(count - len(order)):
        due = int((position + 1) * FLUORINE_FRACTION) > int(position * FLUORINE_FRACTION)
        stream = due if used[due] < len(streams[due]) else not due
        order.append(int(streams[stream][used[stream]]))
        used[stream] += 1
    return order


def growing_parts(order: Sequence[int], seed: int) -> dict[str, list[int]]:
    """Train/validation/test of a growing set, fixed per molecule so a set can grow without reshuffling.

    The first block keeps the split of the original draw (10 validation, 10 test); every later molecule's part
    is a function of its QM9 index and the seed alone (:data:`PART_FRACTIONS`).
    """
    legacy = sorted(order[:LEGACY_COUNT])
    if len(order) < LEGACY_COUNT:
        full = choose_subset(qm9_indices(), LEGACY_COUNT, seed)
        parts = assign_parts(full, seed, 10, 10)
        parts = {part: [q for q in values if q in set(legacy)] for part, values in parts.items()}
    else:
        parts = assign_parts(legacy, seed, 10, 10)
    for index in order[LEGACY_COUNT:]:
        u = np.random.default_rng([seed, 0x5B1, int(index)]).random()
        if u < PART_FRACTIONS["test"]:
            parts["test"].append(int(index))
        elif u < PART_FRACTIONS["test"] + PART_FRACTIONS["validation"]:
            parts["validation"].append(int(index))
        else:
            parts["train"].append(int(index))
    return {part: sorted(values) for part, values in parts.items()}


def prepare_qm9(
    out_dir: str | os.PathLike[str],
    count: int,
    seed: int,
    *,
    validation: int | None = None,
    test: int | None = None,
    growing: bool = False,
) -> tuple[list[NamedStructure], dict[str, Any]]:
    """Choose the subset, write ``structures/<name>.xyz`` and ``qm9_subset.json``; return the structures.

    Args:
        growing: take the first ``count`` molecules of :func:`growing_order` (extendable, fluorine-enriched,
            split fixed per molecule by :func:`growing_parts`) instead of an independent draw of ``count``.

    Returns:
        the structures to label (named ``qm9_<index>``, in labelling order) and the subset description
        (seed, indices, parts).
    """
    import ase.io

    folder = qm9pack_data_dir()
    if growing:
        if validation is not None or test is not None:
            raise ConfigError("a growing set fixes the split per molecule: --validation/--test do not apply")
        order = growing_order(qm9_indices(folder), fluorinated_indices(folder), seed, count)
        parts = growing_parts(order, seed)
        indices = order
    else:
        indices = choose_subset(qm9_indices(folder), count, seed)
        default_val, default_test = default_part_sizes(count)
        parts = assign_parts(
            indices,
            seed,
            default_val if validation is None else validation,
            default_test if test is None else test,
        )
    molecules = read_qm9(indices, folder)
    out = Path(out_dir)
    structures = []
    for molecule in molecules:
        path = out / "structures" / f"{molecule.name}.xyz"
        if not path.exists():
            with atomic_open(path, "w") as fh:
                ase.io.write(fh, molecule.atoms, format="xyz", comment=f"QM9 {molecule.index} {molecule.smiles}")
        structures.append(NamedStructure(name=molecule.name, atoms=molecule.atoms, source=os.fspath(path)))
    subset = {
        "source": "qm9pack (QM9 geometries, B3LYP/6-31G(2df,p))",
        "scheme": "growing" if growing else "draw",
        "count": count,
        "seed": seed,
        "qm9_indices": sorted(indices),
        "parts": parts,
    }
    if growing:
        subset["order"] = list(indices)
        subset["fluorine_fraction"] = FLUORINE_FRACTION
        subset["part_fractions"] = PART_FRACTIONS
    with atomic_open(out / "qm9_subset.json", "w") as fh:
        json.dump(subset, fh, indent=1)
        fh.write("\n")
    return structures, subset


def snapshot_labelled(
    set_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], count: int | None = None
) -> Path:
    """A dataset folder of the first ``count`` labelled structures of a QM9 set (all if ``None``), in set order;
    an NMC set (``rhograph data nmc``, ``nmc_set.json``) the same way, in index order.

    A set that is still being labelled (``rhograph data qm9`` writes ``split.json`` only when it finishes)
    can be trained on this way: ``out_dir/densities`` holds links to the finished labels and a manifest of
    just those, and ``out_dir/split.json`` their parts from ``qm9_subset.json`` (fixed per molecule).
    With ``out_dir = set_dir`` (and ``count=None``) it only rewrites the set's own ``split.json`` for the
    labels finished so far.

    Returns:
        ``out_dir``.

    Raises:
        DensityFileError: the set has no ``qm9_subset.json`` or manifest, or fewer than ``count`` labels.
    """
    from rhograph.data.splits import Split, save_split
    from rhograph.labels.nmc import SET_FILE as NMC_SET_FILE
    from rhograph.labels.nmc import nmc_name

    root, out = Path(set_dir), Path(out_dir)
    nmc = (root / NMC_SET_FILE).is_file()
    subset_path, manifest_path = root / (NMC_SET_FILE if nmc else "qm9_subset.json"), root / "densities" / MANIFEST_NAME
    for path in (subset_path, manifest_path):
        if not path.is_file():
            raise DensityFileError(path, "missing: not a set made by `rhograph data qm9` or `rhograph data nmc`")
    subset = json.loads(subset_path.read_text(encoding="utf-8"))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    name_of = nmc_name if nmc else qm9_name
    order = list(range(subset["count"])) if nmc else subset.get("order") or subset["qm9_indices"]
    done = {
        name: entry
        for name, entry in manifest["structures"].items()
        if entry.get("status") == "done" and all((root / "densities" / f).is_file() for f in entry.get("files", []))
    }
    chosen = [q for q in order if name_of(q) in done]
    if count is not None:
        if len(chosen) < count:
            raise DensityFileError(root, f"holds {len(chosen)} finished labels, fewer than the {count} asked for")
        chosen = chosen[:count]
    in_place = out.resolve() == root.resolve()
    if in_place and count is not None:
        raise ConfigError("a set's own split.json covers all its finished labels: count must be None in place")
    densities = out / "densities"
    densities.mkdir(parents=True, exist_ok=True)
    for q in chosen if not in_place else ():
        for file in done[name_of(q)]["files"]:
            link = densities / file
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)  # all-electron/ of GPAW labels
                link.symlink_to((root / "densities" / file).resolve())
    if not in_place:  # never rewrite the manifest of a set (a labelling run may be writing it)
        kept = {name_of(q): done[name_of(q)] for q in chosen}
        with atomic_open(densities / MANIFEST_NAME, "w") as fh:
            json.dump({**manifest, "structures": kept}, fh, indent=1)
    parts = dataset_split(subset["parts"], sorted(chosen))
    save_split(Split(**{part: tuple(parts[part]) for part in SPLIT_PARTS}), out / "split.json")
    if not in_place:
        with atomic_open(out / subset_path.name, "w") as fh:
            json.dump(subset, fh, indent=1)
    return out
