"""Training on compact labels with the atomic baseline computed from the data's label settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.train.conftest import tiny_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "labels"


@pytest.fixture(scope="module")
def compact_data(tmp_path_factory) -> Path:
    """Water and H2 labelled as compact labels only (gth-szv; seconds)."""
    pytest.importorskip("pyscf")
    from rhograph.labels import LabelConfig, label_structures, read_structures

    out = tmp_path_factory.mktemp("compact")
    config = LabelConfig(basis="gth-szv", write_compact=True, write_grid=False)
    structures = read_structures([FIXTURES / "water.xyz", FIXTURES / "h2.xyz"])
    report = label_structures(structures, out, config, workers=1, threads=1)
    assert report.ok
    return out


def _config(data: Path, **changes):
    settings = {"preset": "rhograph-painn", "val_size": 1, "test_size": 0, "pool_size": 2, "max_steps": 6}
    return tiny_config(data, **{**settings, "val_every": 3, **changes})


def test_auto_baseline_from_the_label_manifest(compact_data, tmp_path) -> None:
    from rhograph.models.baseline import AtomicDensityTables
    from rhograph.models.checkpoint import load_model
    from rhograph.testing import predict_density
    from rhograph.train.loop import Trainer, train

    run = tmp_path / "run"
    result = train(_config(compact_data), run)
    assert result.step == 6
    tables = AtomicDensityTables.load(run / "atomic_densities.npz")  # computed once per run, cached
    assert tables.elements == (1, 8) and tables.settings["label_settings"]["basis"] == "gth-szv"
    model = load_model(run / "best.pt")
    assert model.config.baseline.elements == (1, 8) and model.config.nonnegative
    assert model.config.baseline.settings["atoms"]["8"]["spin"] == 2
    # the baseline inside the checkpoint is the free-atom density of the tables
    distance = torch.tensor([0.0, 0.7, 1.5])
    np.testing.assert_allclose(
        model.baseline.radial(1, distance).detach().numpy(),
        np.interp(distance.numpy(), tables.radii, tables.values[0]),
        rtol=2e-3,
        atol=1e-5,
    )
    import ase

    water = ase.Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    assert (predict_density(model, water, np.random.default_rng(0).uniform(-4, 4, (200, 3))) >= 0).all()
    # resume reads the cached tables (same elements) and continues
    resumed = train(_config(compact_data, max_steps=9), run, resume=True)
    assert resumed.step == 9
    # baseline: none drops it; a baseline with an element missing from the tables is refused
    plain = Trainer(_config(compact_data, baseline="none"), tmp_path / "plain")
    assert plain.model.baseline is None and plain.model.config.nonnegative


def test_baseline_from_a_tables_file_and_grid_data_without_manifest(dataset_dir, tmp_path, caplog) -> None:
    from rhograph.models.baseline import gaussian_tables
    from rhograph.train.loop import Trainer

    tables = gaussian_tables((1, 6, 8), 3.0).save(tmp_path / "tables.npz")
    trainer = Trainer(tiny_config(dataset_dir, preset="deepdft-painn", baseline=str(tables)), tmp_path / "a")
    assert trainer.model.config.baseline.elements == (1, 6, 8) and not trainer.model.config.nonnegative
    with caplog.at_level("WARNING"):
        trainer = Trainer(tiny_config(dataset_dir, preset="rhograph-painn"), tmp_path / "b")
    assert trainer.model.baseline is None and "without a baseline" in caplog.text
    with pytest.raises(ValueError, match="baseline"):
        tiny_config(dataset_dir, baseline="tables.txt")


def test_evaluate_rebuilds_full_grids_from_compact_labels(compact_data, tmp_path) -> None:
    import json

    from rhograph.cli.main import main
    from rhograph.labels.compact import CompactSource

    run = tmp_path / "run"
    from rhograph.train.loop import train

    train(_config(compact_data, max_steps=3), run)
    out = tmp_path / "eval"
    assert main(["-q", "evaluate", str(compact_data), "--model", str(run / "best.pt"), "-o", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["count"] == 2 and summary["mean"] > 0
    rows = (out / "errors.csv").read_text().splitlines()
    assert "h2.dm.npz" in rows[1] + rows[2]
    label = CompactSource.from_path(compact_data)[0]
    electrons = [float(r.split(",")[rows[0].split(",").index("electrons_ref")]) for r in rows[1:]]
    assert sorted(round(e) for e in electrons) == [2, 8]  # the rebuilt reference grids hold the valence electrons
    assert label.to_grid().values.shape == tuple(label.shape)
