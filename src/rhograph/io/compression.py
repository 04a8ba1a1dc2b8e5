"""Per-file compression chosen by the file-name suffix: ``.gz``, ``.zz`` (zlib), ``.lz4`` (lz4 frame), ``.zst``.

Density files are read whole into memory (a 200³ CHGCAR is ~150 MB of text), so the helpers work on bytes:
:func:`read_bytes` / :func:`write_bytes` for files, :func:`decompress` / :func:`compress` for archive members.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import IO

from rhograph.errors import ConfigError, DensityFileError

#: compression suffix -> short description (for messages and docs)
COMPRESSIONS: dict[str, str] = {
    ".gz": "gzip",
    ".zz": "zlib",
    ".lz4": "lz4 frame",
    ".zst": "zstandard",
}


def split_compression(name: str | os.PathLike[str]) -> tuple[str, str | None]:
    """Split ``"x.CHGCAR.lz4"`` into ``("x.CHGCAR", ".lz4")``; the suffix is ``None`` if not compressed."""
    text = os.fspath(name)
    for suffix in COMPRESSIONS:
        if text.endswith(suffix):
            return text[: -len(suffix)], suffix
    return text, None


def decompress(data: bytes, suffix: str | None, *, source: str | os.PathLike[str] = "<data>") -> bytes:
    """Decompress ``data`` compressed as ``suffix`` (``None`` returns it unchanged).

    Raises:
        DensityFileError: corrupt or truncated compressed data (names ``source``).
    """
    if suffix is None:
        return data
    try:
        if suffix == ".gz":
            return gzip.decompress(data)
        if suffix == ".zz":
            return zlib.decompress(data)
        if suffix == ".lz4":
            import lz4.frame

            return lz4.frame.decompress(data)
        if suffix == ".zst":
            import zstandard

            return _zstd_decompress(data, zstandard)
    except Exception as exc:  # each library raises its own error type
        raise DensityFileError(source, f"corrupt {COMPRESSIONS[suffix]} data ({exc})") from exc
    raise ConfigError(f"unknown compression {suffix!r}; choose one of {list(COMPRESSIONS)}")


def _zstd_decompress(data: bytes, zstandard) -> bytes:
    """All frames of ``data`` (with or without a content size); a truncated last frame is an error."""
    parts = []
    while data:
        obj = zstandard.ZstdDecompressor().decompressobj()
        parts.append(obj.decompress(data))
        if not obj.eof:
            raise ValueError("truncated zstandard frame")
        data = obj.unused_data
    return b"".join(parts)


def compress(data: bytes, suffix: str | None) -> bytes:
    """Compress ``data`` as ``suffix`` (``None`` returns it unchanged). Output is reproducible (no mtime)."""
    if suffix is None:
        return data
    if suffix == ".gz":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if suffix == ".zz":
        return zlib.compress(data, 6)
    if suffix == ".lz4":
        import lz4.frame

        return lz4.frame.compress(data)
    if suffix == ".zst":
        import zstandard

        return zstandard.ZstdCompressor(level=9).compress(data)
    raise ConfigError(f"unknown compression {suffix!r}; choose one of {list(COMPRESSIONS)}")


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a file whole, decompressing by its suffix.

    Raises:
        DensityFileError: missing or unreadable file, or corrupt compressed data.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise DensityFileError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise DensityFileError(path, "is a directory, not a density file") from exc
    except OSError as exc:
        raise DensityFileError(path, f"cannot read ({exc.strerror or exc})") from exc
    return decompress(data, split_compression(path.name)[1], source=path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` atomically (via :func:`rhograph.io.atomic.atomic_path`), compressing by the suffix."""
    from rhograph.io.atomic import atomic_path

    path = Path(path)
    payload = compress(data, split_compression(path.name)[1])
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)


def read_input(
    file: str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes], source: str | None = None
) -> tuple[bytes, str]:
    """Bytes of a path (decompressed by suffix), a bytes object or a binary file object, and a name for messages.

    Args:
        file: what to read. A path is decompressed by its suffix; bytes and file objects (read to their
            end) are taken as they are.
        source: name used in error messages; defaults to the path or the file object's ``name``.
    """
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file), source or "<bytes>"
    if isinstance(file, (str, os.PathLike)):
        return read_bytes(file), source or os.fspath(file)
    name = getattr(file, "name", None)
    data = file.read()
    if isinstance(data, str):
        data = data.encode()
    return data, source or (str(name) if name is not None else "<stream>")
