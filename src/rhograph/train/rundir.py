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
import errno
import fcntl
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
from rhograph.errors import RunDirLockedError
from rhograph.io.atomic import atomic_open
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
        raise ValueError(
            f"{run_dir} already holds a training run (last.pt); pass --resume to continue it "
            "or choose another output directory"
        )
    if create:
        run_dir.mkdir(parents=True, exist_ok=True)


class RunLock:
    """Exclusive use of a run directory by one training process: ``RUN_DIR/train.lock``.

    The file is locked with ``flock`` and holds the owner's process id, host and start time. The kernel
    drops the lock when its process ends, however it ends (SIGKILL, a scheduler's time limit, a crash), so
    a lock left by a dead process is taken over; :meth:`release` (a normal end, an exception, SIGTERM /
    SIGINT through the training loop) also removes the file. Network file systems must support ``flock``
    (NFSv4, Lustre and GPFS do); where it is not supported, a lock of a live process on the same host is
    still detected from the recorded process id.

    Args:
        run_dir: an existing directory.
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None  # a raw descriptor: no ResourceWarning if the object is dropped while held

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`~rhograph.errors.RunDirLockedError` naming its holder."""
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_holder(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) or _alive_here(holder):
                    os.close(fd)
                    raise RunDirLockedError(
                        f"{self.path.parent} is in use by another training run ({_describe(holder)}); wait for it "
                        f"to finish or stop it, or train into another directory"
                    ) from None
                log.warning("cannot lock %s (%s); relying on the recorded process id", self.path, exc)
            # The previous holder may have removed the file between our open and flock: retry on the new one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_holder(fd)
            if previous:
                log.warning("taking over the lock of %s from an ended run (%s)", self.path.parent, _describe(previous))
            started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            record = json.dumps({"pid": os.getpid(), "host": platform.node(), "started": started}) + "\n"
            os.ftruncate(fd, 0)
            os.pwrite(fd, record.encode(), 0)
            self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and drop the lock (no-op if not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)

    def __del__(self) -> None:  # a lock object dropped while held (e.g. a Trainer that never ran)
        with contextlib.suppress(Exception):
            self.release()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode(errors="replace") or "{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _alive_here(holder: dict[str, Any]) -> bool:
    """The holder is a live process of this host (where ``flock`` is not supported)."""
    pid = holder.get("pid")
    if holder.get("host") != platform.node() or not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "holder unknown"
    return f"process {holder.get('pid', '?')} on host {holder.get('host', '?')}, started {holder.get('started', '?')}"


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
        raise ValueError("the validation set is empty; best.pt is chosen on validation (set val_size >= 1)")
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
