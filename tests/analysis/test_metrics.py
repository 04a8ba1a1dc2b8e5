"""ε_mae / MAE / RMSE on arrays and grids, grid checks, and the data-set summary."""

from __future__ import annotations

import ase
import numpy as np
import pytest

from rhograph.analysis.metrics import check_same_grid, grid_errors, mae, nmae, rmse, summarize
from rhograph.io.density_grid import DensityGrid


def _grid(values: np.ndarray, cell: float = 3.0, origin=(0.0, 0.0, 0.0)) -> DensityGrid:
    atoms = ase.Atoms("H", positions=[[1.0, 1.0, 1.0]], cell=np.eye(3) * cell, pbc=True)
    return DensityGrid(atoms=atoms, values=values, origin=np.array(origin))


def test_nmae_matches_equation_1_on_arrays_and_grids():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.0, 2.0, size=(6, 5, 4))
    pred = ref + rng.normal(0.0, 0.1, size=ref.shape)
    dv = 0.3
    expected = 100 * (np.abs(ref - pred).sum() * dv) / (np.abs(ref).sum() * dv)
    assert nmae(ref, pred) == pytest.approx(expected, rel=1e-12)
    assert nmae(ref, pred, dv) == pytest.approx(expected, rel=1e-12)
    a, b = _grid(ref), _grid(pred)
    assert nmae(a, b) == pytest.approx(expected, rel=1e-6)  # float32 storage
    assert nmae(a, a) == 0.0
    # a prediction of zero everywhere is a 100 % error
    assert nmae(ref, np.zeros_like(ref)) == pytest.approx(100.0)


def test_mae_rmse_values():
    ref = np.zeros((2, 2, 2))
    pred = np.zeros((2, 2, 2))
    pred[0, 0, 0] = 2.0
    pred[1, 1, 1] = -2.0
    assert mae(ref, pred) == pytest.approx(0.5)
    assert rmse(ref, pred) == pytest.approx(1.0)


def test_grid_errors_and_electrons():
    ref = np.full((4, 4, 4), 0.5)
    a, b = _grid(ref), _grid(ref * 1.1)
    errors = grid_errors(a, b)
    assert errors["nmae"] == pytest.approx(10.0, rel=1e-5)
    assert errors["mae"] == pytest.approx(0.05, rel=1e-5)
    assert errors["electrons_ref"] == pytest.approx(0.5 * 27.0, rel=1e-6)
    assert errors["electrons_pred"] == pytest.approx(0.55 * 27.0, rel=1e-6)


def test_mismatched_grids_are_rejected():
    values = np.ones((4, 4, 4))
    with pytest.raises(ValueError, match="shape"):
        nmae(_grid(values), _grid(np.ones((4, 4, 5))))
    with pytest.raises(ValueError, match="cell"):
        nmae(_grid(values), _grid(values, cell=3.1))
    with pytest.raises(ValueError, match="origin"):
        check_same_grid(_grid(values), _grid(values, origin=(0.0, 0.5, 0.0)))
    with pytest.raises(ValueError, match="shape"):
        mae(values, np.ones((4, 4)))
    with pytest.raises(ValueError, match="zero"):
        nmae(np.zeros((2, 2, 2)), values[:2, :2, :2])
    with pytest.raises(ValueError, match="voxel_volume"):
        nmae(values, values, -1.0)


def test_mismatch_message_names_the_files():
    a = _grid(np.ones((4, 4, 4)))
    b = _grid(np.ones((4, 4, 5)))
    a.source, b.source = "ref.cube", "pred.cube"
    with pytest.raises(ValueError, match=r"ref\.cube.*pred\.cube"):
        nmae(a, b)


def test_summarize():
    errors = [0.5, 2.0, 1.0, 0.25, 4.0]
    names = ["a", "b", "c", "d", "e"]
    s = summarize(errors, names, worst=2)
    assert s["count"] == 5
    assert s["mean"] == pytest.approx(np.mean(errors))
    assert s["median"] == pytest.approx(1.0)
    assert s["p95"] == pytest.approx(np.percentile(errors, 95))
    assert s["max"] == 4.0 and s["min"] == 0.25
    assert [w["name"] for w in s["worst"]] == ["e", "b"]
    assert summarize(errors)["worst"][0] == {"name": "4", "value": 4.0}
    with pytest.raises(ValueError, match="no errors"):
        summarize([])
    with pytest.raises(ValueError, match="NaN"):
        summarize([1.0, float("nan")])
    with pytest.raises(ValueError, match="names"):
        summarize([1.0], ["a", "b"])
