"""Gaussian cube reader and writer: units, layout, files of ASE and PySCF, CHGCAR ↔ cube round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.units import Bohr

from rhograph.errors import DensityFileError
from rhograph.io.chgcar import read_chgcar, write_chgcar
from rhograph.io.cube import cube_bytes, read_cube, write_cube


def test_round_trip_keeps_float32_values_and_geometry(tmp_path: Path, make_grid) -> None:
    grid = make_grid(origin=(0.3, -1.0, 2.0), pbc=False)
    write_cube(tmp_path / "x.cube", grid)
    back = read_cube(tmp_path / "x.cube")
    np.testing.assert_allclose(back.values, grid.values, rtol=1.2e-7, atol=0)  # float32 precision
    assert (back.values == grid.values).mean() > 0.99
    np.testing.assert_allclose(back.cell, grid.cell, atol=1e-9)
    np.testing.assert_allclose(back.origin, grid.origin, atol=1e-9)
    np.testing.assert_allclose(back.atoms.positions, grid.atoms.positions, atol=1e-9)
    np.testing.assert_allclose(back.atoms.cell.array, grid.cell, atol=1e-9)
    assert not back.pbc.any()
    assert read_cube(tmp_path / "x.cube", pbc=True).pbc.all()


def test_file_is_in_bohr_and_c_order_with_row_breaks(make_grid) -> None:
    grid = make_grid(shape=(2, 3, 8), origin=(1.0, 0.0, 0.0))
    lines = cube_bytes(grid).decode().splitlines()
    natoms, *origin = lines[2].split()
    assert int(natoms) == 3 and float(origin[0]) == pytest.approx(1.0 / Bohr)
    assert float(lines[3].split()[1]) == pytest.approx(grid.cell[0, 0] / 2 / Bohr)
    body = lines[6 + 3 :]
    assert [len(line.split()) for line in body] == [6, 2] * 6  # each (i, j) row of 8 starts a new line
    stored = np.array(" ".join(body).split(), dtype=float)
    np.testing.assert_allclose(stored, grid.values.ravel().astype(float) * Bohr**3, rtol=1e-8)


def test_ase_cube_files_both_ways(tmp_path: Path, make_grid) -> None:
    from ase.io.cube import read_cube_data
    from ase.io.cube import write_cube as ase_write_cube

    grid = make_grid(shape=(4, 5, 6))
    atoms = grid.atoms.copy()
    with open(tmp_path / "ase.cube", "w") as fh:
        ase_write_cube(fh, atoms, data=grid.values * Bohr**3)
    ours = read_cube(tmp_path / "ase.cube")
    np.testing.assert_allclose(ours.values, grid.values, rtol=1e-6)
    np.testing.assert_allclose(ours.cell, grid.cell, atol=1e-5)
    np.testing.assert_allclose(ours.atoms.positions, atoms.positions, atol=1e-5)

    write_cube(tmp_path / "ours.cube", grid)
    data, ase_atoms = read_cube_data(str(tmp_path / "ours.cube"))
    np.testing.assert_allclose(data, grid.values.astype(float) * Bohr**3, rtol=1e-8)
    np.testing.assert_allclose(ase_atoms.positions, grid.atoms.positions, atol=1e-8)


def test_angstrom_variant_with_negative_voxel_counts(fixtures: Path) -> None:
    grid = read_cube(fixtures / "angstrom.cube")
    assert grid.shape == (2, 3, 4)
    np.testing.assert_allclose(grid.cell, np.diag([1.0, 1.5, 1.0]))
    np.testing.assert_allclose(grid.atoms.positions[1], [0.74, 0.0, 0.0])
    i, j, k = np.meshgrid(np.arange(2), np.arange(3), np.arange(4), indexing="ij")
    np.testing.assert_allclose(grid.values, 100 * i + 10 * j + k)  # Å file: values per Å³ as stored


def test_orbital_cube_is_refused(fixtures: Path) -> None:
    with pytest.raises(DensityFileError, match=r"orbital\.cube: negative atom count: this is an orbital cube"):
        read_cube(fixtures / "orbital.cube")


def test_pyscf_cube_integrates_to_the_electron_count_and_converts_to_chgcar(tmp_path: Path) -> None:
    pytest.importorskip("pyscf")
    from pyscf import gto, scf
    from pyscf.tools import cubegen

    mol = gto.M(atom="H 0 0 0; H 0 0 0.74", basis="sto-3g", verbose=0)
    mf = scf.RHF(mol).run()
    cubegen.density(mol, str(tmp_path / "h2.cube"), mf.make_rdm1(), margin=6.0, resolution=0.35)
    cube = read_cube(tmp_path / "h2.cube")
    assert cube.electrons == pytest.approx(2.0, rel=1e-3)
    np.testing.assert_allclose(cube.atoms.positions[1] - cube.atoms.positions[0], [0, 0, 0.74], atol=1e-5)

    write_chgcar(tmp_path / "h2.CHGCAR", cube)
    chgcar = read_chgcar(tmp_path / "h2.CHGCAR")
    assert chgcar.electrons == pytest.approx(cube.electrons, rel=1e-6)
    np.testing.assert_array_equal(chgcar.values, cube.values)

    write_cube(tmp_path / "again.cube", chgcar)
    write_chgcar(tmp_path / "again.CHGCAR", read_cube(tmp_path / "again.cube"))
    again = read_chgcar(tmp_path / "again.CHGCAR")
    np.testing.assert_allclose(again.values, chgcar.values, rtol=1.2e-7, atol=0)
    np.testing.assert_allclose(again.atoms.positions, chgcar.atoms.positions, atol=1e-8)


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t[: len(t) - 40], r"cannot read 48 = 2×3×8 .*found only"),
        (lambda t: t.replace("E+00", "E+O0", 1), "not a number"),
        (lambda t: t + "  1.0E+00\n", "more data follows"),
        (lambda t: t.replace("    8    0.0", "    7    0.0", 1), "more number"),
        (lambda t: t.replace("\n    2 ", "\n   -2 ", 1), "mix Bohr"),
        (lambda t: t.replace("    3    0.0", "    0    0.0", 1), "0 atoms"),
        (lambda t: t.replace("\n   14   14.0", "\n    0    0.0", 1), "unknown element: atomic number 0"),
        (lambda t: t.replace("\n   14   14.0", "\n  200  200.0", 1), "unknown element"),
        (lambda t: "\n".join(t.splitlines()[:5]), "file ends before"),
        (lambda t: t.replace("    3    0.0000000000", "    3    nan", 1), "NaN"),
    ],
)
def test_malformed_cubes_raise_errors_naming_the_file(tmp_path: Path, make_grid, edit, message) -> None:
    grid = make_grid(shape=(2, 3, 8))
    path = tmp_path / "bad.cube"
    path.write_text(edit(cube_bytes(grid).decode()))
    with pytest.raises(DensityFileError, match=message) as info:
        read_cube(path)
    assert str(path) in str(info.value)


def test_nan_values_left_handed_axes_and_multivalued_cubes(tmp_path: Path, make_grid) -> None:
    text = cube_bytes(make_grid(shape=(2, 2, 2))).decode()
    lines = text.splitlines()
    path = tmp_path / "bad.cube"
    path.write_text("\n".join([*lines[:-1], lines[-1].split()[0] + " nan"]) + "\n")
    with pytest.raises(DensityFileError, match="NaN/inf values"):
        read_cube(path)
    first_axis = lines[3].split()
    lines_flipped = [*lines[:3], f"{first_axis[0]} -{first_axis[1]} 0 0", *lines[4:]]
    path.write_text("\n".join(lines_flipped) + "\n")
    with pytest.raises(DensityFileError, match="volume must be positive"):
        read_cube(path)
    path.write_text("\n".join([*lines[:2], lines[2] + "    3", *lines[3:]]) + "\n")
    with pytest.raises(DensityFileError, match="3 values per voxel"):
        read_cube(path)


def test_missing_cube(tmp_path: Path) -> None:
    with pytest.raises(DensityFileError, match=r"none\.cube: no such file"):
        read_cube(tmp_path / "none.cube")
