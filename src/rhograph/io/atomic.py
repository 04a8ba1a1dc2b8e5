"""Atomic file writes: write to a temporary file beside the target, fsync, then rename.

A crash or kill mid-write leaves either the old file or no file, never half a file. The temporary file is
named ``.<target name>.<pid>.<random>.tmp<suffixes>``: a later write to the same target removes those left
by processes that no longer run (a run killed with SIGKILL cannot clean up after itself).

Writes that fail for lack of room or rights (disk full, file-size limit, quota, read-only file system,
permission denied) raise :class:`~rhograph.errors.OutputError` naming the target, which ``rhograph`` prints
as one line: ``cannot write X: no space left on device``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rhograph.errors import OutputError

#: errno of a write refused for lack of room or rights → the words of the one-line error.
WRITE_ERRORS = {
    errno.ENOSPC: "no space left on device",
    errno.EFBIG: "file too large (file-size limit, e.g. ulimit -f, or the file system's largest file)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files of atomic writes to ``path`` left by processes that no longer run.

    Returns:
        The removed files.
    """
    target = Path(path)
    prefix = _temp_prefix(target)
    removed: list[Path] = []
    try:
        candidates = list(target.parent.glob(f"{glob_escape(prefix)}*.tmp*"))
    except OSError:
        return removed
    for candidate in candidates:
        pid_text = candidate.name[len(prefix) :].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _pid_alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def glob_escape(text: str) -> str:
    """``text`` with glob wildcards escaped (file names may contain ``[``, ``*`` or ``?``)."""
    return "".join(f"[{c}]" if c in "[]*?" else c for c in text)


def output_error(path: str | os.PathLike[str], exc: OSError) -> OutputError | None:
    """The :class:`OutputError` for a write to ``path`` that failed with ``exc``, or ``None`` for other errors."""
    problem = WRITE_ERRORS.get(exc.errno) if exc.errno is not None else None
    return OutputError(path, problem) if problem else None


def check_writable(path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Check, before any work, that ``path`` can be written: its folder can be created and written, and an
    existing file is not read-only (a read-only file is replaced only with ``overwrite``).

    Raises:
        OutputError: naming the file or folder and why.
    """
    target = Path(path)
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(folder, "exists and is not a folder") from None
    except OSError as exc:
        raise output_error(folder, exc) or OutputError(folder, exc.strerror or str(exc)) from None
    if target.is_dir():
        raise OutputError(target, "is a folder")
    if target.exists() and not overwrite and not target.stat().st_mode & 0o222:
        raise OutputError(target, "the file is read-only; pass --overwrite to replace it")
    _probe_folder(folder, target)


def _probe_folder(folder: Path, target: Path) -> None:
    """Create and remove a temporary file in ``folder``: the only reliable test of its writability (ACLs,
    read-only mounts, root)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=f"{_temp_prefix(target)}{os.getpid()}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise output_error(folder, exc) or OutputError(folder, exc.strerror or str(exc)) from None
    os.close(fd)
    os.unlink(probe)


def check_location(path: str | os.PathLike[str], *, folder: bool) -> None:
    """Check, before any work and without creating anything, that ``path`` (a file, or a ``folder``) could be
    written: an existing path is of the right kind, and the nearest existing folder on the way accepts files.

    Raises:
        OutputError: naming the path and why.
    """
    target = Path(path)
    if target.exists():
        if folder and not target.is_dir():
            raise OutputError(target, "exists and is not a folder")
        if not folder and target.is_dir():
            raise OutputError(target, "is a folder")
    probe_in = target if folder and target.is_dir() else target.parent
    while not probe_in.exists() and probe_in != probe_in.parent:
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise OutputError(probe_in, "exists and is not a folder")
    _probe_folder(probe_in, target)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success.

    The temporary keeps the target's suffixes (so writers that dispatch on ``.gz``/``.npz`` still work).
    On an exception the temporary is removed and the target is left untouched; temporaries of earlier
    writes to ``path`` by processes that have died are removed first.

    Raises:
        OutputError: the disk is full, a file-size limit or quota is reached, or the folder is read-only.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f"{_temp_prefix(target)}{os.getpid()}.", suffix=".tmp" + "".join(target.suffixes), dir=target.parent
        )
    except OSError as exc:
        error = output_error(target, exc)
        if error is None:
            raise
        raise error from exc
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would (0666 & ~umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        error = output_error(target, exc) if isinstance(exc, OSError) else None
        if error is None:
            raise
        raise error from exc


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file for writing (``"w"`` or ``"wb"``) that replaces ``path`` atomically on close."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode) as fh:
        yield fh
