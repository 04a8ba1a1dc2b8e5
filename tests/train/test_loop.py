"""The training loop: learning, run-directory contents, kill-and-resume step for step, early stopping."""

from __future__ import annotations

import csv
import json
import os
import signal

import pytest
import torch
import yaml

from rhograph.train.config import TrainConfig
from rhograph.train.loop import train

from .conftest import tiny_config


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _state(path):
    from rhograph.models.checkpoint import load_model

    return load_model(path).state_dict()


def test_training_lowers_validation_error_and_fills_the_run_dir(dataset_dir, tmp_path):
    run = tmp_path / "run"
    config = tiny_config(dataset_dir, max_steps=300, val_every=50, log_every=25, tensorboard=True)
    result = train(config, run)

    assert result.step == 300
    assert result.stop_reason == "max_steps"
    val = _rows(run / "val_log.csv")
    assert [int(r["step"]) for r in val] == [50, 100, 150, 200, 250, 300]
    first, best = float(val[0]["val_mae"]), result.best_val_mae
    assert best < 0.5 * first, (first, best)
    best_row = [r for r in val if r["is_best"] == "1"][-1]
    assert (int(best_row["step"]), float(best_row["val_mae"])) == (result.best_step, pytest.approx(best))
    assert all(0 < float(r["val_nmae"]) < 1 for r in val)
    train_rows = _rows(run / "train_log.csv")
    assert [int(r["step"]) for r in train_rows] == list(range(25, 301, 25))
    assert float(train_rows[-1]["loss"]) < float(train_rows[0]["loss"])

    for name in ("best.pt", "last.pt", "split.json", "learning_curve.png", "train.log"):
        assert (run / name).is_file(), name
    assert any((run / "tensorboard").iterdir())
    assert TrainConfig(**yaml.safe_load((run / "config.yaml").read_text())) == config
    info = json.loads((run / "run_info.json").read_text())
    assert {"rhograph_version", "git_commit", "torch_version"} <= set(info)
    split = json.loads((run / "split.json").read_text())
    assert (len(split["validation"]), len(split["test"]), len(split["train"])) == (3, 1, 8)

    from rhograph.models.checkpoint import load_model

    best_model, last_model = load_model(run / "best.pt"), load_model(run / "last.pt")
    assert sum(p.numel() for p in best_model.parameters()) == sum(p.numel() for p in last_model.parameters())
    from rhograph.models.checkpoint import load_checkpoint

    # The checkpoints record the elements of the training data (the synthetic set has H, C and O).
    assert load_checkpoint(run / "best.pt")["metadata"]["elements"] == [1, 6, 8]


@pytest.mark.parametrize(("num_workers", "sig"), [(0, signal.SIGTERM), (2, signal.SIGINT)])
def test_signal_and_resume_match_an_uninterrupted_run_step_for_step(dataset_dir, tmp_path, num_workers, sig):
    config = tiny_config(dataset_dir, max_steps=40, val_every=20, num_workers=num_workers)
    train(config, tmp_path / "straight")

    def kill_at_27(step, _trainer):
        if step == 27:
            os.kill(os.getpid(), sig)

    interrupted = train(config, tmp_path / "killed", on_step=kill_at_27)
    assert (interrupted.step, interrupted.stop_reason) == (27, f"signal:{sig.name}")
    assert interrupted.signal_number == sig
    resumed = train(config, tmp_path / "killed", resume=True)
    assert resumed.step == 40

    straight_log = _rows(tmp_path / "straight" / "train_log.csv")
    resumed_log = _rows(tmp_path / "killed" / "train_log.csv")
    assert [r["step"] for r in resumed_log] == [str(s) for s in range(1, 41)]
    assert [(r["loss"], r["lr"]) for r in resumed_log] == [(r["loss"], r["lr"]) for r in straight_log]
    straight_val = [(r["step"], r["val_mae"], r["val_nmae"]) for r in _rows(tmp_path / "straight" / "val_log.csv")]
    resumed_val = [(r["step"], r["val_mae"], r["val_nmae"]) for r in _rows(tmp_path / "killed" / "val_log.csv")]
    assert resumed_val == straight_val
    a, b = _state(tmp_path / "straight" / "last.pt"), _state(tmp_path / "killed" / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_log_rows_after_the_checkpoint_are_dropped_on_resume(dataset_dir, tmp_path):
    """A SIGKILL after step 20's checkpoint leaves rows 21..; the resumed run rewrites them."""
    run = tmp_path / "run"
    train(tiny_config(dataset_dir, max_steps=20, val_every=20), run)
    with open(run / "train_log.csv", "a") as fh:
        fh.write("21,999,0.001,1,0,1\n22,999,0.001,1,0,1\n")
    train(tiny_config(dataset_dir, max_steps=24, val_every=20), run, resume=True)
    rows = _rows(run / "train_log.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 25))
    assert all(r["loss"] != "999" for r in rows)


def test_an_existing_run_is_not_overwritten(dataset_dir, tmp_path):
    config = tiny_config(dataset_dir, max_steps=2, val_every=2)
    train(config, tmp_path / "run")
    with pytest.raises(ValueError, match="--resume"):
        train(config, tmp_path / "run")
    with pytest.raises(FileNotFoundError):
        train(config, tmp_path / "other", resume=True)


def test_early_stopping_and_schnet_preset(dataset_dir, tmp_path):
    config = tiny_config(
        dataset_dir,
        preset="deepdft-schnet",
        model={"hidden_size": 16, "num_interactions": 2, "cutoff": 3.0},
        lr=1e-12,
        max_steps=100,
        val_every=5,
        early_stop_patience=2,
    )
    result = train(config, tmp_path / "run")
    assert result.stop_reason == "early_stop"
    assert result.step < 100


def test_compile_without_a_compiler_fails_before_training(dataset_dir, tmp_path, monkeypatch):
    from rhograph.errors import RhographError
    from rhograph.models import compiling

    monkeypatch.setattr(compiling.shutil, "which", lambda name: None)
    with pytest.raises(RhographError, match="C\\+\\+ compiler"):
        train(tiny_config(dataset_dir, max_steps=2, val_every=2, compile=True), tmp_path / "run")
    assert not (tmp_path / "run" / "last.pt").exists()
