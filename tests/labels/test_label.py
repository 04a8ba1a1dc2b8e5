"""DFT labelling with PySCF: electron counts, files, manifest, resume, failures, CLI."""

from __future__ import annotations

import json
import os
import sys

import ase
import numpy as np
import pytest

pytest.importorskip("pyscf")

from rhograph.cli.main import main
from rhograph.errors import DensityFileError
from rhograph.io.formats import read_density
from rhograph.labels import NamedStructure, label_structures, read_structures
from rhograph.labels.grids import grid_shape, molecule_box

from .conftest import H2, LIH, VALENCE_ELECTRONS, WATER, tiny_config


def test_two_molecules_and_a_cell_are_labelled_with_correct_electron_counts(labelled):
    out, report = labelled
    assert sorted(report.done) == ["h2", "lih", "water"] and not report.failed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["basis"] == "gth-szv" and manifest["settings"]["pseudo"] == "gth-pbe"
    for name, file_name in (("water", "water.cube"), ("h2", "h2.cube"), ("lih", "lih_CHGCAR")):
        entry = manifest["structures"][name]
        assert entry["status"] == "done" and entry["converged"]
        assert entry["electrons"] == VALENCE_ELECTRONS[name]
        assert entry["electrons_dm"] == pytest.approx(VALENCE_ELECTRONS[name], abs=1e-6)
        grid = read_density(out / file_name)
        # ∫ρ dV of the written file (cube text keeps ~6 digits)
        assert grid.electrons == pytest.approx(VALENCE_ELECTRONS[name], rel=1e-3)
        assert grid.values.min() > -1e-6
        assert entry["grid_shape"] == list(grid.shape)


def test_molecule_box_is_extent_plus_vacuum(labelled):
    out, _ = labelled
    atoms = read_structures([WATER])[0].atoms
    grid = read_density(out / "water.cube")
    cell, origin = molecule_box(atoms.positions, 4.0)
    np.testing.assert_allclose(origin, atoms.positions.min(axis=0) - 4.0, atol=1e-5)
    np.testing.assert_allclose(grid.origin, origin, atol=1e-5)
    np.testing.assert_allclose(grid.cell, cell, atol=1e-5)
    assert grid.shape == grid_shape(cell, 0.15)
    assert np.all(np.diag(grid.voxel_vectors) <= 0.15 + 1e-9)
    np.testing.assert_allclose(grid.atoms.positions, atoms.positions, atol=1e-5)


def test_periodic_cell_grid_follows_the_lattice(labelled):
    out, _ = labelled
    atoms = read_structures([LIH])[0].atoms
    grid = read_density(out / "lih_CHGCAR")
    np.testing.assert_allclose(grid.cell, atoms.cell.array, atol=1e-5)
    assert grid.shape == grid_shape(atoms.cell.array, 0.15) == (19, 19, 19)
    assert grid.pbc.all()


def test_resume_skips_finished_and_redoes_missing_outputs(labelled):
    out, _ = labelled
    structures = read_structures([WATER, H2, LIH])
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    report = label_structures(structures, out, tiny_config(), workers=1, threads=1)
    assert sorted(report.skipped) == ["h2", "lih", "water"] and not report.done
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before

    os.remove(out / "h2.cube")
    report = label_structures(structures, out, tiny_config(), workers=1, threads=1)
    assert report.done == ["h2"] and sorted(report.skipped) == ["lih", "water"]
    assert (out / "h2.cube").exists()


def test_other_density_settings_in_the_same_directory_are_refused(labelled):
    out, _ = labelled
    with pytest.raises(DensityFileError, match="spacing"):
        label_structures(read_structures([H2]), out, tiny_config(spacing=0.1), workers=1)


def test_unconverged_scf_writes_nothing_and_is_reported(tmp_path):
    structures = read_structures([WATER])
    report = label_structures(structures, tmp_path, tiny_config(max_cycle=1), workers=1, threads=1)
    assert not report.ok and "converge" in report.failed["water"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
    entry = json.loads((tmp_path / "manifest.json").read_text())["structures"]["water"]
    assert entry["status"] == "failed" and entry["converged"] is False
    # the next run tries it again (and converges with the normal limit)
    report = label_structures(structures, tmp_path, tiny_config(), workers=1, threads=1)
    assert report.done == ["water"] and (tmp_path / "water.cube").exists()


def test_grid_too_coarse_for_the_density_fails_the_electron_check(tmp_path):
    report = label_structures(read_structures([WATER]), tmp_path, tiny_config(spacing=0.3), workers=1)
    assert "electron count" in report.failed["water"]
    assert not (tmp_path / "water.cube").exists()


def test_mixed_periodicity_is_reported_not_raised(tmp_path):
    slab = ase.Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=np.eye(3) * 3, pbc=[True, True, False])
    report = label_structures([NamedStructure("slab", slab)], tmp_path, tiny_config(), workers=1)
    assert "periodic along" in report.failed["slab"]


