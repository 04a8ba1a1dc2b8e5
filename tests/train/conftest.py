"""Shared fixtures of the training tests: tiny synthetic density datasets and tiny model configs.

A synthetic structure is 2–4 atoms (H, C, O) at random positions in a small periodic cubic cell; its
density is a sum of element-specific Gaussians around the atoms (periodic images included), so a model
can learn it from the atom types and distances alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rhograph.testing.data import GAUSSIANS, synthetic_grid, write_dataset  # noqa: F401  (re-exported)
from rhograph.train.config import TrainConfig


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 synthetic CHGCAR files (shared by the tests of a session; read-only)."""
    return write_dataset(tmp_path_factory.mktemp("density_data"), 12, seed=1)


def tiny_config(data: Path | str, **changes: Any) -> TrainConfig:
    """A config for a seconds-long CPU run: tiny PaiNN, 2 × 64 probes, frequent validation."""
    settings: dict[str, Any] = {
        "data": str(data),
        "preset": "deepdft-painn",
        "model": {"hidden_size": 16, "num_interactions": 2, "cutoff": 3.0},
        "val_size": 3,
        "test_size": 1,
        "pool_size": 4,
        "probes_per_structure": 64,
        "val_probes_per_structure": 200,
        "num_workers": 0,
        "lr": 3e-3,
        "max_steps": 40,
        "val_every": 20,
        "log_every": 1,
        "device": "cpu",
        "tensorboard": False,
        "seed": 7,
    }
    settings.update(changes)
    return TrainConfig(**settings)
