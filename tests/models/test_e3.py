"""What is specific to the higher-order equivariant architecture ("e3"); the registry's model suite
(test_model_suite.py) covers everything every architecture shares."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("e3nn")

from rhograph.models.config import ModelConfig
from rhograph.models.e3 import E3Config
from rhograph.models.presets import build_model
from rhograph.testing import (
    assert_invariant,
    encode,
    random_probes,
    random_reflection,
    random_rotation,
    small_molecule,
    small_periodic_cell,
    tiny_model,
    transformed,
)


@pytest.mark.parametrize("lmax", [1, 2, 3, 4])
def test_every_l_of_the_atom_features_rotates_and_reflects(lmax: int) -> None:
    model = tiny_model("e3", lmax=lmax, seed=lmax)
    irreps = model.config.encoder.irreps
    atoms = small_molecule(lmax)
    states = encode(model, atoms)
    for matrix in (random_rotation(lmax), random_reflection(lmax)):
        moved = encode(model, transformed(atoms, matrix))
        d = irreps.rotation(torch.as_tensor(matrix))
        for layer, (h, h_moved) in enumerate(zip(states.vector, moved.vector, strict=True)):
            expected = h @ d.T
            for _, l, start, stop in irreps.slices():
                assert h[:, start:stop].abs().max() > 1e-3, f"layer {layer + 1}, l={l} is zero: a vacuous check"
                np.testing.assert_allclose(
                    h_moved[:, start:stop], expected[:, start:stop], atol=1e-11, err_msg=f"layer {layer + 1}, l={l}"
                )


def test_inversion_flips_the_odd_l_features_and_leaves_the_density() -> None:
    """Natural parity: under r ↦ −r a feature of order l is multiplied by (−1)^l."""
    model = tiny_model("e3", lmax=4, seed=1)
    atoms = small_periodic_cell(2)
    inverted = transformed(atoms, -np.eye(3))
    states, states_inv = encode(model, atoms), encode(model, inverted)
    for h, h_inv in zip(states.vector, states_inv.vector, strict=True):
        for _, l, start, stop in model.config.encoder.irreps.slices():
            np.testing.assert_allclose(h_inv[:, start:stop], (-1) ** l * h[:, start:stop], atol=1e-11)
    assert_invariant(model, atoms, random_probes(atoms, 8, 2), transforms=("reflection",))


@pytest.mark.parametrize(("lmax", "radial_hidden"), [(1, 0), (3, 8), (4, 8)])
def test_every_lmax_builds_and_predicts_an_invariant_density(lmax: int, radial_hidden: int) -> None:
    model = tiny_model("e3", lmax=lmax, radial_hidden=radial_hidden, seed=2)
    atoms = small_molecule(2)
    reference = assert_invariant(model, atoms, random_probes(atoms, 10, 2), transforms=("rotation", "reflection"))
    assert np.isfinite(reference).all() and np.ptp(reference) > 1e-5


def test_preset_parameter_counts() -> None:
    counts = {name: build_model(name, baseline=False).num_parameters() for name in ("e3-l2", "e3-l2-small", "e3-l4")}
    assert counts == {"e3-l2": 326_273, "e3-l2-small": 69_025, "e3-l4": 409_361}  # as in docs/models.md


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("lmax", 5, "choose one of"), ("lmax", 0, "choose one of"), ("mul", 0, "mul"), ("radial_hidden", -1, "radial")],
)
def test_config_rejects_bad_values(field: str, value: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        E3Config(num_interactions=2, **{field: value})


def test_config_round_trip_and_description() -> None:
    config = ModelConfig.from_dict({"architecture": "e3", "num_interactions": 2, "lmax": 3, "mul": 4})
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert "64x0e+4x1o+4x2e+4x3o" in config.describe()


def test_reading_the_registry_does_not_import_e3nn() -> None:
    code = "import sys, rhograph.models.registry, rhograph.models.e3; assert 'e3nn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
