"""The shipped test helpers: random orthogonal matrices, fixtures, tiny models and the symmetry asserts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rhograph.testing import (
    TINY_OVERRIDES,
    assert_invariant,
    random_probes,
    random_reflection,
    random_rotation,
    small_molecule,
    small_periodic_cell,
    tiny_model,
    transformed,
)


def test_random_orthogonal_matrices() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        rotation, reflection = random_rotation(rng), random_reflection(rng)
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(reflection @ reflection.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        assert np.linalg.det(reflection) == pytest.approx(-1.0)
    np.testing.assert_array_equal(random_rotation(3), random_rotation(3))


def test_fixtures_are_deterministic_and_sensible() -> None:
    molecule, cell = small_molecule(1), small_periodic_cell(1)
    assert not molecule.pbc.any() and cell.pbc.all() and len(cell) == 3
    np.testing.assert_array_equal(small_molecule(1).positions, molecule.positions)
    probes = random_probes(cell, 50, 1)
    frac = np.linalg.solve(cell.cell.array.T, probes.T).T
    assert ((frac >= 0) & (frac <= 1)).all()
    # probes drawn with the same seed as the structure do not sit on atoms
    distances = np.linalg.norm(probes[:, None] - cell.positions[None], axis=2)
    assert distances.min() > 1e-3


def test_transformed_maps_positions_and_cell() -> None:
    atoms = small_periodic_cell(0)
    matrix = random_rotation(1)
    moved = transformed(atoms, matrix)
    np.testing.assert_allclose(moved.positions, atoms.positions @ matrix.T)
    np.testing.assert_allclose(moved.cell.array, atoms.cell.array @ matrix.T)
    np.testing.assert_allclose(moved.get_scaled_positions(), atoms.get_scaled_positions(), atol=1e-12)


def test_tiny_models() -> None:
    for preset, overrides in TINY_OVERRIDES.items():
        model = tiny_model(preset)
        assert model.dtype == torch.float64
        assert model.config.hidden_size == overrides["hidden_size"]
    assert tiny_model("deepdft-schnet", dtype=torch.float32, hidden_size=4).config.hidden_size == 4
    a, b = tiny_model(seed=1), tiny_model(seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_assert_invariant_rejects_unknown_transforms() -> None:
    atoms = small_molecule(0)
    with pytest.raises(ValueError, match="shear"):
        assert_invariant(tiny_model(), atoms, random_probes(atoms, 2), transforms=["shear"])
