"""``baseline: fit``: per-element radial tables fitted to training densities recover the functions that made them."""

from __future__ import annotations

import ase
import numpy as np
import pytest

from rhograph.data.pool import GridSource
from rhograph.io.density_grid import DensityGrid

CUTOFF = 3.0


def radial(z: int, r: np.ndarray) -> np.ndarray:
    """Known per-element densities that vanish smoothly at the cutoff."""
    width = {3: 0.6, 8: 0.45}[z]
    height = {3: 0.2, 8: 1.5}[z]
    envelope = np.where(r < CUTOFF, np.cos(np.pi * np.minimum(r, CUTOFF) / (2 * CUTOFF)) ** 2, 0.0)
    return height * np.exp(-(r**2) / (2 * width**2)) * envelope


def synthetic_grid(seed: int) -> DensityGrid:
    """A rattled periodic Li-O cell whose density is exactly a sum of :func:`radial` over atom images."""
    from rhograph.data.neighbors import probe_graph

    rng = np.random.default_rng(seed)
    atoms = ase.Atoms(
        "Li2O2",
        scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.2], [0.75, 0.7, 0.8]],
        cell=np.diag(rng.uniform(3.6, 4.4, 3)),
        pbc=True,
    )
    atoms.positions += rng.normal(0, 0.1, atoms.positions.shape)
    shape = (14, 15, 16)
    frac = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1).reshape(-1, 3)
    points = frac @ atoms.cell.array
    (atom, probe), offsets = probe_graph(atoms.positions, atoms.cell.array, atoms.pbc, points, CUTOFF)
    r = np.linalg.norm(points[probe] - atoms.positions[atom] - offsets @ atoms.cell.array, axis=1)
    values = np.zeros(len(points))
    for z in (3, 8):
        mine = atoms.numbers[atom] == z
        np.add.at(values, probe[mine], radial(z, r[mine]))
    return DensityGrid(atoms=atoms, values=values.reshape(shape).astype(np.float32), cell=atoms.cell.array)


def test_fitted_tables_recover_the_radial_functions() -> None:
    from rhograph.train.baseline_fit import fit_atomic_tables

    source = GridSource([synthetic_grid(seed) for seed in range(4)])
    tables = fit_atomic_tables(source, [0, 1, 2], CUTOFF, knots=31, probes_per_structure=2000)
    assert tables.elements == (3, 8)
    assert tables.radii[-1] == pytest.approx(CUTOFF) and (tables.values >= 0).all()
    assert np.all(tables.values[:, -1] == 0.0)  # vanishes at the cutoff
    inner = (tables.radii > 0.3) & (tables.radii < 2.5)  # radii the probes sample well
    for row, z in zip(tables.values, tables.elements, strict=True):
        truth = radial(z, tables.radii)
        assert np.abs(row[inner] - truth[inner]).max() < 0.02 * truth.max()
    assert tables.settings["nmae"] < 0.01 and tables.settings["structures"] == 3
    # and it describes the held-out structure as well
    held_out = source[3]
    probes, values = held_out.fixed_probes(500, 0)
    from rhograph.data.neighbors import probe_graph

    atoms = held_out.atoms
    (atom, probe), offsets = probe_graph(atoms.positions, atoms.cell.array, atoms.pbc, probes, CUTOFF)
    r = np.linalg.norm(probes[probe] - atoms.positions[atom] - offsets @ atoms.cell.array, axis=1)
    predicted = np.zeros(len(probes))
    for k, z in enumerate(tables.elements):
        mine = atoms.numbers[atom] == z
        np.add.at(predicted, probe[mine], np.interp(r[mine], tables.radii, tables.values[k]))
    assert np.abs(predicted - values).sum() / np.abs(values).sum() < 0.01


def test_training_with_a_fitted_baseline(dataset_dir, tmp_path) -> None:
    from tests.train.conftest import tiny_config

    from rhograph.errors import ConfigError
    from rhograph.models.baseline import AtomicDensityTables
    from rhograph.train.loop import Trainer
    from rhograph.train.model_setup import baseline_tables

    trainer = Trainer(tiny_config(dataset_dir, preset="rhograph-painn", baseline="fit"), tmp_path / "run")
    tables = AtomicDensityTables.load(tmp_path / "run" / "atomic_densities.npz")
    assert trainer.model.config.baseline.elements == tables.elements
    assert tables.settings["source"].startswith("fitted") and tables.settings["structures"] == len(trainer.split.train)
    with pytest.raises(ConfigError, match="training data"):
        baseline_tables("fit", str(dataset_dir), tmp_path / "other", 3.0)
