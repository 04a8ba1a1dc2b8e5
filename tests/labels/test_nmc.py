"""The NMC-like data set: cell recipes (sizes, compositions, vacancies, strain, rattling), reproducibility,
the fixed split, and `rhograph data nmc` end to end (with GPAW, on a stand-in cell to stay fast)."""

from __future__ import annotations

import functools
import json
from collections import Counter

import ase
import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from rhograph.cli.main import main
from rhograph.data.splits import load_split
from rhograph.io.formats import read_density
from rhograph.labels import nmc as nmc_module
from rhograph.labels import read_structures
from rhograph.labels.nmc import (
    FORMULA_UNITS,
    METALS,
    STRAIN,
    nmc_part,
    nmc_structure,
    prepare_nmc,
    supercell_matrices,
)

from .conftest import LIH


@functools.cache
def cells() -> list[tuple[ase.Atoms, nmc_module.NmcRecipe]]:
    """The first 40 cells of seed 0 (made once per session)."""
    return [nmc_structure(i, seed=0) for i in range(40)]


def test_cells_are_layered_limo2_with_8_to_24_atoms():
    for atoms, recipe in cells():
        counts = Counter(atoms.get_chemical_symbols())
        metals = sum(counts[m] for m in METALS)
        assert set(counts) <= {"Li", "O", *METALS}
        assert metals == recipe.formula_units and counts["O"] == 2 * metals
        assert counts["Li"] == metals - recipe.vacancies and 0 <= recipe.vacancies <= max(1, metals // 2)
        assert 8 - recipe.vacancies <= len(atoms) <= 24 and atoms.pbc.all()
        assert {m: counts[m] for m in METALS} == recipe.metals
        assert np.abs(recipe.strain).max() <= STRAIN and 0.05 <= recipe.rattle <= 0.1
        # octahedral M–O bonds of the α-NaFeO2 structure survive strain and rattling
        i, j, d = neighbor_list("ijd", atoms, 2.4)
        symbols = np.array(atoms.get_chemical_symbols())
        bonds = d[np.isin(symbols[i], METALS) & (symbols[j] == "O")]
        assert 1.85 < np.median(bonds) < 2.1 and d.min() > 1.3


def test_the_set_covers_sizes_compositions_and_vacancies():
    recipes = [recipe for _, recipe in cells()]
    assert {r.formula_units for r in recipes} == set(FORMULA_UNITS)
    assert all(any(r.metals[m] for r in recipes) for m in METALS)
    assert sum(sum(1 for k in r.metals.values() if k) >= 2 for r in recipes) > 10  # mixed-metal cells
    assert 0 < sum(r.vacancies > 0 for r in recipes) < len(recipes)


def test_supercells_have_the_right_size():
    primitive = nmc_module.primitive_cell(2.85, 14.2)
    for n in FORMULA_UNITS:
        for matrix in supercell_matrices(n):
            assert round(abs(np.linalg.det(np.asarray(matrix)))) == n
    assert len(primitive) == 4


def test_cells_are_reproducible_and_a_larger_count_extends_the_set():
    atoms, recipe = nmc_structure(7, seed=0)
    again, recipe_again = nmc_structure(7, seed=0)
    np.testing.assert_array_equal(atoms.positions, again.positions)
    assert recipe == recipe_again
    other, _ = nmc_structure(7, seed=1)
    assert len(other) != len(atoms) or not np.allclose(other.positions, atoms.positions)


def test_split_puts_one_test_and_one_validation_cell_in_every_block_of_ten():
    parts = Counter(nmc_part(i, seed=3) for i in range(50))
    assert parts == {"train": 40, "validation": 5, "test": 5}
    assert [nmc_part(i, 3) for i in range(10)] == [nmc_part(i, 3) for i in range(10)]


def test_prepare_writes_structures_and_the_set_file(tmp_path):
    structures, subset = prepare_nmc(tmp_path, 12, seed=0)
    assert [s.name for s in structures] == [f"nmc_{i:05d}" for i in range(12)]
    assert sorted(i for part in subset["parts"].values() for i in part) == list(range(12))
    stored = json.loads((tmp_path / "nmc_set.json").read_text())
    assert stored["seed"] == 0 and stored["structures"][3]["natoms"] == len(structures[3].atoms)
    read_back = read_structures([tmp_path / "structures" / "nmc_00003.extxyz"])[0].atoms
    np.testing.assert_allclose(read_back.positions, structures[3].atoms.positions, atol=1e-8)
    np.testing.assert_allclose(read_back.cell.array, structures[3].atoms.cell.array, atol=1e-8)


def test_cli_data_nmc_labels_splits_and_resumes(tmp_path, monkeypatch, capsys):
    """The command's flow with GPAW on LiH cells standing in for the NMC cells (seconds instead of minutes)."""
    pytest.importorskip("gpaw")
    lih = read_structures([LIH])[0].atoms

    def stand_in(index: int, seed: int = 0) -> tuple[ase.Atoms, nmc_module.NmcRecipe]:
        atoms, recipe = cells()[index]
        cell = lih.copy()
        cell.positions[1] += 0.05 * index  # distinct cells
        cell.info.update(atoms.info)
        return cell, recipe

    monkeypatch.setattr(nmc_module, "nmc_structure", stand_in)
    out = tmp_path / "nmc"
    argv = [
        "data",
        "nmc",
        "--count",
        "3",
        "-o",
        str(out),
        "--ecut",
        "250",
        "--kpt-density",
        "0",
        "--kpts",
        "2",
        "2",
        "2",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "3 labelled" in text and "split:" in text
    files = sorted(p.name for p in (out / "densities").iterdir() if p.name.endswith(".zst"))
    assert files == [f"nmc_{i:05d}_CHGCAR.zst" for i in range(3)]
    assert read_density(out / "densities" / files[0]).electrons == pytest.approx(2.0, rel=1e-5)
    split = load_split(out / "split.json")
    parts = {part: [nmc_part(i, 0) for i in range(3)].count(part) for part in ("train", "validation", "test")}
    assert split.sizes() == parts
    settings = json.loads((out / "densities" / "manifest.json").read_text())["settings"]
    assert settings["code"] == "gpaw" and settings["spacing"] == 0.2 and settings["kpt_density"] is None
    assert main(argv) == 0
    assert "0 labelled, 3 already done" in capsys.readouterr().out


@pytest.mark.slow
def test_a_real_nmc_cell_is_labelled_with_the_set_settings(tmp_path):
    """One 8-atom cell with the defaults of `data nmc` (a few minutes on one core)."""
    pytest.importorskip("gpaw")
    from rhograph.labels import LabelConfig, NamedStructure, label_structures

    atoms, _ = nmc_structure(4, seed=0)
    assert len(atoms) == 8
    config = LabelConfig(code="gpaw", spacing=0.2, kpt_density=0.8, ecut=400.0, smearing=0.1, compression=".zst")
    report = label_structures([NamedStructure("nmc_00004", atoms)], tmp_path, config, workers=1, threads=1)
    assert report.ok
    entry = json.loads((tmp_path / "manifest.json").read_text())["structures"]["nmc_00004"]
    grid = read_density(tmp_path / "nmc_00004_CHGCAR.zst")
    assert grid.electrons == pytest.approx(entry["electrons"], rel=1e-4)
    assert entry["spin_polarised"] and grid.spin is not None


def test_li_removed_pairs_are_test_cells_less_one_li(tmp_path):
    from rhograph.labels.nmc import li_removed, prepare_li_removed

    pairs = prepare_li_removed(tmp_path, 60, pairs=2)
    assert len(pairs) == 2
    for whole, structure in pairs:
        parent = structure.atoms.info["li_removed_from"]
        index = int(parent.split("_")[1])
        full, _ = nmc_structure(index)
        assert whole.name == parent and whole.atoms == full
        removed = structure.atoms.info["removed_atom"]
        assert nmc_part(index) == "test" and (full.numbers == 3).sum() >= 2
        assert structure.name == f"{parent}-li{removed}" and full.numbers[removed] == 3
        keep = np.delete(np.arange(len(full)), removed)
        np.testing.assert_array_equal(structure.atoms.positions, full.positions[keep])  # nothing relaxed
        assert (tmp_path / "li-removed" / "structures" / f"{structure.name}.extxyz").is_file()
    with pytest.raises(ValueError, match="two Li"):
        li_removed(ase.Atoms("LiO", positions=[[0, 0, 0], [1.9, 0, 0]], cell=[4, 4, 4], pbc=True))
    with pytest.raises(ValueError, match="raise --count"):
        prepare_li_removed(tmp_path, 5, pairs=3)


def test_cli_data_nmc_li_removed_labels_the_reduced_cells(tmp_path, monkeypatch, capsys):
    """`data nmc --li-removed 1` with a LiH 2×1×1 cell standing in for the NMC cells."""
    pytest.importorskip("gpaw")
    lih = read_structures([LIH])[0].atoms.repeat((2, 1, 1))

    def stand_in(index: int, seed: int = 0) -> tuple[ase.Atoms, nmc_module.NmcRecipe]:
        atoms, recipe = cells()[index]
        cell = lih.copy()
        cell.info.update(atoms.info)
        return cell, recipe

    monkeypatch.setattr(nmc_module, "nmc_structure", stand_in)
    out = tmp_path / "nmc"
    argv = ["data", "nmc", "--count", "20", "-o", str(out), "--li-removed", "1", "--ecut", "250", "--kpt-density", "0"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    reduced, full = sorted(p.name for p in (out / "li-removed" / "densities").glob("*_CHGCAR.zst"))  # "-" < "_"
    assert reduced.startswith(full.removesuffix("_CHGCAR.zst") + "-li")
    assert read_density(out / "li-removed" / "densities" / full).electrons == pytest.approx(4.0, rel=1e-5)
    assert read_density(out / "li-removed" / "densities" / reduced).electrons == pytest.approx(3.0, rel=1e-5)
    assert f"pair: rhograph charge-transfer --full {out / 'li-removed' / 'densities' / full}" in text
    assert not (out / "densities").exists()  # the set itself is left alone
    assert main([*argv[:6], "--li-removed", "9"]) == 2
    assert "fewer than the 9" in capsys.readouterr().err


def test_snapshot_of_an_nmc_set_being_labelled(tmp_path):
    from rhograph.labels.qm9 import snapshot_labelled

    set_dir = tmp_path / "nmc"
    prepare_nmc(set_dir, 12)
    (set_dir / "densities" / "all-electron").mkdir(parents=True)
    structures = {}
    for index in (0, 1, 2, 5, 7, 9, 11):  # the others not labelled yet
        name = nmc_module.nmc_name(index)
        files = [f"{name}_CHGCAR.zst", f"all-electron/{name}_AECCAR.zst"]
        for file in files:
            (set_dir / "densities" / file).write_bytes(b"x")
        structures[name] = {"status": "done", "files": files, "formula": "LiCoO2"}
    (set_dir / "densities" / "manifest.json").write_text(json.dumps({"settings": {}, "structures": structures}))
    out = snapshot_labelled(set_dir, tmp_path / "snap", count=6)
    names = sorted(p.name for p in (out / "densities").glob("*_CHGCAR.zst"))
    assert names == [f"nmc_{i:05d}_CHGCAR.zst" for i in (0, 1, 2, 5, 7, 9)]
    assert (out / "densities" / "all-electron" / "nmc_00009_AECCAR.zst").is_file()
    split = json.loads((out / "split.json").read_text())
    for part, positions in split.items():
        assert all(nmc_part((0, 1, 2, 5, 7, 9)[k]) == part for k in positions)
    assert sum(len(v) for v in split.values()) == 6 and (out / "nmc_set.json").is_file()
