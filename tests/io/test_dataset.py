"""DensityDataset over a directory, an uncompressed tar (per-member compression) or a .txt list of tars."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from rhograph.errors import DensityFileError
from rhograph.io.chgcar import chgcar_bytes
from rhograph.io.compression import compress
from rhograph.io.cube import cube_bytes
from rhograph.io.dataset import DensityDataset
from rhograph.io.formats import write_density

MEMBERS = ["mol_000.cube.zz", "mol_001.CHGCAR.lz4", "sub/mol_002.gz", "mol_003", "mol_004.cube.zst"]


def _member_bytes(name: str, grid) -> bytes:
    plain, _, suffix = name.rpartition(".") if name.endswith((".zz", ".lz4", ".gz", ".zst")) else (name, "", "")
    text = cube_bytes(grid) if ".cube" in plain else chgcar_bytes(grid)  # no name rule: VASP
    return compress(text, f".{suffix}" if suffix else None)


def _write_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def grids(make_grid) -> list:
    return [make_grid(shape=(4, 5, 6), seed=i) for i in range(len(MEMBERS))]


@pytest.fixture
def archive(tmp_path: Path, grids) -> Path:
    return _write_tar(tmp_path / "data.tar", {n: _member_bytes(n, g) for n, g in zip(MEMBERS, grids, strict=True)})


def test_tar_members_random_access(archive: Path, grids) -> None:
    ds = DensityDataset(archive)
    assert len(ds) == len(MEMBERS) and ds.names == MEMBERS
    assert ds.sources[2] == f"{archive}:sub/mol_002.gz"
    for index in (3, 0, 4, -1, 1, 2):
        grid = ds[index]
        np.testing.assert_allclose(grid.values, grids[index].values, rtol=1.2e-7, atol=0)
        assert grid.source == f"{archive}:{MEMBERS[index]}"
        assert grid.pbc.all() == (".cube" not in MEMBERS[index])
    with pytest.raises(IndexError):
        ds[len(MEMBERS)]
    assert [p.name for p in archive.parent.iterdir()] == ["data.tar"]  # nothing extracted
    assert DensityDataset(archive, pbc=True)[0].pbc.all()


def test_directory(tmp_path: Path, grids) -> None:
    for i, grid in enumerate(grids[:3]):
        write_density(tmp_path / f"s{2 - i}.CHGCAR.gz", grid)
    (tmp_path / "README.txt").write_text("side file")
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / "split.json").write_text("{}")
    (tmp_path / "label.lock").write_text('{"pid": 1}')  # a labelling run still writing into the folder
    ds = DensityDataset(tmp_path)
    assert ds.names == ["s0.CHGCAR.gz", "s1.CHGCAR.gz", "s2.CHGCAR.gz"]
    np.testing.assert_array_equal(ds[0].values, grids[2].values)


def test_txt_list_of_tars(tmp_path: Path, grids) -> None:
    (tmp_path / "parts").mkdir()
    _write_tar(tmp_path / "parts" / "a.tar", {"x.CHGCAR": chgcar_bytes(grids[0])})
    _write_tar(
        tmp_path / "parts" / "b.tar",
        {"y.cube": cube_bytes(grids[1]), "z.cube.gz": compress(cube_bytes(grids[2]), ".gz")},
    )
    listing = tmp_path / "datasets.txt"
    listing.write_text("# training parts\nparts/a.tar\n\nparts/b.tar\n")
    ds = DensityDataset(listing)
    assert ds.names == ["parts/a.tar:x.CHGCAR", "parts/b.tar:y.cube", "parts/b.tar:z.cube.gz"]
    np.testing.assert_allclose(ds[2].values, grids[2].values, rtol=1.2e-7)
    listing.write_text("parts/missing.tar\n")
    with pytest.raises(DensityFileError, match=r"datasets\.txt: lists 'parts/missing\.tar'"):
        DensityDataset(listing)


def test_corrupt_and_malformed_members_name_archive_and_member(tmp_path: Path, grids) -> None:
    good = chgcar_bytes(grids[0])
    archive = _write_tar(
        tmp_path / "bad.tar",
        {
            "ok.CHGCAR": good,
            "broken.CHGCAR.lz4": compress(good, ".lz4")[:-50],
            "short.CHGCAR": good[: len(good) // 2],
        },
    )
    ds = DensityDataset(archive)
    assert ds[0].electrons == pytest.approx(grids[0].electrons, rel=1e-6)
    with pytest.raises(DensityFileError, match=r"bad\.tar:broken\.CHGCAR\.lz4: corrupt lz4 frame data"):
        ds[1]
    with pytest.raises(DensityFileError, match=r"bad\.tar:short\.CHGCAR: density block: cannot read"):
        ds[2]


def test_archive_truncated_after_indexing(archive: Path) -> None:
    ds = DensityDataset(archive)
    size = archive.stat().st_size
    with open(archive, "r+b") as fh:
        fh.truncate(size // 2)
    with pytest.raises(DensityFileError, match=r"data\.tar:mol_004\.cube\.zst: archive member is truncated"):
        ds[4]


def test_bad_dataset_paths(tmp_path: Path) -> None:
    with pytest.raises(DensityFileError, match="no such file or directory"):
        DensityDataset(tmp_path / "nothing.tar")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DensityFileError, match="holds no density files"):
        DensityDataset(tmp_path / "empty")
    (tmp_path / "data.tar.gz").write_bytes(compress(b"whatever", ".gz"))
    with pytest.raises(DensityFileError, match="compressed archive cannot be read member by member"):
        DensityDataset(tmp_path / "data.tar.gz")
    (tmp_path / "junk.tar").write_bytes(b"\x01" * 1000)
    with pytest.raises(DensityFileError, match=r"junk\.tar: not a readable uncompressed tar archive"):
        DensityDataset(tmp_path / "junk.tar")


def test_pickles_without_file_handles(archive: Path) -> None:
    ds = DensityDataset(archive)
    first = ds[1].values
    assert ds._handles  # opened lazily by the access above
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._handles == {}
    np.testing.assert_array_equal(clone[1].values, first)


def _electrons(batch: list) -> list[float]:
    return [grid.electrons for grid in batch]


def test_dataloader_workers_after_fork(archive: Path) -> None:
    torch = pytest.importorskip("torch")

    ds = DensityDataset(archive)
    expected = [ds[i].electrons for i in range(len(ds))]  # the parent holds an open handle before forking
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, collate_fn=_electrons)
    got = [e for batch in loader for e in batch]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
