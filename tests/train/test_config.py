"""TrainConfig defaults (the paper's setup), YAML / command-line resolution, the learning-rate schedule."""

from __future__ import annotations

import pytest
import torch

from rhograph.cli.train import parse_overrides
from rhograph.train.config import TrainConfig, load_train_config
from rhograph.train.schedule import ExponentialDecay, make_scheduler


def test_defaults_are_the_papers_setup():
    config = TrainConfig()
    assert config.pool_size == 20
    assert (config.structures_per_batch, config.probes_per_structure) == (2, 1000)
    assert config.val_probes_per_structure == 5000
    assert config.val_every == 5000
    assert (config.loss, config.lr, config.lr_decay, config.lr_decay_steps) == ("mse", 1e-4, 0.96, 100_000)
    assert config.val_size == 50


def test_yaml_then_command_line_with_model_merge(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("lr: 3.0e-4\nmodel:\n  hidden_size: 64\n  cutoff: 5.0\nval_every: 100\n")
    config = load_train_config(path, {"val_every": 200, "model": {"cutoff": 4.0}}, base={"max_steps": 7})
    assert config.lr == 3e-4
    assert config.val_every == 200
    assert config.max_steps == 7
    assert config.model == {"hidden_size": 64, "cutoff": 4.0}


def test_unknown_and_invalid_options_are_rejected(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("learning_rate: 0.1\n")
    with pytest.raises(ValueError, match="learning_rate"):
        load_train_config(path)
    with pytest.raises(ValueError, match="preset"):
        TrainConfig(preset="deepdft-transformer")
    with pytest.raises(ValueError, match="val_every"):
        TrainConfig(val_every=0)
    with pytest.raises(ValueError, match="test_size"):
        TrainConfig(test_size=1.5)
    with pytest.raises(ValueError, match="device"):
        TrainConfig(device="tpu")


def test_set_overrides_parse_yaml_values():
    assert parse_overrides(["lr=3.0e-4", "model.hidden_size=64", "split_file=null", "compile=true"]) == {
        "lr": 3e-4,
        "model": {"hidden_size": 64},
        "split_file": None,
        "compile": True,
    }
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_overrides(["lr"])
    # YAML 1.1 reads 3e-4 (no dot) as a string; float options accept it
    assert load_train_config(None, parse_overrides(["lr=3e-4", "test_size=0.2"])).lr == 3e-4


def test_schedule_is_the_papers_decay_and_survives_a_state_dict_round_trip():
    decay = ExponentialDecay(0.96, 100_000)
    assert decay(0) == 1.0
    assert decay(100_000) == pytest.approx(0.96)
    assert decay(250_000) == pytest.approx(0.96**2.5)

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=1e-4)
    sched = make_scheduler(opt, 0.5, 10)
    for _ in range(10):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5e-4)
    opt2 = torch.optim.Adam([param], lr=1e-4)
    sched2 = make_scheduler(opt2, 0.96, 100_000)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    opt2.step()
    sched2.step()
    assert sched2.last_epoch == 11
    assert opt2.param_groups[0]["lr"] == pytest.approx(1e-4 * 0.5**1.1)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('lr: "fast"\n', r"bad\.yaml: lr='fast' is str, expected a number"),
        ("lr: -1.0\n", r"bad\.yaml: lr must be > 0, got -1\.0"),
        ("lr: .nan\n", r"bad\.yaml: lr=nan must be a finite number"),
        ("num_workers: true\n", r"bad\.yaml: num_workers=True is bool, expected an integer"),
        ("max_steps: 1.5\n", r"bad\.yaml: max_steps=1\.5 is float, expected an integer"),
        ("val_size: ten\n", r"bad\.yaml: val_size='ten' is str, expected an integer or a number"),
        ("split_file: 3\n", r"bad\.yaml: split_file=3 is int, expected a string or null"),
        ("model: [1, 2]\n", r"bad\.yaml: model=\[1, 2\] is list, expected a mapping"),
        ("lr: [1e-3\nseed: 2\n", r"bad\.yaml, line 2, column 5: invalid YAML"),
    ],
)
def test_wrongly_typed_options_name_the_field_value_and_file(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_train_config(path)


def test_wrongly_typed_options_from_the_command_line_and_in_code(tmp_path, capsys):
    from rhograph.cli.main import main

    with pytest.raises(ValueError, match=r"command line: lr='fast' is str, expected a number"):
        load_train_config(None, parse_overrides(["lr=fast"]))
    with pytest.raises(ValueError, match=r"TrainConfig: pool_size='20' is str, expected an integer"):
        TrainConfig(pool_size="20")
    assert TrainConfig(lr=1, val_size=0.1).lr == 1  # an int is a number
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "run"), "--set", "lr=fast"]) == 2
    err = capsys.readouterr().err
    assert err == "rhograph train: error: command line: lr='fast' is str, expected a number\n"
