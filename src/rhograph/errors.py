"""Exception types. Every error about a file names the file and the problem.

:class:`RhographError` marks a *user error*: a bad input file, option, configuration or resource limit that
the user can act on. ``rhograph`` prints such an error as one line (``rhograph VERB: error: ...``) and a
traceback only with ``-v``; any other exception is a bug and is printed with its traceback. The subclasses
that describe bad values also derive from ``ValueError`` so that ``except ValueError`` keeps working.
"""

from __future__ import annotations

import os


class RhographError(Exception):
    """Base class of all rhograph errors: problems the user can act on (not bugs)."""


class ConfigError(RhographError, ValueError):
    """A configuration value or command-line option is invalid; the message names it, the value and the
    allowed values (and the file, for a YAML config)."""


class IncompatibleInputsError(RhographError, ValueError):
    """Inputs that must describe the same structure or the same grid do not (the message says how)."""


class OutputError(RhographError):
    """An output file or directory cannot be written (read-only, disk full, file-size limit, exists).

    Args:
        path: the file or directory that cannot be written.
        problem: why, e.g. ``"no space left on device"``.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"cannot write {self.path}: {problem}")


class ResourceError(RhographError):
    """A job would need more memory (or another resource) than the machine has; refused before it starts."""


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
