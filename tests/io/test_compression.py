"""Per-file compression by suffix: .gz, .zz (zlib), .lz4 (lz4 frame), .zst (zstandard)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import lz4.frame
import pytest
import zstandard

from rhograph.errors import DensityFileError
from rhograph.io.compression import (
    COMPRESSIONS,
    compress,
    decompress,
    read_bytes,
    read_input,
    split_compression,
    write_bytes,
)

PAYLOAD = b"CHGCAR text\n" + bytes(range(256)) * 50

STANDARD = {
    ".gz": gzip.decompress,
    ".zz": zlib.decompress,
    ".lz4": lz4.frame.decompress,
    ".zst": lambda data: zstandard.ZstdDecompressor().decompress(data),
}


@pytest.mark.parametrize("suffix", list(COMPRESSIONS))
def test_write_and_read_each_suffix(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"CHGCAR{suffix}"
    write_bytes(path, PAYLOAD)
    assert STANDARD[suffix](path.read_bytes()) == PAYLOAD  # a standard tool can open it
    assert read_bytes(path) == PAYLOAD
    assert decompress(compress(PAYLOAD, suffix), suffix) == PAYLOAD
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_streamed_zstd_frames_without_content_size_are_read(tmp_path: Path) -> None:
    compressor = zstandard.ZstdCompressor()
    chunks = compressor.compressobj()
    data = chunks.compress(PAYLOAD) + chunks.flush()
    assert decompress(data, ".zst") == PAYLOAD


def test_split_compression() -> None:
    assert split_compression("a/b.CHGCAR.lz4") == ("a/b.CHGCAR", ".lz4")
    assert split_compression(Path("x.cube.gz")) == ("x.cube", ".gz")
    assert split_compression("CHGCAR") == ("CHGCAR", None)


@pytest.mark.parametrize("suffix", list(COMPRESSIONS))
def test_corrupt_data_names_the_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"broken.cube{suffix}"
    path.write_bytes(compress(PAYLOAD, suffix)[:-30] + b"\x00" * 3)
    with pytest.raises(DensityFileError, match=rf"broken\.cube\{suffix}: corrupt {COMPRESSIONS[suffix]} data"):
        read_bytes(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DensityFileError, match="no such file"):
        read_bytes(tmp_path / "missing.gz")
    with pytest.raises(DensityFileError, match="is a directory"):
        read_bytes(tmp_path)


def test_read_input_accepts_bytes_and_streams(tmp_path: Path) -> None:
    import io

    assert read_input(PAYLOAD) == (PAYLOAD, "<bytes>")
    assert read_input(io.BytesIO(PAYLOAD), source="s") == (PAYLOAD, "s")
    write_bytes(tmp_path / "f.zz", PAYLOAD)
    assert read_input(tmp_path / "f.zz") == (PAYLOAD, str(tmp_path / "f.zz"))
