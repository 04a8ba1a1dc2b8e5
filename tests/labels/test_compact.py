"""Compact labels (basis + density matrix): same density as the grid files, far smaller, probe sampling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("pyscf")

from rhograph.errors import DensityFileError
from rhograph.io.formats import read_density
from rhograph.labels import CompactDensity, CompactSource

from .conftest import VALENCE_ELECTRONS


@pytest.mark.parametrize(("name", "grid_file"), [("water", "water.cube"), ("lih", "lih_CHGCAR")])
def test_compact_evaluation_equals_the_grid_file(labelled, name, grid_file):
    out, _ = labelled
    grid = read_density(out / grid_file)
    compact = CompactDensity.load(out / f"{name}.dm.npz")
    flat = np.random.default_rng(0).choice(grid.num_points, size=2000, replace=False)
    expected = grid.values.reshape(-1)[flat]
    values = compact.evaluate(grid.grid_positions(flat))
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-7 * grid.values.max())
    rebuilt = compact.to_grid()
    assert rebuilt.shape == grid.shape
    np.testing.assert_allclose(rebuilt.cell, grid.cell, atol=1e-5)
    np.testing.assert_allclose(rebuilt.values, grid.values, rtol=1e-5, atol=1e-7 * grid.values.max())
    assert compact.electrons == VALENCE_ELECTRONS[name]
    assert compact.electrons_exact == pytest.approx(VALENCE_ELECTRONS[name], abs=1e-6)


def test_compact_label_is_much_smaller_than_the_grid(labelled):
    out, _ = labelled
    ratio = (out / "water.cube").stat().st_size / (out / "water.dm.npz").stat().st_size
    assert ratio > 100


def test_compact_density_is_periodic_in_a_cell(labelled):
    out, _ = labelled
    compact = CompactDensity.load(out / "lih.dm.npz")
    points = np.random.default_rng(1).uniform(0, 3, size=(50, 3))
    shifted = points + compact.atoms.cell.array[0] - 2 * compact.atoms.cell.array[2]
    np.testing.assert_allclose(compact.evaluate(shifted), compact.evaluate(points), rtol=1e-8, atol=1e-10)


def test_compact_grid_at_another_spacing_keeps_the_electron_count(labelled):
    out, _ = labelled
    grid = CompactDensity.load(out / "h2.dm.npz").to_grid(spacing=0.12)
    assert max(np.linalg.norm(grid.voxel_vectors, axis=1)) <= 0.12 + 1e-9
    assert grid.electrons == pytest.approx(2.0, rel=1e-3)


def test_probes_are_uniform_in_the_box_and_reproducible(labelled):
    out, _ = labelled
    compact = CompactDensity.load(out / "water.dm.npz")
    positions, density = compact.draw_probes(500, np.random.default_rng(3))
    assert positions.shape == (500, 3) and density.shape == (500,) and density.dtype == np.float32
    frac = np.linalg.solve(compact.cell.T, (positions - compact.origin).T).T
    assert frac.min() >= 0.0 and frac.max() < 1.0
    np.testing.assert_allclose(density, compact.evaluate(positions), rtol=1e-6)
    a, b = compact.fixed_probes(100, seed=7), compact.fixed_probes(100, seed=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_compact_density_is_a_training_probe_target(labelled):
    from rhograph.data.pool import ProbeTarget

    out, _ = labelled
    source = CompactSource.from_path(out)
    assert len(source) == 3
    assert [p.rsplit("/", 1)[-1] for p in source.paths] == ["h2.dm.npz", "lih.dm.npz", "water.dm.npz"]
    target = source[2]
    assert isinstance(target, ProbeTarget)
    target.evaluate(np.zeros((1, 3)))  # builds the PySCF object, which must not be pickled
    clone = pickle.loads(pickle.dumps(target))
    np.testing.assert_allclose(clone.evaluate(np.zeros((1, 3))), target.evaluate(np.zeros((1, 3))))


def test_bad_compact_files_are_reported_with_their_name(tmp_path, labelled):
    bad = tmp_path / "junk.dm.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(DensityFileError, match=r"junk\.dm\.npz"):
        CompactDensity.load(bad)
    out, _ = labelled
    with np.load(out / "h2.dm.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if k != "dm_tril"}
    partial = tmp_path / "partial.dm.npz"
    np.savez(partial, **arrays)
    with pytest.raises(DensityFileError, match="dm_tril"):
        CompactDensity.load(partial)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DensityFileError, match="no compact density"):
        CompactSource.from_path(empty)
