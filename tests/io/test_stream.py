"""Density files written piece by piece (:mod:`rhograph.io.stream`) equal the files written whole."""

from __future__ import annotations

import shutil
from collections import namedtuple

import numpy as np
import pytest
from ase.build import molecule

from rhograph.errors import ConfigError, ResourceError
from rhograph.io.compression import read_bytes
from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import read_density, write_density
from rhograph.io.stream import DensityFileStream


@pytest.fixture
def grid():
    atoms = molecule("CH3OH")
    atoms.center(2.5)
    values = np.random.default_rng(3).gamma(0.5, 0.2, size=(13, 11, 7)).astype(np.float32)
    values[0, 0, :3] = [0.0, -1e-3, 1e-120]  # zero, negative (a model's), below the text range
    return DensityGrid(atoms=atoms, values=values, cell=atoms.cell.array, origin=np.array([0.1, -0.2, 0.3]))


def _stream(path, grid, sizes):
    with DensityFileStream(path, grid.atoms, grid.cell, grid.origin, grid.shape) as stream:
        flat = grid.values.ravel(order=stream.order)
        start = 0
        for size in sizes:
            stream.write(flat[start : start + size])
            start += size
        stream.write(flat[start:])
    return stream


@pytest.mark.parametrize("name", ["d.cube", "d_CHGCAR", "d.vasp", "d.npy"])
@pytest.mark.parametrize("sizes", [[], [1] * 40, [5, 7, 77, 6, 500], [13 * 11 * 7]])
def test_streamed_file_is_the_file_written_whole(tmp_path, grid, name, sizes):
    write_density(tmp_path / f"whole_{name}", grid)
    _stream(tmp_path / name, grid, sizes)
    assert (tmp_path / name).read_bytes() == (tmp_path / f"whole_{name}").read_bytes()


@pytest.mark.parametrize("name", ["d.cube.gz", "d_CHGCAR.zst", "d.cube.zz", "d.npy.lz4"])
def test_streamed_compressed_file_holds_the_same_text(tmp_path, grid, name):
    write_density(tmp_path / f"whole_{name}", grid)
    _stream(tmp_path / name, grid, [100, 3, 333])
    assert read_bytes(tmp_path / name) == read_bytes(tmp_path / f"whole_{name}")
    if not name.endswith(".npy.lz4"):
        back = read_density(tmp_path / name)
        np.testing.assert_allclose(back.values, grid.values, rtol=1e-7, atol=1e-30)


def test_unfinished_stream_leaves_no_file(tmp_path, grid):
    with pytest.raises(ValueError, match=r"1000 values written of the grid's 1001"):
        with DensityFileStream(tmp_path / "d.cube", grid.atoms, grid.cell, grid.origin, grid.shape) as stream:
            stream.write(grid.values.ravel()[:1000])
    with pytest.raises(KeyboardInterrupt):
        with DensityFileStream(tmp_path / "d_CHGCAR.gz", grid.atoms, grid.cell, grid.origin, grid.shape) as stream:
            stream.write(grid.values.ravel()[:500])
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_too_many_values_and_unstreamable_formats_are_refused(tmp_path, grid):
    with pytest.raises(ValueError, match=r"1002 values for a grid of 1001"):
        with DensityFileStream(tmp_path / "d.npy", grid.atoms, grid.cell, grid.origin, grid.shape) as stream:
            stream.write(np.zeros(1002))
    with pytest.raises(ConfigError, match=r"d\.npz: npz files cannot be written piece by piece"):
        DensityFileStream(tmp_path / "d.npz", grid.atoms, grid.cell, grid.origin, grid.shape)
    assert list(tmp_path.iterdir()) == []


def test_file_larger_than_the_free_disk_is_refused(tmp_path, grid, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 0, 10**6))
    shape = (100, 100, 100)  # cube text: 16.2 MB; gzip: at least 1.6 MB; npy: 4 MB
    for name, fits in (("a.cube", False), ("a.cube.gz", False), ("a.npy", False), ("sub/dir/a.npy.gz", True)):
        stream = DensityFileStream(tmp_path / name, grid.atoms, grid.cell, grid.origin, shape)
        if fits:
            stream.check_space("water")
        else:
            with pytest.raises(ResourceError, match=r"water: .*1,000,000 points .* GiB free on its disk"):
                stream.check_space("water")
