"""The run directory: what a training run writes besides its checkpoints.

Layout of ``RUN_DIR``::

    config.yaml        resolved TrainConfig (what ``--resume`` reads back)
    run_info.json      package / torch versions, git commit, command line, world size, start time
    split.json         the split used (indices into the dataset)
    best.pt, last.pt   checkpoints (see rhograph.train.checkpoints)
    train_log.csv      step, loss, learning rate, steps/s, data-wait fraction
    val_log.csv        step, validation MAE, RMSE, NMAE
    learning_curve.png validation error vs step
    tensorboard/       TensorBoard event files (if tensorboard is installed)
    train.log          the log lines of rank 0
    train.lock         while a run is active: its process id, host and start time (see RunLock)
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from rhograph.data.splits import Split, load_split, random_split, save_split, train_subset
from rhograph.errors import ConfigError
from rhograph.io.atomic import atomic_open
from rhograph.io.lock import DirectoryLock
from rhograph.train.config import TrainConfig, load_train_config

log = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
INFO_NAME = "run_info.json"
SPLIT_NAME = "split.json"
BEST_NAME = "best.pt"
LAST_NAME = "last.pt"
TRAIN_LOG_NAME = "train_log.csv"
VAL_LOG_NAME = "val_log.csv"
CURVE_NAME = "learning_curve.png"
LOG_NAME = "train.log"
LOCK_NAME = "train.lock"
TENSORBOARD_DIR = "tensorboard"


def check_run_dir(run_dir: Path, *, resume: bool, create: bool) -> None:
    """A new run needs a directory without ``last.pt``; a resumed one needs ``last.pt``.

    Raises:
        FileNotFoundError: resuming without ``last.pt``.
        ValueError: a new run in a directory that holds one.
    """
    last = run_dir / LAST_NAME
    if resume and not last.exists():
        raise FileNotFoundError(2, "no checkpoint to resume from", str(last))
    if not resume and last.exists():
        raise ConfigError(
            f"{run_dir} already holds a training run (last.pt); pass --resume to continue it "
            "or choose another output directory"
        )
    if create:
        run_dir.mkdir(parents=True, exist_ok=True)


class RunLock(DirectoryLock):
    """Exclusive use of a run directory by one training process: ``RUN_DIR/train.lock`` (see
    :class:`~rhograph.io.lock.DirectoryLock`: taken over from a dead process, released on any exit)."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        super().__init__(run_dir, LOCK_NAME, "training run")


def resolve_split(config: TrainConfig, num_structures: int, run_dir: Path, *, resume: bool) -> Split:
    """The split of a run: ``split.json`` of the run when resuming; else ``config.split_file`` or a seeded
    random split, reduced to ``config.train_size`` training structures and written to ``split.json``."""
    if resume:
        split = load_split(run_dir / SPLIT_NAME)
    else:
        if config.split_file is not None:
            split = load_split(config.split_file)
        else:
            split = random_split(num_structures, val_size=config.val_size, test_size=config.test_size, seed=config.seed)
        split = train_subset(split, config.train_size, seed=config.seed)
    split.check(num_structures, where=str(config.split_file or "split"))
    if not split.validation:
        raise ConfigError("the validation set is empty; best.pt is chosen on validation (set val_size >= 1)")
    if not resume:
        save_split(split, run_dir / SPLIT_NAME)
    log.info(
        "data: %d structures; split train %d / validation %d / test %d",
        num_structures,
        len(split.train),
        len(split.validation),
        len(split.test),
    )
    return split


def git_commit(path: str | os.PathLike[str] | None = None) -> str | None:
    """Commit hash of the git checkout holding ``path`` (default: this package), ``+dirty`` if modified;
    ``None`` outside a checkout or without git."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if status else "") if head else None


def run_info(world_size: int = 1) -> dict[str, Any]:
    """Versions and provenance recorded in ``run_info.json``."""
    import numpy
    import torch

    from rhograph import __version__

    return {
        "rhograph_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "python_version": platform.python_version(),
        "host": platform.node(),
        "command": sys.argv,
        "world_size": world_size,
        "cuda": torch.version.cuda,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_config(run_dir: Path, config: TrainConfig) -> None:
    with atomic_open(run_dir / CONFIG_NAME, "w") as fh:
        yaml.safe_dump(config.to_dict(), fh, sort_keys=False)


def read_config(run_dir: Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The resolved config of an existing run, with ``overrides`` applied (for ``--resume``)."""
    path = run_dir / CONFIG_NAME
    if not path.exists():
        raise FileNotFoundError(2, "no such file", str(path))
    return load_train_config(path, overrides)


def write_run_info(run_dir: Path, info: dict[str, Any], *, resumed: bool) -> None:
    """Write ``run_info.json``; on resume the earlier starts are kept under ``"previous"``."""
    path = run_dir / INFO_NAME
    if resumed and path.exists():
        with open(path, encoding="utf-8") as fh:
            old = json.load(fh)
        info = {**info, "previous": [*old.pop("previous", []), old]}
    with atomic_open(path, "w") as fh:
        json.dump(info, fh, indent=2, default=str)
        fh.write("\n")


@contextlib.contextmanager
def file_log(run_dir: Path) -> Iterator[None]:
    """Copy rhograph's log records of INFO and above to ``RUN_DIR/train.log`` while the block runs.

    If logging is not configured at all (the root logger has no handlers) and the ``rhograph`` logger
    would drop INFO records, its level is lowered to INFO for the duration so that the file gets the
    progress lines; a caller's logging configuration is left as it is.
    """
    logger = logging.getLogger("rhograph")
    handler = logging.FileHandler(run_dir / LOG_NAME, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    old_level = logger.level
    if not logging.getLogger().handlers and logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()
