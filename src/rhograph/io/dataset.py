"""Random access to collections of density files in the DeepDFT layouts.

A :class:`DensityDataset` opens one of

* a **directory** of density files (sorted by name; hidden files and obvious side files such as
  ``*.txt``/``*.json``/``*.csv``/``*.xyz`` are skipped);
* an **uncompressed** ``.tar`` of density files, each member possibly compressed on its own (``.gz``,
  ``.zz``, ``.lz4``, ``.zst``). Member offsets are indexed once; an access seeks to the member's bytes and
  reads them directly (nothing is extracted);
* a ``.txt`` file listing ``.tar`` files, one per line, relative to the ``.txt`` file's directory.

Cube files are recognised by name (``.cube``/``.cub``), numpy archives by ``.npz``; everything else is read
as a VASP CHGCAR (DeepDFT's rule). The dataset is safe to use from DataLoader worker processes: archive
file handles are opened lazily in each process and never pickled or shared across a fork.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rhograph.errors import DensityFileError
from rhograph.io.compression import COMPRESSIONS, decompress, read_bytes, split_compression
from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import dataset_format, parse_density

log = logging.getLogger(__name__)

#: suffixes of files in a dataset directory that are not densities
SIDE_FILE_SUFFIXES = (
    ".txt",
    ".json",
    ".csv",
    ".md",
    ".yaml",
    ".yml",
    ".log",
    ".xyz",
    ".png",
    ".py",
    ".tar",
    ".dm.npz",
    ".lock",  # a labelling run writing into the folder (label.lock)
)


@dataclass(frozen=True)
class _Entry:
    """Where one density lives: a plain file, or ``size`` bytes at ``offset`` inside ``archive``."""

    name: str
    path: Path
    offset: int = -1
    size: int = -1
    member: str = ""

    @property
    def source(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)


class DensityDataset(Sequence[DensityGrid]):
    """Indexable collection of density grids on disk (``len(ds)``, ``ds[i]``, ``ds.names``).

    Args:
        path: a directory, an uncompressed ``.tar`` archive, or a ``.txt`` list of ``.tar`` archives.
        pbc: periodicity to force on every structure; default: as each file format says.

    Raises:
        DensityFileError: missing path, an unreadable or compressed archive, an empty collection.
    """

    def __init__(self, path: str | os.PathLike[str], *, pbc: bool | None = None) -> None:
        self.path = Path(path)
        self.pbc = pbc
        if self.path.is_dir():
            entries = _index_directory(self.path)
        elif not self.path.exists():
            raise DensityFileError(self.path, "no such file or directory")
        elif self.path.suffix == ".txt":
            entries = _index_list(self.path)
        else:
            entries = _index_tar(self.path, prefix="")
        if not entries:
            raise DensityFileError(self.path, "holds no density files")
        self._entries = entries
        self._handles: dict[Path, IO[bytes]] = {}
        self._pid = os.getpid()

    # ------------------------------------------------------------------ sequence protocol
    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> DensityGrid:  # type: ignore[override]
        if not isinstance(index, int):
            index = int(index)  # numpy / torch integers
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} densities")
        entry = self._entries[index]
        data = self._read(entry)
        name, suffix = split_compression(entry.member or entry.path.name)
        data = decompress(data, suffix, source=entry.source)
        return parse_density(data, dataset_format(name), entry.source, pbc=self.pbc)

    @property
    def names(self) -> list[str]:
        """Name of each density: file name, archive member name, or ``archive.tar:member`` for lists."""
        return [e.name for e in self._entries]

    @property
    def sources(self) -> list[str]:
        """Where each density is read from (``path`` or ``archive.tar:member``)."""
        return [e.source for e in self._entries]

    def __repr__(self) -> str:
        return f"DensityDataset({str(self.path)!r}, {len(self)} densities)"

    # ------------------------------------------------------------------ file access
    def _read(self, entry: _Entry) -> bytes:
        if not entry.member:
            return read_bytes_raw(entry.path)
        handle = self._handle(entry.path)
        try:
            handle.seek(entry.offset)
            data = handle.read(entry.size)
        except OSError as exc:
            raise DensityFileError(entry.source, f"cannot read archive member ({exc})") from exc
        if len(data) != entry.size:
            raise DensityFileError(
                entry.source, f"archive member is truncated ({len(data)} of {entry.size} bytes readable)"
            )
        return data

    def _handle(self, archive: Path) -> IO[bytes]:
        if os.getpid() != self._pid:  # forked worker: never share the parent's file positions
            self._handles = {}
            self._pid = os.getpid()
        handle = self._handles.get(archive)
        if handle is None:
            try:
                handle = open(archive, "rb")  # kept open for repeated access
            except OSError as exc:
                raise DensityFileError(archive, f"cannot open archive ({exc.strerror or exc})") from exc
            self._handles[archive] = handle
        return handle

    def close(self) -> None:
        """Close the archive file handles of this process (they reopen on the next access)."""
        if os.getpid() == self._pid:
            for handle in self._handles.values():
                handle.close()
        self._handles = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # e.g. at interpreter shutdown
            self.close()


def read_bytes_raw(path: Path) -> bytes:
    """A plain file's bytes, without decompression (the dataset decompresses by member name)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DensityFileError(path, f"cannot read ({exc.strerror or exc})") from exc


def _index_directory(directory: Path) -> list[_Entry]:
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    keep = [p for p in files if not split_compression(p.name)[0].lower().endswith(SIDE_FILE_SUFFIXES)]
    if len(keep) < len(files):
        log.debug("%s: skipping %d side files", directory, len(files) - len(keep))
    return [_Entry(name=p.name, path=p) for p in keep]


def _index_tar(archive: Path, prefix: str) -> list[_Entry]:
    """Offsets and sizes of the regular-file members of an uncompressed tar archive."""
    _, compression = split_compression(archive.name)
    if compression is not None or archive.name.endswith((".tgz", ".tbz2", ".txz")):
        raise DensityFileError(
            archive,
            "a compressed archive cannot be read member by member; use an uncompressed .tar "
            f"(members may be compressed one by one: {', '.join(COMPRESSIONS)})",
        )
    try:
        with tarfile.open(archive, mode="r:") as tar:
            members = [m for m in tar if m.isfile()]
    except FileNotFoundError as exc:
        raise DensityFileError(archive, "no such file") from exc
    except (tarfile.TarError, OSError) as exc:
        raise DensityFileError(archive, f"not a readable uncompressed tar archive ({exc})") from exc
    log.debug("%s: indexed %d members", archive, len(members))
    return [
        _Entry(name=prefix + m.name, path=archive, offset=m.offset_data, size=m.size, member=m.name) for m in members
    ]


def _index_list(listing: Path) -> list[_Entry]:
    """A ``.txt`` file naming tar archives (relative to its directory), one per line; ``#`` comments."""
    entries: list[_Entry] = []
    text = read_bytes(listing).decode("utf-8", errors="replace")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        archive = Path(line) if Path(line).is_absolute() else listing.parent / line
        if not archive.is_file():
            raise DensityFileError(listing, f"lists {line!r}, but {archive} is not a file")
        entries += _index_tar(archive, prefix=f"{line}:")
    return entries
