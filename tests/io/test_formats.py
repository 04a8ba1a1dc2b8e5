"""read_density / write_density: format by name, compression, numpy files, atomic writes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import rhograph
from rhograph.errors import DensityFileError
from rhograph.io import formats
from rhograph.io.formats import density_format, read_density, write_density


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("water.cube", "cube"),
        ("water.CUB.gz", "cube"),
        ("CHGCAR", "vasp"),
        ("mp-149_CHGCAR.lz4", "vasp"),
        ("struct_000.CHGCAR", "vasp"),
        ("CHG", "vasp"),
        ("AECCAR2.zz", "vasp"),
        ("PARCHG.0012.ALLK", "vasp"),
        ("si.vasp.zst", "vasp"),
        ("LOCPOT", "vasp-raw"),
        ("ELFCAR.gz", "vasp-raw"),
        ("pred.npz", "npz"),
        ("pred.npy", "npy"),
    ],
)
def test_format_by_name(name: str, fmt: str) -> None:
    assert density_format(Path("some/dir") / name) == fmt


def test_unknown_format_lists_the_accepted_ones(tmp_path: Path) -> None:
    with pytest.raises(DensityFileError, match=r"density\.txt: unknown density file format; accepted: \*\.cube"):
        read_density(tmp_path / "density.txt")
    with pytest.raises(DensityFileError, match="unknown density file format"):
        write_density(tmp_path / "density.xyz", None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["x.cube", "x.cube.gz", "x.CHGCAR.lz4", "CHGCAR.zz", "x.vasp.zst", "x.npz"])
def test_write_then_read_by_name(tmp_path: Path, make_grid, name: str) -> None:
    grid = make_grid(spin=name.endswith(("npz", "lz4")))
    write_density(tmp_path / name, grid)
    back = read_density(tmp_path / name)
    np.testing.assert_allclose(back.values, grid.values, rtol=1.2e-7, atol=0)
    np.testing.assert_allclose(back.atoms.positions, grid.atoms.positions, atol=1e-8)
    assert back.electrons == pytest.approx(grid.electrons, rel=1e-6)
    assert back.pbc.all() == (density_format(name) != "cube")
    if grid.spin is not None:
        np.testing.assert_array_equal(back.spin, grid.spin)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_npz_holds_everything_and_npy_only_values(tmp_path: Path, make_grid) -> None:
    grid = make_grid(origin=(1.0, 2.0, 3.0), pbc=False)
    grid.fields["iri"] = np.ones(grid.shape, np.float32)
    write_density(tmp_path / "g.npz", grid)
    with np.load(tmp_path / "g.npz") as archive:
        assert {"values", "cell", "origin", "numbers", "positions", "pbc", "iri"} <= set(archive.files)
        np.testing.assert_array_equal(archive["numbers"], [14, 14, 8])
    back = read_density(tmp_path / "g.npz")
    np.testing.assert_array_equal(back.values, grid.values)
    np.testing.assert_array_equal(back.origin, grid.origin)
    np.testing.assert_array_equal(back.fields["iri"], grid.fields["iri"])
    assert not back.pbc.any()
    write_density(tmp_path / "g.npy", grid)
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), grid.values)
    with pytest.raises(DensityFileError, match=r"g\.npy: a \.npy file holds only the values"):
        read_density(tmp_path / "g.npy")


def test_bad_npz(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DensityFileError, match=r"junk\.npz: not an npz density or label \(not a zip archive\)"):
        read_density(tmp_path / "junk.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 but no archive")
    with pytest.raises(DensityFileError, match=r"broken\.npz: not a readable \.npz"):
        read_density(tmp_path / "broken.npz")
    buffer = io.BytesIO()
    np.savez(buffer, values=np.ones((2, 2, 2)))
    (tmp_path / "part.npz").write_bytes(buffer.getvalue())
    with pytest.raises(DensityFileError, match=r"part\.npz: \.npz archive lacks \['cell'"):
        read_density(tmp_path / "part.npz")


def test_locpot_values_are_not_divided_by_the_volume(tmp_path: Path, make_grid) -> None:
    grid = make_grid()
    write_density(tmp_path / "LOCPOT", grid)
    stored = np.array((tmp_path / "LOCPOT").read_text().split("    6    7    9\n")[1].split(), dtype=float)
    np.testing.assert_allclose(stored, grid.values.ravel(order="F"), rtol=6e-11)
    np.testing.assert_array_equal(read_density(tmp_path / "LOCPOT").values, grid.values)


def test_pbc_override(tmp_path: Path, make_grid) -> None:
    write_density(tmp_path / "a.cube", make_grid())
    write_density(tmp_path / "CHGCAR", make_grid())
    assert read_density(tmp_path / "a.cube", pbc=True).pbc.all()
    assert not read_density(tmp_path / "CHGCAR", pbc=False).pbc.any()


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, make_grid, monkeypatch) -> None:
    target = tmp_path / "x.cube.gz"
    write_density(target, make_grid(seed=1))
    before = target.read_bytes()

    def broken_compress(data: bytes, suffix: str | None) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr("rhograph.io.compression.compress", broken_compress)
    with pytest.raises(OSError, match="disk full"):
        write_density(target, make_grid(seed=2))
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.cube.gz"]


def test_top_level_names() -> None:
    assert rhograph.read_density is formats.read_density
    assert rhograph.write_density is formats.write_density
