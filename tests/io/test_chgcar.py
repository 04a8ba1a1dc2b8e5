"""VASP CHGCAR reader and writer: layout, units (ρ·V_cell), spin blocks, foreign readers and writers."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from rhograph.errors import DensityFileError
from rhograph.io.chgcar import chgcar_bytes, read_chgcar, write_chgcar


def test_round_trip_preserves_values_structure_and_spin(tmp_path: Path, make_grid) -> None:
    grid = make_grid(spin=True)
    write_chgcar(tmp_path / "CHGCAR", grid)
    back = read_chgcar(tmp_path / "CHGCAR")
    np.testing.assert_array_equal(back.values, grid.values)  # 11 digits are lossless for float32
    np.testing.assert_array_equal(back.spin, grid.spin)
    np.testing.assert_allclose(back.cell, grid.cell, atol=1e-14)
    np.testing.assert_allclose(back.atoms.positions, grid.atoms.positions, atol=1e-12)
    assert back.atoms.get_chemical_symbols() == ["Si", "Si", "O"]
    assert back.pbc.all() and back.source == str(tmp_path / "CHGCAR")
    assert back.electrons == pytest.approx(grid.electrons, rel=1e-12)


def test_file_stores_rho_times_volume_in_fortran_order(make_grid) -> None:
    grid = make_grid(shape=(2, 3, 4))
    text = chgcar_bytes(grid).decode()
    header, _, body = text.partition("    2    3    4\n")
    assert "Direct" in header and header.splitlines()[5].split() == ["Si", "O"]
    stored = np.array(body.split(), dtype=float)
    expected = grid.values.astype(np.float64).ravel(order="F") * grid.cell_volume
    np.testing.assert_allclose(stored, expected, rtol=6e-11)  # 11 significant digits
    assert [len(line.split()) for line in body.splitlines()] == [5, 5, 5, 5, 4]


def test_vasp_spin_file_with_augmentation_occupancies(fixtures: Path) -> None:
    grid = read_chgcar(fixtures / "spin_paw.CHGCAR")
    i, j, k = np.meshgrid(np.arange(3), np.arange(2), np.arange(4), indexing="ij")
    volume = 3.0 * 2.0 * 4.0
    np.testing.assert_allclose(grid.values, (i + 10 * j + 100 * k + 1) / volume, rtol=1e-7)
    np.testing.assert_allclose(grid.spin, -0.01 * (i + 10 * j + 100 * k + 1) / volume, rtol=1e-7)
    assert grid.atoms.get_chemical_symbols() == ["Li", "H"]
    np.testing.assert_allclose(grid.atoms.positions[1], [1.5, 1.0, 2.0])


def test_vasp4_header_selective_dynamics_cartesian_and_volume_scale(fixtures: Path) -> None:
    grid = read_chgcar(fixtures / "vasp4_selective.CHGCAR")
    assert grid.atoms.get_chemical_symbols() == ["Na", "Cl"]  # taken from the comment line
    np.testing.assert_allclose(grid.cell, 4.0 * np.eye(3))  # scale -64 = a 64 Å^3 cell
    np.testing.assert_allclose(grid.atoms.positions[1], [2.0, 2.0, 2.0])  # Cartesian × scale
    np.testing.assert_allclose(grid.values.ravel(order="F"), np.arange(1, 9) / 64.0, rtol=1e-7)


def test_vasp4_without_symbols_is_a_clear_error(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "vasp4_selective.CHGCAR").read_text().replace("Na Cl", "my structure", 1)
    (tmp_path / "CHGCAR").write_text(text)
    with pytest.raises(DensityFileError, match=r"CHGCAR.*element names"):
        read_chgcar(tmp_path / "CHGCAR")


def test_reads_bytes_file_objects_and_compressed_paths(tmp_path: Path, make_grid) -> None:
    grid = make_grid()
    data = chgcar_bytes(grid)
    from_bytes = read_chgcar(data, source="mem")
    from_stream = read_chgcar(io.BytesIO(data))
    write_chgcar(tmp_path / "x.CHGCAR.zst", grid)
    from_zst = read_chgcar(tmp_path / "x.CHGCAR.zst")
    for other in (from_bytes, from_stream, from_zst):
        np.testing.assert_array_equal(other.values, grid.values)
    assert from_bytes.source == "mem"


def test_nonzero_origin_translates_atoms(make_grid) -> None:
    grid = make_grid(origin=(1.0, -2.0, 0.5))
    back = read_chgcar(chgcar_bytes(grid))
    np.testing.assert_allclose(back.origin, 0.0)
    np.testing.assert_allclose(back.atoms.positions, grid.atoms.positions - grid.origin, atol=1e-12)
    np.testing.assert_array_equal(back.values, grid.values)


def test_noncollinear_blocks_are_not_taken_as_spin(make_grid) -> None:
    grid = make_grid(shape=(2, 2, 3), spin=True)
    with_spin = chgcar_bytes(grid)
    dims = b"    2    2    3\n"
    magnetisation = with_spin[with_spin.rindex(dims) :]  # dims line + one magnetisation block
    grid.spin = None
    back = read_chgcar(chgcar_bytes(grid) + magnetisation * 3)  # m_x, m_y, m_z
    assert back.spin is None
    np.testing.assert_array_equal(back.values, grid.values)


def test_multi_snapshot_chg_reads_the_first(make_grid) -> None:
    first, second = make_grid(shape=(2, 2, 3), seed=1), make_grid(shape=(2, 2, 3), seed=2)
    back = read_chgcar(chgcar_bytes(first) + chgcar_bytes(second))
    np.testing.assert_array_equal(back.values, first.values)
    assert back.spin is None


# ---------------------------------------------------------------------------------------------- other codes
def test_ase_and_pymatgen_read_our_files(tmp_path: Path, make_grid) -> None:
    from ase.calculators.vasp import VaspChargeDensity
    from ase.io.vasp import read_vasp_configuration
    from pymatgen.io.vasp.outputs import Chgcar

    grid = make_grid(spin=True)
    path = tmp_path / "CHGCAR"
    write_chgcar(path, grid)
    ase_chg = VaspChargeDensity(str(path))
    np.testing.assert_allclose(ase_chg.chg[0], grid.values, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(ase_chg.chgdiff[0], grid.spin, rtol=1e-7, atol=1e-12)
    # ase.io.read(format="vasp") itself stops at the grid dimensions line of every CHGCAR (it takes it for
    # velocities, ASE 3.29); its structure parser, used by VaspChargeDensity, reads the header
    with open(path) as fh:
        atoms = read_vasp_configuration(fh)
    np.testing.assert_allclose(atoms.positions, grid.atoms.positions, atol=1e-10)
    assert atoms.get_chemical_symbols() == grid.atoms.get_chemical_symbols()
    pmg = Chgcar.from_file(str(path))
    volume = pmg.structure.volume
    np.testing.assert_allclose(pmg.data["total"] / volume, grid.values, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(pmg.data["diff"] / volume, grid.spin, rtol=1e-7, atol=1e-12)


def test_we_read_files_written_by_ase_and_pymatgen(tmp_path: Path, make_grid) -> None:
    from ase.calculators.vasp import VaspChargeDensity
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp.inputs import Poscar
    from pymatgen.io.vasp.outputs import Chgcar

    grid = make_grid(spin=True)
    ase_chg = VaspChargeDensity(filename=None)
    ase_chg.atoms = [grid.atoms]
    ase_chg.chg = [grid.values.astype(np.float64)]
    ase_chg.chgdiff = [grid.spin.astype(np.float64)]
    ase_chg.write(str(tmp_path / "ase.CHGCAR"), format="chgcar")
    from_ase = read_chgcar(tmp_path / "ase.CHGCAR")
    np.testing.assert_allclose(from_ase.values, grid.values, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(from_ase.spin, grid.spin, rtol=1e-6, atol=1e-9)

    volume = grid.cell_volume
    poscar = Poscar(AseAtomsAdaptor.get_structure(grid.atoms))
    data = {"total": grid.values.astype(np.float64) * volume, "diff": grid.spin.astype(np.float64) * volume}
    Chgcar(poscar, data).write_file(str(tmp_path / "pmg.CHGCAR"))
    from_pmg = read_chgcar(tmp_path / "pmg.CHGCAR")
    np.testing.assert_allclose(from_pmg.values, grid.values, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(from_pmg.spin, grid.spin, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(from_pmg.atoms.positions, grid.atoms.positions, atol=1e-5)


# ---------------------------------------------------------------------------------------------- bad input
def _broken(tmp_path: Path, grid, edit) -> Path:
    path = tmp_path / "bad.CHGCAR"
    path.write_bytes(edit(chgcar_bytes(grid)))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b[: len(b) - 60], r"cannot read 378 = 6×7×9 values.*found only"),
        (lambda b: b.replace(b"E+0", b"Q+0", 1), "not a number"),
        (lambda b: b.replace(b"    6    7    9", b"    6    5    9"), "more numbers follow"),
        (lambda b: b.replace(b"    6    7    9", b"    6    7   10"), "found only"),
        (lambda b: b.replace(b"    6    7    9", b"    6    7"), "three positive grid dimensions"),
        (lambda b: b.replace(b"   Si    O", b"   Si    Qq"), "unknown element symbol 'Qq'"),
        (lambda b: b.replace(b"    2    1\nDirect", b"    0    0\nDirect"), "0 atoms"),
        (lambda b: b.split(b"Direct")[0], "file ends before"),
        (lambda b: b.replace(b"   1.00000000000000", b"  abc"), "line 2: scale factor line"),
        (lambda b: b.replace(b"   1.00000000000000", b"  0.0"), "line 2: scale factor is zero"),
        (lambda b: b.replace(b"   1.00000000000000", b"  1.0 -1.0 1.0"), "line 2: three scale factors"),
        (lambda b: b"\x00\xff\x10binary" + b, "binary"),
    ],
)
def test_malformed_files_raise_errors_naming_the_file(tmp_path: Path, make_grid, edit, message) -> None:
    grid = make_grid()
    path = _broken(tmp_path, grid, edit)
    with pytest.raises(DensityFileError, match=message) as info:
        read_chgcar(path)
    assert str(path) in str(info.value)


def test_nan_values_and_bad_cells_are_rejected(tmp_path: Path, make_grid) -> None:
    grid = make_grid(shape=(2, 2, 2))
    text = chgcar_bytes(grid)
    lines = text.split(b"\n")
    last = lines[-2].split()
    lines[-2] = b" ".join([*last[:-1], b"NaN"])
    path = tmp_path / "nan.CHGCAR"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DensityFileError, match=r"nan\.CHGCAR.*NaN/inf"):
        read_chgcar(path)
    flat = text.replace(b"6.0000000000000000\n", b"0.0000000000000000\n", 1)
    path.write_bytes(flat)
    with pytest.raises(DensityFileError, match=r"nan\.CHGCAR.*volume must be positive"):
        read_chgcar(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DensityFileError, match=r"nothere\.CHGCAR: no such file"):
        read_chgcar(tmp_path / "nothere.CHGCAR")
