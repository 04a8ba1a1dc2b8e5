"""Charge transfer on removing an atom (paper eq. 3) with analytic Gaussian densities of known populations."""

from __future__ import annotations

import ase
import numpy as np
import pytest

from rhograph.analysis.charge_transfer import charge_transfer, match_removed_atom, mean_errors
from rhograph.errors import StructureError

CELL = np.eye(3) * 9.0
SHAPE = (48, 48, 48)
# Li near the x = 0 face: its minimum-image distance to O1 (2.6 Å) differs from the plain one (6.4 Å)
FULL = {"symbols": "LiOOH", "centres": [[0.4, 4.5, 4.5], [6.8, 4.5, 4.5], [4.0, 1.5, 4.5], [4.5, 7.5, 1.5]]}
SIGMAS = {"Li": 0.3, "O": 0.4, "H": 0.3}


def _grid(gaussian_grid, symbols, centres, electrons):
    sig = [SIGMAS[s] for s in ase.Atoms(symbols).get_chemical_symbols()]
    return gaussian_grid(symbols, np.array(centres), electrons, sig, cell=CELL, shape=SHAPE)


@pytest.fixture
def system(gaussian_grid):
    full_ref = _grid(gaussian_grid, FULL["symbols"], FULL["centres"], [3.0, 8.0, 8.0, 1.0])
    full_pred = _grid(gaussian_grid, FULL["symbols"], FULL["centres"], [3.0, 8.0, 8.05, 1.0])
    # reduced structure: Li removed, atoms in another order, O1 relaxed by 0.1 Å
    centres = [FULL["centres"][3], FULL["centres"][2], [6.9, 4.5, 4.5]]
    removed_ref = _grid(gaussian_grid, "HOO", centres, [1.0, 8.1, 8.6])  # Δq: H 0, O2 −0.1, O1 −0.6
    removed_pred = _grid(gaussian_grid, "HOO", centres, [1.0, 8.2, 8.5])  # Δq̂: H 0, O2 −0.15, O1 −0.5
    return full_ref, removed_ref, full_pred, removed_pred


def test_charge_differences_errors_and_distances(system):
    result = charge_transfer(*system, vacuum_threshold=None, name="toy")
    assert result.removed_index == 0 and result.removed_symbol == "Li"
    np.testing.assert_array_equal(result.full_index, [3, 2, 1])
    assert result.symbols == ["H", "O", "O"]
    np.testing.assert_allclose(result.dq_dft, [0.0, -0.1, -0.6], atol=3e-3)
    np.testing.assert_allclose(result.dq_model, [0.0, -0.15, -0.5], atol=3e-3)
    np.testing.assert_allclose(result.distance, [np.sqrt(4.1**2 + 3**2 + 3**2), np.hypot(3.6, 3.0), 2.6])
    # eq. 3 inner sum: 0 + 0.05 + 0.1; within 4 Å only O1
    assert result.total_error == pytest.approx(0.15, abs=5e-3)
    assert result.near_error == pytest.approx(0.10, abs=5e-3)
    np.testing.assert_array_equal(result.near, [False, False, True])
    rows = result.rows()
    assert rows[2]["full_index"] == 1 and rows[2]["near"] is True
    summary = result.summary()
    assert summary["name"] == "toy" and summary["near_atoms"] == 1
    means = mean_errors([result, result])
    assert means["systems"] == 2 and means["total_error"] == pytest.approx(result.total_error)
    # valence cancels in Δq; integrating the predictions over the DFT volumes gives the same here
    other = charge_transfer(*system, vacuum_threshold=None, valence=[1, 6, 6, 1], partition="reference")
    np.testing.assert_allclose(other.dq_model, result.dq_model, atol=1e-3)
    wider = charge_transfer(*system, vacuum_threshold=None, near_radius=5.0)
    assert wider.near_error == pytest.approx(0.15, abs=5e-3)


def test_structures_must_differ_by_one_atom():
    full = ase.Atoms(FULL["symbols"], positions=FULL["centres"], cell=CELL, pbc=True)
    match = match_removed_atom(full, full[[1, 2, 3]])
    assert match.removed_index == 0
    np.testing.assert_allclose(match.displacement, 0.0, atol=1e-12)
    with pytest.raises(StructureError, match="more than one atom"):
        match_removed_atom(full, full[[1, 2]])
    with pytest.raises(StructureError, match="more than one atom"):
        match_removed_atom(full, full)
    changed = full[[1, 2, 3]]
    changed.symbols[2] = "F"
    with pytest.raises(StructureError, match="more than one atom"):
        match_removed_atom(full, changed)
    moved = full[[1, 2, 3]]
    moved.positions[0] += [1.5, 0.0, 0.0]
    with pytest.raises(StructureError, match="tolerance"):
        match_removed_atom(full, moved)
    # across the periodic boundary a small move is still a match
    wrapped = full[[0, 1, 2]]
    wrapped.positions[0] = [8.95, 4.5, 4.5]  # Li moved by 0.45 Å through the x = 0 face
    assert match_removed_atom(full, wrapped).removed_index == 3


def test_prediction_on_another_grid_is_rejected(system, gaussian_grid):
    full_ref, removed_ref, _, removed_pred = system
    coarse = gaussian_grid(
        "LiOOH", np.array(FULL["centres"]), [3.0, 8.0, 8.0, 1.0], [0.3, 0.4, 0.4, 0.3], cell=CELL, shape=(24, 24, 24)
    )
    with pytest.raises(ValueError, match="shape"):
        charge_transfer(full_ref, removed_ref, coarse, removed_pred)
    with pytest.raises(ValueError, match="partition"):
        charge_transfer(*system, partition="mine")
    shifted = gaussian_grid(
        "LiOOH", np.array(FULL["centres"]) + 0.2, [3.0, 8.0, 8.0, 1.0], [0.3, 0.4, 0.4, 0.3], cell=CELL, shape=SHAPE
    )
    with pytest.raises(StructureError, match="atoms differ"):
        charge_transfer(full_ref, removed_ref, shifted, removed_pred)


def test_all_electron_volumes_partition_every_density(system, gaussian_grid):
    """With all-electron densities (cores on the nuclei + the valence) every density is integrated over their
    Bader volumes: here the same basins as the valence densities' own, so the same Δq."""
    full_ref, removed_ref, *_ = system
    core = {"Li": 2.0, "O": 2.0, "H": 0.0}

    def with_cores(grid):
        symbols = grid.atoms.get_chemical_symbols()
        cores = gaussian_grid(
            symbols, grid.atoms.positions, [core[s] for s in symbols], [0.15] * len(symbols), cell=CELL, shape=SHAPE
        )
        return cores.with_values(cores.values + grid.values)

    all_electron = (with_cores(full_ref), with_cores(removed_ref))
    own = charge_transfer(*system, vacuum_threshold=None)
    result = charge_transfer(*system, vacuum_threshold=None, all_electron=all_electron)
    np.testing.assert_allclose(result.dq_dft, own.dq_dft, atol=3e-3)
    np.testing.assert_allclose(result.dq_model, own.dq_model, atol=3e-3)
    coarse = gaussian_grid("Li", np.zeros((1, 3)), [1.0], [0.3], cell=CELL, shape=(24, 24, 24))
    with pytest.raises(Exception, match="grid"):
        charge_transfer(*system, vacuum_threshold=None, all_electron=(coarse, all_electron[1]))
