"""GPAW labels of periodic cells: ∫ρ dV, CHGCAR layout and grid order, all-electron density, spin, manifest,
resume, CLI. The settings checks run without GPAW; the calculations (a few seconds each: LiH and fcc Ni at a
250 eV cutoff, 2×2×2 k-points, 0.2 Å grids) are skipped when GPAW is not installed (CI installs it)."""

from __future__ import annotations

import json

import ase
import numpy as np
import pytest
from ase.build import bulk

from rhograph.cli.main import main
from rhograph.errors import ConfigError
from rhograph.io.formats import read_density
from rhograph.labels import LabelConfig, NamedStructure, label_structures, output_files, read_structures
from rhograph.labels.gpaw_dft import INITIAL_MAGMOMS, SPIN_MIXER, initial_magmoms, kpoint_mesh

from .conftest import LIH, WATER

#: valence electrons of GPAW's default PAW setups (gpaw-data): Li 1 (1s in the core), H 1, Ni 16 (3s3p semicore)
GPAW_VALENCE = {"H": 1, "Li": 1, "Ni": 16}
#: LiH moved off the origin, so that a transposed or shifted grid would put the density peaks elsewhere
SHIFT = np.array([0.7, 0.4, 0.25])


def tiny_gpaw_config(**overrides) -> LabelConfig:
    settings = {
        "code": "gpaw",
        "ecut": 250.0,
        "kpts": (2, 2, 2),
        "spacing": 0.2,
        "smearing": 0.1,
        "all_electron_grid": True,
        "ae_refinement": 2,  # a finer all-electron grid resolves the Li cusp better (default 1: the label grid)
        "compression": ".gz",
    }
    settings.update(overrides)
    return LabelConfig(**settings)


def shifted_lih() -> ase.Atoms:
    atoms = read_structures([LIH])[0].atoms
    atoms.positions += SHIFT
    atoms.wrap()
    return atoms


@pytest.fixture(scope="module")
def gpaw_labels(tmp_path_factory):
    """``(out_dir, report)`` of GPAW labels of the shifted LiH cell and ferromagnetic fcc Ni."""
    pytest.importorskip("gpaw")
    out = tmp_path_factory.mktemp("gpaw")
    structures = [
        NamedStructure(name="lih", atoms=shifted_lih()),
        NamedStructure(name="ni", atoms=bulk("Ni", "fcc", a=3.52)),
    ]
    report = label_structures(structures, out, tiny_gpaw_config(), workers=1, threads=1)
    return out, report


# ------------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"code": "gpaw", "basis": "gth-szv"}, "basis apply to code='pyscf' only"),
        ({"code": "gpaw", "write_compact": True}, "write_compact"),
        ({"code": "gpaw", "density": "all-electron"}, "all_electron_grid"),
        ({"code": "gpaw", "spin": 2}, "spin=None"),
        ({"code": "gpaw", "ae_refinement": 0}, "ae_refinement"),
        ({"ecut": 300.0}, "ecut apply to code='gpaw' only"),
        ({"all_electron_grid": True}, "all_electron_grid apply to code='gpaw' only"),
        ({"code": "vasp"}, "code='vasp' is not allowed"),
    ],
)
def test_settings_that_belong_to_the_other_code_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        LabelConfig(**settings)


def test_gpaw_density_settings_rebuild_the_config_and_pyscf_settings_carry_no_code():
    config = tiny_gpaw_config(kpt_density=0.8)
    settings = config.density_settings()
    assert settings["code"] == "gpaw" and settings["ecut"] == 250.0 and settings["smearing"] == 0.1
    assert LabelConfig(**settings).density_settings() == settings
    assert "code" not in LabelConfig().density_settings()  # label directories made before GPAW stay valid
    assert LabelConfig(code="gpaw").resolved_ecut == 400.0 and LabelConfig(code="gpaw").ae_refinement == 1


def test_all_electron_density_goes_to_its_own_folder():
    assert output_files("x", True, tiny_gpaw_config()) == ["x_CHGCAR.gz", "all-electron/x_AECCAR.gz"]
    assert output_files("x", True, tiny_gpaw_config(all_electron_grid=False)) == ["x_CHGCAR.gz"]


def test_kpoint_density_gives_a_mesh_per_cell():
    cell = np.diag([5.0, 10.0, 20.0])
    assert kpoint_mesh(cell, tiny_gpaw_config()) == (2, 2, 2)
    # ceil(2π / L · density): 2π/5 = 1.26, 2π/10 = 0.63, 2π/20 = 0.31 per Å⁻¹
    assert kpoint_mesh(cell, tiny_gpaw_config(kpt_density=2.0)) == (3, 2, 1)


def test_initial_moments_for_magnetic_elements_only():
    nio = ase.Atoms("NiOLi", positions=np.zeros((3, 3)), cell=np.eye(3) * 4.0, pbc=True)
    np.testing.assert_allclose(initial_magmoms(nio, tiny_gpaw_config()), [INITIAL_MAGMOMS["Ni"], 0.0, 0.0])
    assert initial_magmoms(nio, tiny_gpaw_config(spin=0)) is None
    assert initial_magmoms(shifted_lih(), tiny_gpaw_config()) is None
    lih = shifted_lih()
    lih.set_initial_magnetic_moments([0.5, 0.0])  # moments stored with the structure win
    np.testing.assert_allclose(initial_magmoms(lih, tiny_gpaw_config()), [0.5, 0.0])