def test_open_shell_molecule_gets_a_spin_density(tmp_path):
    from rhograph.labels import CompactDensity

    oh = ase.Atoms("OH", positions=[[0, 0, 0], [0, 0, 0.97]])
    report = label_structures([NamedStructure("oh", oh)], tmp_path, tiny_config(), workers=1, threads=1)
    assert report.done == ["oh"]
    entry = json.loads((tmp_path / "manifest.json").read_text())["structures"]["oh"]
    assert entry["spin"] == 1 and entry["electrons"] == 7
    compact = CompactDensity.load(tmp_path / "oh.dm.npz")
    grid = compact.to_grid()
    assert grid.spin is not None
    assert grid.spin.sum(dtype=np.float64) * grid.voxel_volume == pytest.approx(1.0, abs=1e-3)


def test_all_electron_density_has_all_electrons(tmp_path):
    config = tiny_config(density="all-electron", basis="sto-3g", spacing=0.1)
    report = label_structures(read_structures([H2]), tmp_path, config, workers=1, threads=1)
    assert report.done == ["h2"]
    entry = json.loads((tmp_path / "manifest.json").read_text())["structures"]["h2"]
    assert entry["electrons"] == 2 and entry["electrons_grid"] == pytest.approx(2.0, abs=entry["electron_tolerance"])


def test_two_workers_label_in_parallel(tmp_path):
    report = label_structures(read_structures([WATER, H2]), tmp_path, tiny_config(), workers=2, threads=1)
    assert sorted(report.done) == ["h2", "water"]
    grid = read_density(tmp_path / "water.cube")
    assert grid.electrons == pytest.approx(8.0, rel=1e-3)


def test_cli_label_writes_compressed_files_and_reports_failures(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["-q", "label", str(H2), "-o", str(out), "--basis", "gth-szv", "--compress", "gz",
                 "--workers", "1"])  # fmt: skip
    assert code == 0 and (out / "h2.cube.gz").exists()
    assert read_density(out / "h2.cube.gz").electrons == pytest.approx(2.0, rel=1e-3)
    assert "1 labelled" in capsys.readouterr().out

    code = main(["-q", "label", str(WATER), "-o", str(tmp_path / "bad"), "--basis", "gth-szv",
                 "--max-cycle", "1", "--workers", "1"])  # fmt: skip
    assert code == 1
    assert "FAILED water" in capsys.readouterr().out
    assert not (tmp_path / "bad" / "water.cube").exists()


def test_cli_label_rejects_bad_options(tmp_path, capsys):
    code = main(["label", str(H2), "-o", str(tmp_path), "--no-grid"])
    assert code == 2 and "nothing to write" in capsys.readouterr().err


@pytest.mark.slow
def test_k_point_sampling_with_smearing_gives_a_complex_compact_label(tmp_path):
    from rhograph.labels import CompactDensity

    config = tiny_config(kpts=(2, 1, 1), smearing=0.1, ke_cutoff=20.0)
    report = label_structures(read_structures([LIH]), tmp_path, config, workers=1, threads=1)
    assert report.done == ["lih"]
    grid = read_density(tmp_path / "lih_CHGCAR")
    assert grid.electrons == pytest.approx(4.0, rel=1e-3)
    compact = CompactDensity.load(tmp_path / "lih.dm.npz")
    assert compact.kpts is not None and compact.kpts.shape == (2, 3) and np.iscomplexobj(compact.dm)
    flat = np.arange(0, grid.num_points, 7)
    np.testing.assert_allclose(
        compact.evaluate(grid.grid_positions(flat)), grid.values.reshape(-1)[flat], rtol=1e-5, atol=1e-6
    )


def test_cli_without_pyscf_tells_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyscf", None)  # makes `import pyscf` raise ImportError
    assert main(["label", str(H2), "-o", str(tmp_path)]) == 1
    assert "install rhograph[dft]" in capsys.readouterr().err
    assert main(["data", "qm9", "--count", "3", "-o", str(tmp_path)]) == 1
    assert "install rhograph[dft]" in capsys.readouterr().err
