"""``rhograph.predict`` takes ASE Atoms, pymatgen Structure / Molecule and file paths alike."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk, molecule

from rhograph.errors import StructureError
from rhograph.inference.predict import predict
from rhograph.testing.structures import tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model("deepdft-painn", dtype=torch.float32, seed=1)


def test_file_path_gives_the_same_density_as_atoms(model, tmp_path):
    atoms = molecule("H2O")
    path = tmp_path / "water.xyz"
    ase.io.write(path, atoms)
    from_atoms = predict(atoms, model, grid_step=0.4)
    from_path = predict(path, model, grid_step=0.4)
    from_str = predict(str(path), model, grid_step=0.4)
    np.testing.assert_array_equal(from_path.values, from_atoms.values)
    np.testing.assert_array_equal(from_str.values, from_atoms.values)


def test_errors_name_the_file(model, tmp_path):
    path = tmp_path / "bad.xyz"
    path.write_text("2\n\nH 0 0 0\nH 0 0 0\n")
    with pytest.raises(StructureError, match=r"bad\.xyz"):
        predict(path, model, grid_step=0.4)
    with pytest.raises(FileNotFoundError):
        predict(tmp_path / "missing.xyz", model)
    with pytest.raises(TypeError, match="pymatgen Structure / Molecule or a file path, got int"):
        predict(3, model)


def test_pymatgen_molecule_and_structure(model):
    pytest.importorskip("pymatgen.io.ase")
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = molecule("CH4")
    mol = AseAtomsAdaptor.get_molecule(atoms)
    np.testing.assert_array_equal(
        predict(mol, model, grid_step=0.4).values, predict(atoms, model, grid_step=0.4).values
    )
    silicon = bulk("Si", "diamond", a=5.43)
    structure = AseAtomsAdaptor.get_structure(silicon)
    from_structure = predict(structure, model, grid_shape=(6, 6, 6))
    assert from_structure.pbc.all()
    np.testing.assert_allclose(from_structure.cell, silicon.cell.array)
    np.testing.assert_allclose(from_structure.values, predict(silicon, model, grid_shape=(6, 6, 6)).values, rtol=1e-6)
