"""Train / validation / test splits of a dataset, as index lists.

The on-disk format is the one of the public QM9 density split (``datasplits.json``)::

    {"train": [0, 5, ...], "validation": [3, ...], "test": [1, 2, ...]}

Indices count the structures of the dataset in its natural order (directory listing order, tar member
order, tar files in the order of a ``.txt`` list). A split may also carry extra keys (ignored) and may omit
``test``. :func:`random_split` makes a seeded split with given sizes; :func:`train_subset` takes nested
training subsets for learning curves (the subset of size N is contained in the one of size M > N for the
same seed).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from rhograph.errors import ConfigError, DensityFileError
from rhograph.io.atomic import atomic_open

SPLIT_KEYS = ("train", "validation", "test")


@dataclass(frozen=True)
class Split:
    """Index lists of a dataset split (no index appears in two parts).

    Args:
        train: structures used for gradient steps.
        validation: structures for model selection (fixed probes, see :mod:`rhograph.train.validation`).
        test: held-out structures, never read during training.
    """

    train: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...] = ()

    def check(self, num_structures: int, where: str = "split") -> None:
        """Raise ``ValueError`` if an index is out of range, repeated, or shared between parts."""
        seen: dict[int, str] = {}
        for part in SPLIT_KEYS:
            for index in getattr(self, part):
                if not 0 <= index < num_structures:
                    raise ConfigError(
                        f"{where}: {part} index {index} is out of range for a dataset of {num_structures} structures"
                    )
                if index in seen:
                    raise ConfigError(f"{where}: index {index} appears in both {seen[index]} and {part}")
                seen[index] = part
        if not self.train:
            raise ConfigError(f"{where}: the training set is empty")

    def to_dict(self) -> dict[str, list[int]]:
        return {part: [int(i) for i in getattr(self, part)] for part in SPLIT_KEYS}

    def sizes(self) -> dict[str, int]:
        return {part: len(getattr(self, part)) for part in SPLIT_KEYS}


def load_split(path: str | os.PathLike[str]) -> Split:
    """Read a split JSON file (``train`` / ``validation`` / ``test`` integer lists; ``test`` optional).

    Raises:
        DensityFileError: the file is not JSON, lacks ``train`` or ``validation``, or holds non-integers.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            data: Any = json.load(fh)
    except json.JSONDecodeError as exc:
        raise DensityFileError(path, f"split file is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DensityFileError(path, "split file must hold a JSON object with train/validation/test lists")
    parts: dict[str, tuple[int, ...]] = {}
    for part in SPLIT_KEYS:
        if part not in data:
            if part == "test":
                parts[part] = ()
                continue
            raise DensityFileError(path, f"split file has no {part!r} list (keys: {sorted(data)})")
        values = data[part]
        if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise DensityFileError(path, f"split {part!r} must be a list of integer indices")
        parts[part] = tuple(values)
    return Split(**parts)


def save_split(split: Split, path: str | os.PathLike[str]) -> None:
    """Write ``split`` as JSON (atomically), in the format :func:`load_split` reads."""
    with atomic_open(path, "w") as fh:
        json.dump(split.to_dict(), fh)
        fh.write("\n")


def _count(size: int | float, total: int, name: str) -> int:
    """A part size given as a count (int) or a fraction of ``total`` (float in [0, 1))."""
    if isinstance(size, bool):
        raise ConfigError(f"{name} must be a count or a fraction, got {size!r}")
    if isinstance(size, float):
        if not 0.0 <= size < 1.0:
            raise ConfigError(f"{name} as a fraction must be in [0, 1), got {size!r}")
        return round(size * total)
    if size < 0:
        raise ConfigError(f"{name} must be >= 0, got {size!r}")
    return int(size)


def random_split(num_structures: int, *, val_size: int | float, test_size: int | float, seed: int) -> Split:
    """A seeded uniform random split; sizes are counts (int) or fractions of the dataset (float < 1).

    The validation set is taken first, then the test set; the rest is the training set (in the
    permuted order, so :func:`train_subset` of it is itself random).
    """
    n_val = _count(val_size, num_structures, "val_size")
    n_test = _count(test_size, num_structures, "test_size")
    if n_val + n_test >= num_structures:
        raise ConfigError(
            f"val_size ({n_val}) + test_size ({n_test}) leave no training structures in a dataset of {num_structures}"
        )
    order = np.random.default_rng(seed).permutation(num_structures).tolist()
    return Split(
        train=tuple(order[n_val + n_test :]),
        validation=tuple(order[:n_val]),
        test=tuple(order[n_val : n_val + n_test]),
    )


def train_subset(split: Split, size: int | None, *, seed: int) -> Split:
    """Keep ``size`` training structures (all if ``None``); validation and test are unchanged.

    The subset is a prefix of a seeded permutation of the training list, so for one seed the subsets
    are nested: ``train_subset(s, n)`` ⊂ ``train_subset(s, m)`` for ``n < m`` (learning curves).
    """
    if size is None:
        return split
    if not 0 < size <= len(split.train):
        raise ConfigError(f"train_size must be in [1, {len(split.train)}] (training structures), got {size}")
    order = np.random.default_rng(seed).permutation(len(split.train))
    train = tuple(split.train[i] for i in order[:size])
    return Split(train=train, validation=split.validation, test=split.test)
