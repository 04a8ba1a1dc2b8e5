"""DensityGrid <-> pymatgen: units (ρ·V_cell in a Chgcar), round trips, and agreement with our CHGCAR writer."""

from __future__ import annotations

import sys

import ase
import numpy as np
import pytest

from rhograph.errors import ConfigError, StructureError
from rhograph.io.chgcar import write_chgcar
from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import read_density
from rhograph.io.pymatgen_io import atoms_from_pymatgen, is_pymatgen_structure

pytest.importorskip("pymatgen.io.vasp.outputs")
from pymatgen.core import Lattice, Molecule, Structure
from pymatgen.io.common import VolumetricData
from pymatgen.io.vasp.outputs import Chgcar, Locpot


def _wrapped_fractional(atoms: ase.Atoms) -> np.ndarray:
    return atoms.get_scaled_positions(wrap=True)


@pytest.mark.parametrize("spin", [False, True])
def test_to_pymatgen_stores_rho_times_volume_like_our_chgcar_file(make_grid, tmp_path, spin):
    grid = make_grid(spin=spin)
    chgcar = grid.to_pymatgen()
    assert isinstance(chgcar, Chgcar)
    np.testing.assert_allclose(chgcar.data["total"], grid.values.astype(np.float64) * grid.cell_volume)
    # pymatgen integrates as sum / ngridpts (CHGCAR convention): the electron count
    assert chgcar.data["total"].sum() / chgcar.ngridpts == pytest.approx(grid.electrons, rel=1e-9)
    # the file written by rhograph, read by pymatgen, holds the same numbers
    path = tmp_path / "CHGCAR"
    write_chgcar(path, grid)
    from_file = Chgcar.from_file(str(path))
    assert from_file.dim == chgcar.dim == grid.shape
    np.testing.assert_allclose(from_file.data["total"], chgcar.data["total"], rtol=1e-9, atol=1e-9)
    if spin:
        np.testing.assert_allclose(from_file.data["diff"], chgcar.data["diff"], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(chgcar.data["diff"], grid.spin.astype(np.float64) * grid.cell_volume)
    else:
        assert "diff" not in chgcar.data
    np.testing.assert_allclose(from_file.structure.lattice.matrix, grid.cell, atol=1e-6)
    np.testing.assert_allclose(chgcar.structure.lattice.matrix, grid.cell)
    assert [str(s.specie) for s in from_file.structure] == grid.atoms.get_chemical_symbols()
    np.testing.assert_allclose(from_file.structure.frac_coords % 1.0, chgcar.structure.frac_coords % 1.0, atol=1e-6)


@pytest.mark.parametrize("spin", [False, True])
def test_round_trip_through_pymatgen_and_from_pymatgen_files(make_grid, tmp_path, spin):
    grid = make_grid(spin=spin)
    back = DensityGrid.from_pymatgen(grid.to_pymatgen())
    np.testing.assert_allclose(back.values, grid.values, rtol=1e-6)
    np.testing.assert_allclose(back.cell, grid.cell)
    np.testing.assert_array_equal(back.origin, 0.0)
    np.testing.assert_allclose(back.atoms.positions, grid.atoms.positions, atol=1e-12)
    assert back.electrons == pytest.approx(grid.electrons, rel=1e-6)
    assert (back.spin is None) == (not spin)
    if spin:
        np.testing.assert_allclose(back.spin, grid.spin, rtol=1e-6, atol=1e-9)
    # a CHGCAR read by pymatgen gives what rhograph's own reader gives
    path = tmp_path / "CHGCAR"
    write_chgcar(path, grid)
    via_pymatgen = DensityGrid.from_pymatgen(Chgcar.from_file(str(path)))
    ours = read_density(path)
    np.testing.assert_allclose(via_pymatgen.values, ours.values, rtol=1e-6)
    np.testing.assert_allclose(_wrapped_fractional(via_pymatgen.atoms), _wrapped_fractional(ours.atoms), atol=1e-6)
    assert via_pymatgen.pbc.all()


def test_origin_and_pbc_of_a_molecular_grid(make_grid):
    grid = make_grid(origin=(0.5, -0.25, 1.0), pbc=False)
    chgcar = grid.to_pymatgen()
    assert chgcar.structure.lattice.pbc == (False, False, False)
    np.testing.assert_allclose(chgcar.structure.cart_coords, grid.atoms.positions - grid.origin)
    back = DensityGrid.from_pymatgen(chgcar)
    assert not back.pbc.any()
    np.testing.assert_allclose(back.atoms.positions + grid.origin, grid.atoms.positions, atol=1e-12)
    np.testing.assert_allclose(back.values, grid.values, rtol=1e-6)


def test_other_volumetric_data_need_the_unit(make_grid):
    grid = make_grid()
    structure = grid.to_pymatgen().structure
    raw = {"total": grid.values.astype(np.float64)}
    locpot = DensityGrid.from_pymatgen(Locpot(structure, raw))
    np.testing.assert_allclose(locpot.values, grid.values)  # a potential is not divided by the volume
    generic = VolumetricData(structure, raw)
    with pytest.raises(ConfigError, match="volume_scaled"):
        DensityGrid.from_pymatgen(generic)
    np.testing.assert_allclose(DensityGrid.from_pymatgen(generic, volume_scaled=False).values, grid.values)
    with pytest.raises(ConfigError, match="VolumetricData"):
        DensityGrid.from_pymatgen(structure)


def test_structures_and_molecules_to_atoms():
    structure = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    molecule = Molecule(["O", "H", "H"], [[0, 0, 0], [0.76, 0.58, 0], [-0.76, 0.58, 0]])
    assert is_pymatgen_structure(structure) and is_pymatgen_structure(molecule)
    assert not is_pymatgen_structure(ase.Atoms("H")) and not is_pymatgen_structure("POSCAR")
    atoms = atoms_from_pymatgen(structure)
    assert type(atoms) is ase.Atoms and atoms.pbc.all()
    np.testing.assert_allclose(atoms.cell.array, structure.lattice.matrix)
    np.testing.assert_allclose(atoms.positions, structure.cart_coords)
    mol = atoms_from_pymatgen(molecule)
    assert not mol.pbc.any() and mol.get_chemical_symbols() == ["O", "H", "H"]
    disordered = Structure(Lattice.cubic(4.0), [{"Fe": 0.5, "Co": 0.5}], [[0, 0, 0]])
    with pytest.raises(StructureError, match="cannot convert"):
        atoms_from_pymatgen(disordered)


def test_without_pymatgen_the_error_says_how_to_install(make_grid, monkeypatch):
    monkeypatch.setitem(sys.modules, "pymatgen.io.ase", None)  # as if pymatgen were not installed
    with pytest.raises(ImportError, match=r"pip install rhograph\[pymatgen\]"):
        make_grid().to_pymatgen()
