"""Exclusive use of a directory by one process: a ``flock``-ed lock file holding its owner.

Used by training runs (``RUN_DIR/train.lock``, :class:`rhograph.train.rundir.RunLock`) and labelling runs
(``OUT_DIR/label.lock``), so that two processes never write the same checkpoints, manifests or files at once.
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
from pathlib import Path
from typing import Any

from rhograph.errors import RunDirLockedError

log = logging.getLogger(__name__)


class DirectoryLock:
    """Exclusive use of a directory by one process: ``DIRECTORY/<name>`` (e.g. a training run's ``train.lock``).

    The file is locked with ``flock`` and holds the owner's process id, host and start time. The kernel
    drops the lock when its process ends, however it ends (SIGKILL, a scheduler's time limit, a crash), so
    a lock left by a dead process is taken over; :meth:`release` (a normal end, an exception, SIGTERM /
    SIGINT through the training loop) also removes the file. Network file systems must support ``flock``
    (NFSv4, Lustre and GPFS do); where it is not supported, a lock of a live process on the same host is
    still detected from the recorded process id.

    Args:
        directory: an existing directory.
        name: the lock file's name in it.
        purpose: what holds the lock, for the error message (``"training run"``).
    """

    def __init__(self, directory: str | os.PathLike[str], name: str, purpose: str) -> None:
        self.path = Path(directory) / name
        self.purpose = purpose
        self._fd: int | None = None  # a raw descriptor: no ResourceWarning if the object is dropped while held

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DirectoryLock:
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
                        f"{self.path.parent} is in use by another {self.purpose} ({_describe(holder)}); wait for it "
                        f"to finish or stop it, or use another directory"
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

    def __enter__(self) -> DirectoryLock:
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