# ------------------------------------------------------------------------------------------- calculations


def test_valence_density_integrates_to_the_setup_valence_electrons(gpaw_labels):
    out, report = gpaw_labels
    assert sorted(report.done) == ["lih", "ni"] and not report.failed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["code"] == "gpaw" and manifest["gpaw"] and manifest["gpaw_data"]
    for name, formula in (("lih", {"Li": 1, "H": 1}), ("ni", {"Ni": 1})):
        entry = manifest["structures"][name]
        expected = sum(GPAW_VALENCE[e] * n for e, n in formula.items())
        assert entry["converged"] and entry["electrons"] == expected
        assert entry["setup_valence"] == {e: GPAW_VALENCE[e] for e in formula}
        grid = read_density(out / f"{name}_CHGCAR.gz")  # ρ·V_cell in the file, e/Å³ after reading
        assert grid.electrons == pytest.approx(expected, rel=1e-5)
        assert entry["grid_shape"] == list(grid.shape)
        lengths = np.linalg.norm(grid.cell, axis=1)
        assert np.all(lengths / np.array(grid.shape) <= 0.2 + 1e-9)  # spacing at most the label spacing


def test_all_electron_density_has_all_electrons_and_peaks_at_the_nucleus(gpaw_labels):
    out, _ = gpaw_labels
    atoms = shifted_lih()
    valence = read_density(out / "lih_CHGCAR.gz")
    grid = read_density(out / "all-electron" / "lih_AECCAR.gz")
    assert grid.electrons == pytest.approx(4.0, rel=1e-5)  # Li 3 + H 1
    assert grid.shape == tuple(2 * n for n in valence.shape)
    np.testing.assert_allclose(grid.atoms.positions, atoms.positions, atol=1e-6)
    # the 1s cusp of Li is the highest point: the grid point there lies within one voxel of the nucleus
    peak = np.array(np.unravel_index(np.argmax(grid.values), grid.shape)) / np.array(grid.shape) @ grid.cell
    offset = np.linalg.solve(grid.cell.T, peak - atoms.positions[0])
    offset -= np.round(offset)
    assert np.linalg.norm(offset @ grid.cell) <= np.linalg.norm(grid.voxel_vectors, axis=1).max()


def test_magnetic_cell_gets_a_magnetisation_block(gpaw_labels):
    out, _ = gpaw_labels
    structures = json.loads((out / "manifest.json").read_text())["structures"]
    entry = structures["ni"]
    assert entry["spin_polarised"] and entry["magnetic_moment"] > 0.3
    # spin-polarised cells mix the spin difference slowly (SPIN_MIXER); others keep GPAW's default mixer
    assert entry["solver"]["mixer"] == SPIN_MIXER and structures["lih"]["solver"]["mixer"] == "GPAW default"
    grid = read_density(out / "ni_CHGCAR.gz")
    assert grid.spin is not None
    magnetisation = float(grid.spin.sum()) * grid.cell_volume / grid.num_points
    assert magnetisation == pytest.approx(entry["magnetic_moment"], abs=0.02)


def test_resume_skips_finished_cells_and_molecules_are_refused(gpaw_labels):
    out, _ = gpaw_labels
    structures = [NamedStructure(name="lih", atoms=shifted_lih()), *read_structures([WATER])]
    report = label_structures(structures, out, tiny_gpaw_config(), workers=1, threads=1)
    assert report.skipped == ["lih"]
    assert "periodic cells" in report.failed["water"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["structures"]["water"]["status"] == "failed"


def test_unconverged_scf_writes_nothing(tmp_path):
    pytest.importorskip("gpaw")
    config = tiny_gpaw_config(max_cycle=2)
    report = label_structures([NamedStructure(name="lih", atoms=shifted_lih())], tmp_path, config, workers=1)
    assert "did not converge in 2 iterations" in report.failed["lih"]
    assert not list(tmp_path.glob("*CHGCAR*")) and not (tmp_path / "all-electron").exists()
    assert "iter:" in (tmp_path / "gpaw-logs" / "lih.txt").read_text()  # GPAW's log shows why


def test_cli_label_with_gpaw(tmp_path, capsys):
    pytest.importorskip("gpaw")
    out = tmp_path / "out"
    argv = ["label", str(LIH), "-o", str(out), "--code", "gpaw", "--ecut", "250", "--kpts", "2", "2", "2"]
    assert main([*argv, "--grid-step", "0.25", "--compress", "zst"]) == 0
    assert "1 labelled" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["smearing"] == 0.1  # GPAW's default smearing, the paper's SIGMA
    assert read_density(out / "lih_CHGCAR.zst").electrons == pytest.approx(2.0, rel=1e-5)
    # PySCF's options are refused with GPAW
    assert main([*argv, "--basis", "gth-szv"]) == 2
    assert "basis apply to code='pyscf' only" in capsys.readouterr().err
