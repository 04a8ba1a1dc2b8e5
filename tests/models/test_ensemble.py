"""EnsembleModel: mean and spread of its members through the grid engine, loading, expected ε_mae, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ase.build import molecule

from rhograph.errors import CheckpointError
from rhograph.inference.engine import GridPredictor
from rhograph.inference.grids import make_grid
from rhograph.inference.model_source import resolve_model
from rhograph.inference.predict import predict, write_prediction
from rhograph.io.formats import read_density
from rhograph.models.checkpoint import save_checkpoint
from rhograph.models.ensemble import EnsembleModel, expected_nmae, member_checkpoints
from rhograph.testing.structures import tiny_model


@pytest.fixture(scope="module")
def members():
    return [tiny_model("deepdft-painn", dtype=torch.float32, seed=s) for s in (1, 2, 3)]


@pytest.fixture(scope="module")
def water_grid():
    return make_grid(molecule("H2O"), grid_step=0.35, vacuum=3.5)  # vacuum beyond the 3 Å cutoff too


def test_grid_mean_and_std_equal_the_members(members, water_grid):
    atoms, spec = water_grid
    ensemble = EnsembleModel(members)
    single = np.stack([GridPredictor(m, chunk_size=97).predict_grid(atoms, spec).values for m in members])
    result = GridPredictor(ensemble, chunk_size=97).predict_grid(atoms, spec, uncertainty=True)
    np.testing.assert_allclose(result.values, single.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.std, single.std(0, ddof=1), rtol=1e-4, atol=1e-6)
    assert (result.std >= 0).all() and result.std.max() > 0
    # without uncertainty the ensemble is a model like any other: the same mean
    plain = GridPredictor(ensemble, chunk_size=1000).predict_grid(atoms, spec)
    np.testing.assert_allclose(plain.values, result.values, rtol=1e-5, atol=1e-6)
    assert plain.std is None


def test_uncertainty_with_derived_fields(members, water_grid):
    atoms, spec = water_grid
    ensemble = EnsembleModel(members[:2])
    with_derived = GridPredictor(ensemble, chunk_size=300).predict_grid(
        atoms, spec, derived=("gradient",), uncertainty=True
    )
    plain = GridPredictor(ensemble, chunk_size=300).predict_grid(atoms, spec, uncertainty=True)
    np.testing.assert_allclose(with_derived.std, plain.std, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(with_derived.values, plain.values, rtol=1e-5, atol=1e-6)
    assert with_derived.derived["gradient"].shape == (*spec.shape, 3)


def test_expected_nmae_is_half_normal_mean_over_density():
    mean = np.full((4, 4, 4), 2.0)
    std = np.full((4, 4, 4), 0.1)
    assert expected_nmae(mean, std) == pytest.approx(100 * math.sqrt(2 / math.pi) * 0.1 / 2.0)
    assert math.isnan(expected_nmae(np.zeros(3), np.ones(3)))


def test_predict_api_and_files(members, tmp_path):
    ensemble = EnsembleModel(members)
    grid = predict(molecule("H2O"), ensemble, grid_step=0.4, uncertainty=True, unseen_elements="warn")
    assert grid.fields["std"].shape == grid.shape
    assert grid.expected_nmae == pytest.approx(expected_nmae(grid.values, grid.fields["std"]))
    written = write_prediction(tmp_path / "water.cube", grid)
    assert [p.name for p in written] == ["water.cube", "water.std.cube"]
    std = read_density(tmp_path / "water.std.cube")
    np.testing.assert_allclose(std.values, grid.fields["std"], rtol=1e-4, atol=1e-7)
    single = predict(molecule("H2O"), members[0], grid_step=0.4, unseen_elements="warn")
    assert single.expected_nmae is None and "std" not in single.fields


def test_load_from_run_folder_and_list(members, tmp_path):
    paths = []
    for k, m in enumerate(members):
        folder = tmp_path / "run" / f"member-{k}"
        folder.mkdir(parents=True)
        name = "best.pt" if k else "last.pt"  # best.pt preferred, last.pt accepted
        paths.append(save_checkpoint(folder / name, m, metadata={"elements": [1, 6, 8] if k else [1, 8]}))
    loaded = resolve_model(tmp_path / "run")
    assert loaded.is_ensemble and loaded.model.size == 3
    assert loaded.elements == {1, 8}  # what every member saw
    assert loaded.card["ensemble_size"] == 3
    from_list = resolve_model([str(p) for p in paths])
    batch_atoms, spec = make_grid(molecule("H2O"), grid_step=0.5, vacuum=2.0)
    a = GridPredictor(loaded.model).predict_grid(batch_atoms, spec, uncertainty=True)
    b = GridPredictor(from_list.model).predict_grid(batch_atoms, spec, uncertainty=True)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.std, b.std)
    assert not resolve_model([str(paths[1])]).is_ensemble  # a list of one is that model


def test_bad_ensembles_name_the_problem(members, tmp_path):
    (tmp_path / "run" / "member-0").mkdir(parents=True)
    (tmp_path / "run" / "member-2").mkdir(parents=True)
    with pytest.raises(
        CheckpointError, match=r"run: ensemble member folders are not numbered 0..K-1 \(found \[0, 2\]\)"
    ):
        member_checkpoints(tmp_path / "run")
    (tmp_path / "run" / "member-2").rename(tmp_path / "run" / "member-1")
    with pytest.raises(CheckpointError, match=r"member-0: ensemble member has no best.pt or last.pt"):
        resolve_model(tmp_path / "run")
    with pytest.raises(ValueError, match="at least 2 members"):
        EnsembleModel(members[:1])
    other = tiny_model("deepdft-painn", dtype=torch.float32, seed=4, cutoff=2.5)
    a = save_checkpoint(tmp_path / "a.pt", members[0])
    b = save_checkpoint(tmp_path / "b.pt", other)
    with pytest.raises(CheckpointError, match=r"must share one cutoff.*3.0 Å.*2.5 Å"):
        resolve_model([a, b])
    with pytest.raises(ValueError, match="uncertainty needs an ensemble"):
        atoms, spec = make_grid(molecule("H2O"), grid_step=0.5, vacuum=2.0)
        GridPredictor(members[0]).predict_grid(atoms, spec, uncertainty=True)
    with pytest.raises(ValueError, match="compile is not supported"):
        GridPredictor(EnsembleModel(members[:2]), compile=True)
