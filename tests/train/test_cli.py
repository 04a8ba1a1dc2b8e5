"""``rhograph train`` in-process: a short run, a resume that extends it, and argument errors."""

from __future__ import annotations

import csv

import yaml

from rhograph.cli.main import main

TINY = [
    "--preset",
    "deepdft-painn",
    "--num-workers",
    "0",
    "--device",
    "cpu",
    "--seed",
    "3",
    "--set",
    "model.hidden_size=16",
    "--set",
    "model.num_interactions=2",
    "--set",
    "model.cutoff=3.0",
    "--set",
    "probes_per_structure=32",
    "--set",
    "val_probes_per_structure=100",
    "--set",
    "val_every=10",
    "--set",
    "log_every=5",
    "--set",
    "val_size=3",
    "--set",
    "test_size=0",
    "--set",
    "tensorboard=false",
]


def test_train_then_resume_with_more_steps(dataset_dir, tmp_path, capsys):
    run = tmp_path / "run"
    config_file = tmp_path / "run.yaml"
    config_file.write_text("lr: 2.0e-3\npool_size: 3\n")
    assert (
        main(
            [
                "train",
                str(dataset_dir),
                "--out",
                str(run),
                "--config",
                str(config_file),
                "--max-steps",
                "10",
                *TINY,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "best validation MAE" in out and "best.pt" in out
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert (saved["lr"], saved["pool_size"], saved["model"]["hidden_size"], saved["max_steps"]) == (
        2e-3,
        3,
        16,
        10,
    )

    assert main(["train", "--out", str(run), "--resume", "--max-steps", "20"]) == 0
    with open(run / "val_log.csv", newline="") as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [10, 20]
    assert yaml.safe_load((run / "config.yaml").read_text())["max_steps"] == 20


def test_argument_errors(dataset_dir, tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "x")]) == 2
    assert "no dataset" in capsys.readouterr().err
    assert main(["train", str(dataset_dir), "--out", str(tmp_path / "y"), "--set", "learning_rate=1"]) == 2
    assert "learning_rate" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "z"), "--resume"]) == 2  # nothing to resume, nothing to start
    assert "no dataset" in capsys.readouterr().err


def test_resume_starts_a_run_that_has_no_checkpoint_yet(dataset_dir, tmp_path, capsys):
    """One command for every piece of a long run: the first `--resume` starts it."""
    run = tmp_path / "run"
    assert main(["train", str(dataset_dir), "--out", str(run), "--resume", "--max-steps", "10", *TINY]) == 0
    assert (run / "last.pt").is_file() and "best validation MAE" in capsys.readouterr().out
    assert main(["train", "--out", str(run), "--resume", "--max-steps", "20"]) == 0
    with open(run / "val_log.csv", newline="") as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [10, 20]


def test_max_steps_0_reports_only_the_checkpoints_written(dataset_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["-q", "train", str(dataset_dir), "-o", str(run), "--max-steps", "0", *TINY]) == 0
    out = capsys.readouterr().out
    assert f"checkpoints: {run / 'last.pt'}\n" in out and "best.pt," not in out
    assert "no best.pt: no validation ran in 0 step(s)" in out
    assert not (run / "best.pt").exists()
