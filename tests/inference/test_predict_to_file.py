"""Prediction streamed to a file (``predict_to_file``, ``rhograph predict`` to cube/CHGCAR/npy): the same
density as the whole-grid path, in memory that does not grow with the grid, and nothing left when stopped."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule

from rhograph.errors import ConfigError
from rhograph.inference.engine import GridPredictor
from rhograph.inference.grids import make_grid
from rhograph.inference.predict import predict, predict_to_file
from rhograph.io.formats import read_density
from rhograph.testing.structures import tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model("deepdft-painn", dtype=torch.float32, seed=1)


@pytest.mark.parametrize(
    ("structure", "name", "step"),
    [("molecule", "w.cube", 0.3), ("molecule", "w.cube.gz", 0.3), ("crystal", "si_CHGCAR", 0.4)],
)
def test_streamed_file_holds_the_predicted_density(tmp_path, model, structure, name, step):
    atoms = molecule("CH3CN") if structure == "molecule" else bulk("Si", "diamond", a=5.43, cubic=True)
    whole = predict(atoms, model, grid_step=step, chunk_size=500)
    written = predict_to_file(atoms, tmp_path / name, model, grid_step=step, chunk_size=311)
    back = read_density(tmp_path / name)
    assert written.shape == whole.shape == back.shape and written.path == tmp_path / name
    # chunks of other sizes (and the CHGCAR's axis order) only change float32 rounding
    np.testing.assert_allclose(back.values, whole.values, rtol=1e-5, atol=1e-6 * np.abs(whole.values).max())
    np.testing.assert_allclose(back.cell, whole.cell, atol=1e-9)
    assert written.electrons == pytest.approx(whole.electrons, rel=1e-6)
    assert written.stats.num_points == whole.num_points


def test_npy_stream_equals_predict_exactly_with_equal_chunks(tmp_path, model):
    atoms = molecule("H2O")
    whole = predict(atoms, model, grid_step=0.3, chunk_size=400)
    predict_to_file(atoms, tmp_path / "w.npy", model, grid_step=0.3, chunk_size=400)
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), whole.values)


def _streamed_peak(model, step: float) -> tuple[int, int]:
    """(grid points, peak numpy memory in bytes (tracemalloc)) of a streamed prediction of water."""
    atoms, spec = make_grid(molecule("H2O"), grid_step=step, vacuum=4.0)
    predictor = GridPredictor(model, chunk_size=20_000)
    seen = []
    tracemalloc.start()
    try:
        result = predictor.predict_grid(atoms, spec, sink=lambda values: seen.append(len(values)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(seen) == spec.num_points and result.values.size == 0
    assert result.stats.electrons is not None and np.isfinite(result.stats.electrons)
    return spec.num_points, peak


def test_streaming_memory_does_not_grow_with_the_grid(model):
    small_points, small_peak = _streamed_peak(model, 0.12)
    points, peak = _streamed_peak(model, 0.06)
    assert points > 7 * small_points and points > 2_500_000
    assert peak < 4 * points, f"peak {peak} bytes for a grid of {4 * points} bytes"
    assert peak < 1.5 * small_peak, f"peak {small_peak} → {peak} bytes for {small_points} → {points} points"


def test_interrupted_stream_leaves_no_file(tmp_path, model):
    def stop(done, total):
        if done > total // 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_to_file(molecule("H2O"), tmp_path / "w.cube", model, grid_step=0.2, chunk_size=500, progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_whole_grid_options_are_refused(tmp_path, model):
    with pytest.raises(ConfigError, match="not streamed"):
        predict_to_file(molecule("H2O"), tmp_path / "w.cube", model, derived=("gradient",))
    with pytest.raises(ConfigError, match="npz files cannot be written piece by piece"):
        predict_to_file(molecule("H2O"), tmp_path / "w.npz", model)
    with pytest.raises(ValueError, match="sink streams the density alone"):
        GridPredictor(model).predict_grid(*make_grid(molecule("H2O"), grid_step=0.5), derived=("iri",), sink=print)
