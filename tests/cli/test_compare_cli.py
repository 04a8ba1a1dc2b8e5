"""``rhograph compare PRED REF [--json]`` in-process."""

from __future__ import annotations

import json

import ase
import numpy as np
import pytest

from rhograph.cli.main import main
from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import write_density


def _grid(shape=(12, 12, 12), seed=0) -> DensityGrid:
    atoms = ase.Atoms("H2O", positions=[[1, 1, 1], [2, 1, 1], [1.5, 2, 1.2]], cell=np.eye(3) * 4, pbc=True)
    values = np.random.default_rng(seed).random(shape).astype(np.float32) + 0.1
    return DensityGrid(atoms=atoms, values=values)


def test_table_and_json_across_formats(tmp_path, capsys):
    reference, prediction = _grid(), _grid(seed=1)
    write_density(tmp_path / "ref_CHGCAR", reference)
    write_density(tmp_path / "pred.cube.gz", prediction)
    assert main(["compare", str(tmp_path / "pred.cube.gz"), str(tmp_path / "ref_CHGCAR"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    diff = prediction.values.astype(np.float64) - reference.values
    assert out["nmae"] == pytest.approx(100 * np.abs(diff).sum() / reference.values.sum(dtype=np.float64), rel=1e-5)
    assert out["mae"] == pytest.approx(np.abs(diff).mean(), rel=1e-5)
    assert out["rmse"] == pytest.approx(np.sqrt((diff**2).mean()), rel=1e-5)
    assert out["max_abs_error"] == pytest.approx(np.abs(diff).max(), rel=1e-5)
    assert out["electrons_reference"] == pytest.approx(reference.electrons, rel=1e-6)
    assert out["electrons_prediction"] == pytest.approx(prediction.electrons, rel=1e-6)
    assert main(["compare", str(tmp_path / "pred.cube.gz"), str(tmp_path / "ref_CHGCAR")]) == 0
    text = capsys.readouterr().out
    for label in ("ε_mae", "MAE", "RMSE", "max |ρ−ρ̂|", "∫ρ̂ dV (PRED)", "∫ρ dV (REF)"):
        assert label in text


def test_different_grids_are_one_line_naming_both(tmp_path, capsys):
    write_density(tmp_path / "a.npz", _grid())
    write_density(tmp_path / "b.npz", _grid(shape=(10, 12, 12)))
    assert main(["compare", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "a.npz" in err and "b.npz" in err and "shape" in err
    other = _grid()
    other.atoms.positions[2, 0] += 0.5
    write_density(tmp_path / "c.npz", other)
    assert main(["compare", str(tmp_path / "a.npz"), str(tmp_path / "c.npz")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "a.npz" in err and "c.npz" in err and "structures differ" in err
