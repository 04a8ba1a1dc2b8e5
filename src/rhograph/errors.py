"""Exception types. Every error about a file names the file and the problem."""

from __future__ import annotations

import os


class RhographError(Exception):
    """Base class of all rhograph errors."""


class DensityFileError(RhographError, ValueError):
    """A density / structure / dataset file is missing, truncated, malformed or physically invalid.

    Args:
        path: the offending file (or ``"<dataset>:member"`` for archive members).
        problem: what is wrong, in words a user can act on.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class CheckpointError(RhographError, ValueError):
    """A model checkpoint is corrupt, of an unknown format or of another architecture."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class StructureError(RhographError, ValueError):
    """A structure cannot be used (empty, unknown element, non-finite positions, bad cell)."""


class RunDirLockedError(RhographError):
    """A run directory is in use by another training process (it holds the directory's lock)."""
