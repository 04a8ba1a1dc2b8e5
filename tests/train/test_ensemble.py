"""``rhograph train --ensemble K``: members, shared split, resume of unfinished members, and the trained
ensemble through ``rhograph predict --uncertainty`` and ``rhograph evaluate``."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
import yaml

from rhograph.cli.main import main
from rhograph.train.checkpoints import load_training_state
from rhograph.train.config import TrainConfig
from rhograph.train.ensemble import train_ensemble
from rhograph.train.loop import train

from .conftest import tiny_config
from .test_cli import TINY


def _step(path) -> int:
    return load_training_state(path)[1].step


def test_ensemble_train_resume_predict_evaluate(dataset_dir, tmp_path, capsys):
    run = tmp_path / "ens"
    args = ["train", str(dataset_dir), "--out", str(run), "--ensemble", "2", "--max-steps", "4", *TINY]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "member 0: step 4" in out and "member 1: step 4" in out
    root = yaml.safe_load((run / "config.yaml").read_text())
    assert root["ensemble_size"] == 2 and root["seed"] == 3
    split = json.loads((run / "split.json").read_text())
    for k in (0, 1):
        member = yaml.safe_load((run / f"member-{k}" / "config.yaml").read_text())
        assert member["seed"] == 3 + k and member["ensemble_size"] == 1
        assert json.loads((run / f"member-{k}" / "split.json").read_text()) == split  # one split for all
        assert _step(run / f"member-{k}" / "last.pt") == 4

    # a new run into it is refused; --resume trains only what is unfinished
    assert main(args) == 1
    assert "already holds a training run" in capsys.readouterr().err
    shutil.rmtree(run / "member-1")
    before = (run / "member-0" / "last.pt").stat().st_mtime_ns
    assert main(["train", "--out", str(run), "--resume"]) == 0
    assert "member 0: already finished" in capsys.readouterr().out
    assert (run / "member-0" / "last.pt").stat().st_mtime_ns == before
    assert _step(run / "member-1" / "last.pt") == 4
    assert main(["train", "--out", str(run), "--resume", "--max-steps", "6"]) == 0  # extend every member
    assert all(_step(run / f"member-{k}" / "last.pt") == 6 for k in (0, 1))
    capsys.readouterr()

    structure = dataset_dir / "struct_000.CHGCAR"
    target = tmp_path / "pred" / "s0.cube"
    target.parent.mkdir()
    assert main(["predict", str(structure), "--model", str(run), "--uncertainty", "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert "expected ε_mae" in out and (tmp_path / "pred" / "s0.std.cube").is_file()

    evaluation = tmp_path / "eval"
    assert (
        main(
            [
                "evaluate",
                str(dataset_dir),
                "--model",
                str(run),
                "--split",
                str(run / "split.json"),
                "--part",
                "validation",
                "-o",
                str(evaluation),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    with open(evaluation / "errors.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and all(float(row["nmae_expected"]) > 0 for row in rows)
    summary = json.loads((evaluation / "summary.json").read_text())
    assert summary["uncertainty"]["count_per_structure"] == 3
    assert "pearson_per_structure" in summary["uncertainty"]


def test_ensemble_errors(dataset_dir, tmp_path, capsys):
    with pytest.raises(ValueError, match="ensemble_size must be an integer >= 1"):
        TrainConfig(ensemble_size=0)
    with pytest.raises(ValueError, match=r"train ensembles with rhograph\.train\.ensemble\.train_ensemble"):
        train(tiny_config(dataset_dir, ensemble_size=2), tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        train_ensemble(tiny_config(dataset_dir, ensemble_size=2), tmp_path / "none", resume=True)
    model = tmp_path / "single.pt"
    from rhograph.models.checkpoint import save_checkpoint
    from rhograph.testing.structures import tiny_model

    save_checkpoint(model, tiny_model("deepdft-painn"))
    structure = dataset_dir / "struct_000.CHGCAR"
    code = main(["predict", str(structure), "--model", str(model), "--uncertainty", "-o", str(tmp_path / "p.cube")])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--uncertainty needs an ensemble" in err and "single.pt" in err
