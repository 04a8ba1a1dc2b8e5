"""``evaluate --decompose`` on GPAW-style labels uses the Bader volumes of the all-electron density beside them."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from tests.analysis.conftest import make_gaussian_grid

from rhograph.inference.evaluate import EvaluateOptions, all_electron_reference, evaluate_dataset
from rhograph.inference.predict import PredictOptions
from rhograph.io.formats import write_density
from rhograph.testing.structures import tiny_model

CELL = np.eye(3) * 6.0
SHAPE = (30, 30, 30)
POSITIONS = np.array([[1.5, 3.0, 3.0], [4.5, 3.0, 3.0]])


def _label_folder(root, with_all_electron: bool):
    """One periodic LiO cell whose valence density is a Gaussian on O only (Li: no maximum of its own, so the
    valence density's own Bader volumes give Li nothing); the all-electron density adds a core on Li."""
    valence = make_gaussian_grid("LiO", POSITIONS, [0.0, 6.0], [0.6, 0.5], cell=CELL, shape=SHAPE)
    folder = root / "labels"
    write_density(folder / "lio_000000_CHGCAR", valence)
    if with_all_electron:
        core = make_gaussian_grid("LiO", POSITIONS, [2.0, 2.0], [0.2, 0.2], cell=CELL, shape=SHAPE)
        write_density(folder / "all-electron" / "lio_000000_AECCAR", core.with_values(core.values + valence.values))
    return folder


@pytest.mark.parametrize("with_all_electron", [False, True])
def test_decomposition_uses_the_all_electron_volumes(tmp_path, with_all_electron):
    folder = _label_folder(tmp_path, with_all_electron)
    found = all_electron_reference(folder, "lio_000000_CHGCAR")
    assert (found is not None) == with_all_electron
    model = tiny_model("deepdft-painn", dtype=torch.float32, seed=3)
    evaluate_dataset(
        folder,
        model,
        tmp_path / "eval",
        options=EvaluateOptions(decompose=True),
        predict_options=PredictOptions(unseen_elements="warn"),
    )
    with open(tmp_path / "eval" / "element_integrals.csv", newline="") as fh:
        volumes = {row["element"]: float(row["volume"]) for row in csv.DictReader(fh)}
    if with_all_electron:  # the core on Li makes a basin around it (above the 1e-3 e/Å³ vacuum threshold)
        assert volumes["Li"] > 1.0
    else:  # the valence density has its only maximum on O
        assert volumes.get("Li", 0.0) == 0.0
