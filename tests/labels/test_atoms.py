"""Free-atom density tables: spin states, spherical averages, electron counts, and training with them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.labels.conftest import tiny_config


@pytest.fixture(scope="module")
def tables():
    pytest.importorskip("pyscf")
    from rhograph.labels.atoms import free_atom_tables

    return free_atom_tables([8, 1], tiny_config(), cutoff=4.0, points=401)


def test_free_atoms_take_their_hund_spin_and_hold_their_valence_electrons(tables, tmp_path) -> None:
    from rhograph.models.baseline import AtomicDensityTables

    assert tables.elements == (1, 8)  # sorted
    atoms = tables.settings["atoms"]
    assert atoms["1"]["spin"] == 1 and atoms["8"]["spin"] == 2  # doublet H, triplet O (lowest energy found)
    assert tables.settings["label_settings"]["basis"] == "gth-szv"
    electrons = tables.electrons()
    assert electrons[1] == pytest.approx(1.0, abs=2e-3) and electrons[8] == pytest.approx(6.0, abs=2e-3)
    assert (tables.values >= -1e-12).all() and tables.values[:, -1].max() < 1e-4  # decays within the cutoff
    tables.save(tmp_path / "t.npz")
    again = AtomicDensityTables.load(tmp_path / "t.npz")
    assert again.elements == tables.elements and again.settings == tables.settings
    np.testing.assert_array_equal(again.values, tables.values)
    with pytest.raises(ValueError, match="Z=\\[6\\]"):
        tables.select([6, 8])


def test_spherical_average_of_an_open_shell_atom_is_isotropic(tables) -> None:
    """The triplet O density itself is not spherical; the table is its average over directions."""
    from rhograph.labels.atoms import free_atom, spherical_average
    from rhograph.labels.evaluate import evaluate_density

    result, _ = free_atom(8, tiny_config())
    radius = np.array([0.5])
    directions = np.eye(3) * radius[0]
    along_axes = evaluate_density(result.system, result.dm, directions)
    average = spherical_average(result, radius)[0]
    assert np.ptp(along_axes) > 1e-3 * average  # p-shell anisotropy
    assert along_axes.min() <= average <= along_axes.max()
    assert average == pytest.approx(tables.values[1][np.searchsorted(tables.radii, 0.5)], rel=1e-6)


def test_model_baseline_reproduces_the_tables(tables) -> None:
    import rhograph
    from rhograph.nn.atomic_density import taper

    model = rhograph.build_model("rhograph-painn", baseline=tables, hidden_size=8, num_interactions=1).double()
    r = torch.linspace(0.0, 3.4, 50, dtype=torch.float64)
    for row, z in enumerate(tables.elements):
        expected = tables.values[row][np.searchsorted(tables.radii, r.numpy()).clip(0, len(tables.radii) - 1)]
        expected = np.interp(r.numpy(), tables.radii, tables.values[row]) * taper(r.numpy(), 4.0)
        np.testing.assert_allclose(model.baseline.radial(z, r).detach().numpy(), expected, rtol=1e-3, atol=1e-5)


def test_cli_atom_densities(tmp_path, capsys) -> None:
    pytest.importorskip("pyscf")
    from rhograph.cli.main import main
    from rhograph.models.baseline import AtomicDensityTables

    out = tmp_path / "h.npz"
    assert (
        main(["-q", "atom-densities", "-o", str(out), "--elements", "H", "--basis", "gth-szv", "--points", "101"]) == 0
    )
    assert "Z=1: 2S=1" in capsys.readouterr().out
    assert AtomicDensityTables.load(out).elements == (1,)
    assert main(["-q", "atom-densities", "-o", str(tmp_path / "x.txt"), "--elements", "H"]) == 2
    assert main(["-q", "atom-densities", "-o", str(out), "--elements", "Qq"]) == 2
