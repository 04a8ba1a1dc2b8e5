"""rhograph checkpoints: round trip, extra fields, atomic writes and clear errors for bad files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import rhograph
from rhograph.errors import CheckpointError
from rhograph.models import build_model
from rhograph.models.checkpoint import FORMAT_VERSION, load_checkpoint, load_model, save_checkpoint
from rhograph.testing import predict_density, random_probes, small_periodic_cell, tiny_model


@pytest.mark.parametrize("preset", ["deepdft-schnet", "deepdft-painn"])
def test_round_trip_gives_identical_densities(tmp_path: Path, preset: str) -> None:
    model = tiny_model(preset, dtype=torch.float32, seed=2)
    path = save_checkpoint(tmp_path / "model.pt", model, metadata={"note": "tiny"}, training={"step": 7})
    loaded = rhograph.load_model(path)
    assert loaded.config == model.config and not loaded.training
    atoms = small_periodic_cell(1)
    probes = random_probes(atoms, 9, 1)
    np.testing.assert_array_equal(predict_density(loaded, atoms, probes), predict_density(model, atoms, probes))
    checkpoint = load_checkpoint(path)
    assert checkpoint["format_version"] == FORMAT_VERSION
    assert checkpoint["rhograph_version"] == rhograph.__version__
    assert checkpoint["model_config"] == model.config.to_dict()
    assert checkpoint["metadata"] == {"note": "tiny"} == checkpoint["extra"]["metadata"]
    assert checkpoint["training"] == {"step": 7}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # no temporary left behind
    raw = torch.load(path, weights_only=True)  # plain data only
    assert set(raw) == {"format", "format_version", "rhograph_version", "model_config", "state_dict", "extra"}


def test_extra_with_numpy_scalars_and_optimizer_state(tmp_path: Path) -> None:
    model = build_model("deepdft-painn", hidden_size=4, num_interactions=1)
    optimizer = torch.optim.Adam(model.parameters())
    model(_dummy_batch(model)).sum().backward()
    optimizer.step()
    save_checkpoint(tmp_path / "a.pt", model, training={"optimizer": optimizer.state_dict(), "mae": np.float64(0.5)})
    assert load_checkpoint(tmp_path / "a.pt")["training"]["mae"] == 0.5
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "b.pt", model, state_dict={})


def _dummy_batch(model):
    from rhograph.testing import model_batch

    atoms = small_periodic_cell(0)
    return model_batch(model, atoms, random_probes(atoms, 3))


def test_load_model_to_device_and_map_location(tmp_path: Path) -> None:
    model = tiny_model("deepdft-schnet", dtype=torch.float32)
    save_checkpoint(tmp_path / "m.pt", model)
    loaded = load_model(tmp_path / "m.pt", map_location="cpu")
    assert next(loaded.parameters()).device.type == "cpu"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "is not a checkpoint"),
        (b"this is not a checkpoint at all", "is not a checkpoint"),
        (bytes(range(256)) * 16, "is not a checkpoint"),
    ],
)
def test_corrupt_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_truncated_checkpoint(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", tiny_model("deepdft-painn", dtype=torch.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"m.pt"):
        load_model(path)


def test_pickled_module_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "module.pt"
    torch.save(tiny_model("deepdft-painn"), path)  # a whole pickled model object
    with pytest.raises(CheckpointError, match="weights_only"):
        load_model(path)


def test_plain_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match=r"plain.pkl"):
        load_model(path)


def test_unknown_format_version_and_missing_fields(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", tiny_model("deepdft-painn", dtype=torch.float32))
    raw = torch.load(path, weights_only=True)
    torch.save({**raw, "format_version": FORMAT_VERSION + 1}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match=rf"format version {FORMAT_VERSION + 1}.*upgrade"):
        load_model(tmp_path / "new.pt")
    torch.save({k: v for k, v in raw.items() if k != "model_config"}, tmp_path / "noconfig.pt")
    with pytest.raises(CheckpointError, match="model_config"):
        load_model(tmp_path / "noconfig.pt")
    torch.save(raw["state_dict"], tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="bare state_dict"):
        load_model(tmp_path / "bare.pt")
    torch.save({"model": raw["state_dict"], "optimizer": {}}, tmp_path / "best_model.pth")
    with pytest.raises(CheckpointError, match=r"DeepDFT best_model.pth"):
        load_model(tmp_path / "best_model.pth")
    torch.save({**raw, "model_config": {**raw["model_config"], "hidden_size": "big"}}, tmp_path / "badcfg.pt")
    with pytest.raises(CheckpointError, match="invalid model config"):
        load_model(tmp_path / "badcfg.pt")


def test_wrong_architecture_and_shapes(tmp_path: Path) -> None:
    schnet = tiny_model("deepdft-schnet", dtype=torch.float32)
    raw = torch.load(save_checkpoint(tmp_path / "s.pt", schnet), weights_only=True)
    painn_config = tiny_model("deepdft-painn").config.to_dict()
    torch.save({**raw, "model_config": painn_config}, tmp_path / "mixed.pt")
    with pytest.raises(CheckpointError, match=r"checkpoint is a deepdft-schnet model .* but the model is painn"):
        load_model(tmp_path / "mixed.pt")
    wide = {**raw["model_config"], "hidden_size": 16}
    torch.save({**raw, "model_config": wide}, tmp_path / "wide.pt")
    with pytest.raises(CheckpointError, match=r"F=8.*F=16.*shape mismatch"):
        load_model(tmp_path / "wide.pt")


def test_missing_paths_and_foreign_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nothing.pt")
    (tmp_path / "folder").mkdir()
    with pytest.raises(CheckpointError, match=r"arguments.json"):
        load_model(tmp_path / "folder")


@pytest.mark.parametrize("preset", ["deepdft-schnet", "deepdft-painn"])
def test_format_1_checkpoints_load_unchanged(tmp_path: Path, preset: str) -> None:
    """Checkpoints written before the registry (format 1: a flat config with the sinc and Gaussian fields of
    both architectures, no clamp, no baseline) load as the same model, without the clamp."""
    model = tiny_model(preset, dtype=torch.float32, seed=5)
    raw = torch.load(save_checkpoint(tmp_path / "new.pt", model), weights_only=True)
    legacy_config = {key: value for key, value in raw["model_config"].items() if key not in ("nonnegative", "baseline")}
    legacy_config.setdefault("num_basis", 30)
    legacy_config.setdefault("gaussian_step", 0.1)
    torch.save({**raw, "format_version": 1, "model_config": legacy_config}, tmp_path / "old.pt")
    loaded = load_model(tmp_path / "old.pt")
    assert loaded.config == model.config and not loaded.config.nonnegative and loaded.baseline is None
    atoms = small_periodic_cell(3)
    probes = random_probes(atoms, 6, 3)
    np.testing.assert_array_equal(predict_density(loaded, atoms, probes), predict_density(model, atoms, probes))
