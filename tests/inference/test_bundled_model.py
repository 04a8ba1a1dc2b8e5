"""The bundled models: present, described by their cards, sensible on the bundled water example (the default)
and on a held-out cell of the NMC set (the materials model)."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_bundled_model_is_chosen_by_the_structures_elements(monkeypatch, tmp_path, capsys):
    """Without a model the prediction takes the bundled model that covers the elements (the default first),
    and a structure no bundled model covers is refused with each model's elements."""
    from ase.build import bulk, molecule

    from rhograph.cli.main import main
    from rhograph.errors import StructureError
    from rhograph.inference import model_source

    assert model_source.choose_bundled([1, 8]) == DEFAULT_MODEL
    with pytest.raises(
        StructureError, match=rf"Si: no bundled model covers its elements Si \(bundled: {DEFAULT_MODEL}: H C N O F"
    ):
        model_source.choose_bundled([14], source="Si")
    assert model_source.choose_bundled([14], allow_unseen=True) == DEFAULT_MODEL
    # a bundled materials model (card elements) is picked for the cell, the default for the molecule
    covered = {DEFAULT_MODEL: {1, 6, 7, 8, 9}, "nmc-test": {3, 8, 25, 27, 28}}
    monkeypatch.setattr(model_source, "bundled_elements", lambda: covered)
    assert model_source.choose_bundled([3, 28, 8]) == "nmc-test"
    assert model_source.choose_bundled([6, 1]) == DEFAULT_MODEL
    monkeypatch.undo()
    structure = tmp_path / "si.extxyz"
    bulk("Si", "diamond", a=5.43).write(structure)
    assert main(["predict", str(structure), "-o", str(tmp_path / "si.cube")]) == 1
    assert "no bundled model covers its elements Si" in capsys.readouterr().err
    water = tmp_path / "water.xyz"
    molecule("H2O").write(water)
    assert main(["-q", "predict", str(water), "-o", str(tmp_path / "w.cube"), "--grid-step", "0.4"]) == 0


#: a test cell of the NMC set (its part fixed by its index: no bundled model trained on it)
NMC_TEST_CELL = Path(__file__).resolve().parents[2] / "data" / "nmc" / "densities" / "nmc_00007_CHGCAR.zst"


def test_materials_model_is_chosen_for_a_cathode_cell_and_predicts_it():
    """`predict` without a model takes the bundled materials model for a Li–Co–O cell and comes close to GPAW."""
    from rhograph.inference.model_source import choose_bundled

    if not NMC_TEST_CELL.is_file():
        pytest.skip("the NMC label set (data/nmc) is not in this checkout")
    reference = read_density(NMC_TEST_CELL)
    name = choose_bundled(reference.atoms.numbers)
    card = json.loads((pretrained_dir() / f"{name}.json").read_text())
    assert name != DEFAULT_MODEL and {3, 8, 25, 27, 28} <= set(card["elements"])
    grid = predict(reference.atoms, like=reference)  # no model: chosen by the elements
    loaded = resolve_model(name)
    expected = expected_electrons(grid.atoms, loaded)
    assert expected == pytest.approx(reference.electrons, abs=0.01)  # the card's PAW valence counts
    assert grid.electrons == pytest.approx(expected, rel=0.01)
    assert (grid.values >= 0).all()
    assert nmae(reference.values, grid.values) < 5.0  # the fitted baseline alone: ~2.5 %
