"""Fine-tuning (``init_from`` / ``rhograph train --init-from``): weights only, fresh embeddings for elements
the checkpoint never saw, and errors that name the differing config field or the missing file."""

from __future__ import annotations

import pytest
import torch
import yaml

from rhograph.cli.main import main
from rhograph.errors import CheckpointError
from rhograph.models import build_model
from rhograph.models.checkpoint import save_checkpoint
from rhograph.train.checkpoints import load_training_state
from rhograph.train.finetune import config_differences, embedding_keys, init_from_pretrained
from rhograph.train.loop import Trainer

from .conftest import tiny_config
from .test_cli import TINY

TINY_MODEL = {"hidden_size": 16, "num_interactions": 2, "cutoff": 3.0}


@pytest.fixture
def pretrained(tmp_path):
    """A tiny PaiNN checkpoint that records having seen H and O only (the data also has C)."""
    torch.manual_seed(123)
    model = build_model("deepdft-painn", **TINY_MODEL)
    return save_checkpoint(tmp_path / "pretrained.pt", model, metadata={"elements": [1, 8]}), model


def test_trainer_starts_from_the_weights_with_fresh_rows_for_new_elements(dataset_dir, tmp_path, pretrained):
    path, source = pretrained
    config = tiny_config(dataset_dir, init_from=str(path))
    trainer = Trainer(config, tmp_path / "run")
    torch.manual_seed(config.seed)
    fresh = build_model("deepdft-painn", **TINY_MODEL)  # what the run would start from without init_from
    got, old, new = trainer.model.state_dict(), source.state_dict(), fresh.state_dict()
    keys = embedding_keys(trainer.model)
    assert keys == ["atom_model.atom_embeddings.weight"]
    for key in got:
        if key in keys:
            torch.testing.assert_close(got[key][[1, 8]], old[key][[1, 8]], rtol=0, atol=0)
            torch.testing.assert_close(got[key][[6, 7, 26]], new[key][[6, 7, 26]], rtol=0, atol=0)
        else:
            torch.testing.assert_close(got[key], old[key], rtol=0, atol=0)
    assert trainer.step == 0 and not trainer.optimizer.state  # optimiser and step start fresh
    assert {1, 8} <= trainer.elements


def test_cli_init_from_checkpoint_then_resume(dataset_dir, tmp_path, pretrained):
    path, _ = pretrained
    run = tmp_path / "ft"
    assert (
        main(["train", str(dataset_dir), "--out", str(run), "--init-from", str(path), "--max-steps", "3", *TINY]) == 0
    )
    assert yaml.safe_load((run / "config.yaml").read_text())["init_from"] == str(path.resolve())
    checkpoint, state = load_training_state(run / "last.pt")
    assert state.step == 3 and set(checkpoint["metadata"]["elements"]) == {1, 6, 8}
    path.unlink()  # a resumed run reads last.pt, not the initial weights
    assert main(["train", "--out", str(run), "--resume", "--max-steps", "4"]) == 0
    assert load_training_state(run / "last.pt")[1].step == 4


def test_bundled_model_by_name(dataset_dir, tmp_path, capsys):
    bundled = ["--set", "model.hidden_size=64", "--set", "model.num_interactions=3", "--set", "model.cutoff=4.0"]
    run = tmp_path / "bundled"
    code = main(
        [
            "train",
            str(dataset_dir),
            "--out",
            str(run),
            "--init-from",
            "qm9-painn-small",
            "--max-steps",
            "1",
            *TINY,
            *bundled,
        ]
    )
    assert code == 0
    capsys.readouterr()
    # the default tiny settings differ from the bundled model: one line naming each field
    code = main(
        ["-q", "train", str(dataset_dir), "--out", str(tmp_path / "x"), "--init-from", "qm9-painn-small", *TINY]
    )
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "qm9-painn-small: cannot initialise from it" in err
    assert "hidden_size: checkpoint 64, config 16" in err and "num_interactions: checkpoint 3, config 2" in err
    assert "set model.cutoff=4.0, model.hidden_size=64, model.num_interactions=3" in err


def test_errors_name_the_file_and_the_field(dataset_dir, tmp_path, pretrained, capsys):
    path, _ = pretrained
    with pytest.raises(CheckpointError, match=r"architecture: checkpoint painn, config schnet"):
        Trainer(tiny_config(dataset_dir, preset="deepdft-schnet", init_from=str(path)), tmp_path / "a")
    missing = tmp_path / "nothing.pt"
    code = main(["-q", "train", str(dataset_dir), "--out", str(tmp_path / "b"), "--init-from", str(missing), *TINY])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing.pt: no such model file" in err
    assert config_differences(
        {"architecture": "painn", "hidden_size": 8, "nonnegative": True, "baseline": None},
        {"architecture": "painn", "hidden_size": 8, "nonnegative": False, "baseline": {"elements": [1]}},
    ) == [("baseline", "none", "atomic baseline")]
    model = build_model("deepdft-painn", **TINY_MODEL)
    with pytest.raises(CheckpointError, match="is an ensemble"):
        run = tmp_path / "ens"
        for k in (0, 1):
            (run / f"member-{k}").mkdir(parents=True)
            save_checkpoint(run / f"member-{k}" / "best.pt", model)
        init_from_pretrained(model, str(run))
