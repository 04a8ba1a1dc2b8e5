"""The bundled default model: present, described by its card, and sensible on the bundled water example."""

from __future__ import annotations

import json

import pytest

from rhograph.analysis.metrics import nmae
from rhograph.inference.model_source import DEFAULT_MODEL, available_models, pretrained_dir, resolve_model
from rhograph.inference.predict import expected_electrons, predict
from rhograph.io.formats import read_density


def test_default_model_is_bundled_with_a_card():
    assert DEFAULT_MODEL in available_models()
    card = json.loads((pretrained_dir() / f"{DEFAULT_MODEL}.json").read_text())
    assert card["elements"] == [1, 6, 7, 8, 9]
    assert {"data", "training", "test", "electrons_per_element"} <= set(card)
    assert card["test"]["count"] > 0 and card["test"]["mean"] > 0


def test_default_model_predicts_water_close_to_dft():
    from rhograph.cli.demo import example_path

    reference = read_density(example_path("water.cube.gz"))
    loaded = resolve_model(None)
    grid = predict(reference.atoms, loaded, like=reference)
    expected = expected_electrons(grid.atoms, loaded)
    assert expected == 8.0
    # A trained model integrates to the valence electron count within a few percent ...
    assert grid.electrons == pytest.approx(expected, rel=0.05)
    # ... and is far closer to the DFT density than a density of zero (ε_mae 100 %).
    assert nmae(reference.values, grid.values) < 25.0
