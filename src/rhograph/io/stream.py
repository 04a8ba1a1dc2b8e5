"""Write a density file piece by piece, so that a grid never has to be held in memory whole.

:class:`DensityFileStream` writes the header of a cube, CHGCAR or ``.npy`` file, then takes the values in the
file's own order (:attr:`DensityFileStream.order`: ``"C"``, last index fastest, for cube and ``.npy``; ``"F"``,
first index fastest, for CHGCAR) in pieces of any length, and formats and compresses them as they come.
The bytes are the same as those :func:`rhograph.io.formats.write_density` writes for the whole grid (tested).
The file appears atomically when the stream is closed after the last value; a stream closed early (an
exception, Ctrl-C) leaves no file behind. ``.npz`` archives cannot be streamed.

Memory: a piece being formatted (about 20 bytes of text per value), plus the values of at most one
unfinished line (CHGCAR) or grid row (cube).
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import IO

import ase
import numpy as np

from rhograph.errors import ConfigError
from rhograph.io.compression import split_compression

#: Formats :class:`DensityFileStream` writes (names of :func:`rhograph.io.formats.density_format`).
STREAMABLE_FORMATS = ("cube", "vasp", "vasp-raw", "npy")
#: Bytes per value of each format, uncompressed (text: the field width plus the share of a newline).
BYTES_PER_VALUE = {"cube": 16 + 1 / 6, "vasp": 18 + 1 / 5, "vasp-raw": 18 + 1 / 5, "npy": 4}
#: Lower bound of the size of compressed density text relative to the text, for the disk-space check only
COMPRESSED_FRACTION = 0.1


class _Compressor:
    """A writable file object that compresses into ``raw`` as :func:`rhograph.io.compression.compress` does."""

    def __init__(self, raw: IO[bytes], suffix: str) -> None:
        self.raw, self.suffix = raw, suffix
        if suffix == ".gz":
            self._file: IO[bytes] | None = gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0)
        elif suffix == ".zz":
            self._file, self._zlib = None, zlib.compressobj(6)
        elif suffix == ".lz4":
            import lz4.frame

            self._file = lz4.frame.LZ4FrameFile(raw, mode="wb")
        elif suffix == ".zst":
            import zstandard

            self._file = zstandard.ZstdCompressor(level=9).stream_writer(raw, closefd=False)
        else:
            raise ConfigError(f"unknown compression {suffix!r}")

    def write(self, data: bytes) -> None:
        if self._file is None:
            self.raw.write(self._zlib.compress(data))
        else:
            self._file.write(data)

    def close(self) -> None:
        if self._file is None:
            self.raw.write(self._zlib.flush())
        else:
            self._file.close()


class DensityFileStream:
    """A density file written in pieces (see the module docstring).

    Args:
        path: the output file; its name chooses the format and compression as for ``write_density``.
        atoms: the structure (Å) written in the header.
        cell: (3, 3) Å, rows span the grid.
        origin: (3,) Å, position of grid point (0, 0, 0).
        shape: (N1, N2, N3).

    Use as a context manager; :meth:`write` the ``N1·N2·N3`` values (e/Å³) in :attr:`order`.

    Raises:
        ConfigError: a format that cannot be streamed (``.npz``).
        OutputError: the file cannot be written (disk full, read-only folder), from :meth:`__enter__` or later.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        atoms: ase.Atoms,
        cell: np.ndarray,
        origin: np.ndarray,
        shape: tuple[int, int, int],
    ) -> None:
        from rhograph.io.formats import density_format

        self.path = Path(path)
        self.format = density_format(self.path)
        if self.format not in STREAMABLE_FORMATS:
            raise ConfigError(
                f"{self.path}: {self.format} files cannot be written piece by piece; use .cube, CHGCAR or .npy"
            )
        self.atoms, self.cell, self.origin = (
            atoms,
            np.asarray(cell, dtype=np.float64),
            np.asarray(origin, dtype=np.float64),
        )
        self.shape = tuple(int(n) for n in shape)
        self.total = int(np.prod(self.shape))
        self.order = "F" if self.format in ("vasp", "vasp-raw") else "C"
        self.written = 0
        self._pending = np.zeros(0, dtype=np.float32)
        self._stack: ExitStack | None = None
        self._out: IO[bytes] | _Compressor | None = None
        self.compressed = split_compression(self.path.name)[1] is not None
        self.estimated_bytes = int(BYTES_PER_VALUE[self.format] * self.total)

    def check_space(self, source: str = "<structure>") -> None:
        """Refuse, before any work, a file larger than the free space of its disk (compressed files: when even
        :data:`COMPRESSED_FRACTION` of their text would not fit).

        Raises:
            ResourceError: naming the file, the size it needs and the space there is.
        """
        import shutil

        from rhograph.errors import ResourceError

        folder = self.path.resolve().parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        free = shutil.disk_usage(folder).free
        need = self.estimated_bytes * (COMPRESSED_FRACTION if self.compressed else 1.0)
        if need > free:
            size = f"at least {need / 2**30:.1f} GiB compressed" if self.compressed else f"{need / 2**30:.1f} GiB"
            raise ResourceError(
                f"{source}: {self.path} for a grid of {self.total:,} points {self.shape} needs {size}, more than the "
                f"{free / 2**30:.1f} GiB free on its disk; use a coarser --grid-step, a .npy file (4 bytes per "
                "point) or a compressed name (.gz, .zst)"
            )

    # the unit of formatting: whole lines (CHGCAR: 5 values) or whole grid rows (cube: N3 values)
    @property
    def _unit(self) -> int:
        from rhograph.io.chgcar import VALUES_PER_LINE

        return {"cube": self.shape[2], "npy": 1}.get(self.format, VALUES_PER_LINE)

    def __enter__(self) -> DensityFileStream:
        from rhograph.io.atomic import atomic_path

        stack = ExitStack()
        try:
            tmp = stack.enter_context(atomic_path(self.path))
            raw = stack.enter_context(open(tmp, "wb"))
            suffix = split_compression(self.path.name)[1]
            self._out = raw if suffix is None else _Compressor(raw, suffix)
            self._out.write(self._header())
        except BaseException:
            stack.__exit__(*sys.exc_info())
            raise
        self._stack = stack
        return self

    def _header(self) -> bytes:
        if self.format == "cube":
            from rhograph.io.cube import cube_header

            return cube_header(self.atoms, self.cell, self.origin, self.shape)  # type: ignore[arg-type]
        if self.format in ("vasp", "vasp-raw"):
            from rhograph.io.chgcar import chgcar_header

            return chgcar_header(self.atoms, self.cell, self.origin, self.shape)  # type: ignore[arg-type]
        buffer = io.BytesIO()
        header = {
            "descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
            "fortran_order": False,
            "shape": self.shape,
        }
        np.lib.format.write_array_header_1_0(buffer, header)
        return buffer.getvalue()

    def _format(self, values: np.ndarray) -> bytes:
        if self.format == "cube":
            from rhograph.io.cube import cube_values

            return cube_values(values, self.shape[2])
        if self.format in ("vasp", "vasp-raw"):
            from rhograph.io.chgcar import chgcar_values

            volume = abs(float(np.linalg.det(self.cell))) if self.format == "vasp" else 1.0
            return chgcar_values(values, volume)
        return np.ascontiguousarray(values, dtype="<f4").tobytes()

    def write(self, values: np.ndarray) -> None:
        """Append the next values (e/Å³, any length, in :attr:`order`)."""
        if self._out is None:
            raise RuntimeError("DensityFileStream.write outside its `with` block")
        values = np.asarray(values, dtype=np.float32).reshape(-1)
        if self.written + len(values) > self.total:
            raise ValueError(f"{self.path}: {self.written + len(values)} values for a grid of {self.total}")
        self.written += len(values)
        if len(self._pending):
            values = np.concatenate([self._pending, values])
        whole = len(values) - len(values) % self._unit
        if whole:
            self._out.write(self._format(values[:whole]))
        self._pending = values[whole:].copy()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool | None:
        assert self._stack is not None and self._out is not None
        stack, self._stack = self._stack, None
        try:
            if kind is None:
                if self.written != self.total:
                    raise ValueError(f"{self.path}: {self.written} values written of the grid's {self.total}")
                if len(self._pending):  # the short last line of a CHGCAR
                    self._out.write(self._format(self._pending))
                if isinstance(self._out, _Compressor):
                    self._out.close()
        except BaseException:
            stack.__exit__(*sys.exc_info())  # removes the temporary file
            raise
        return stack.__exit__(kind, error, trace)
