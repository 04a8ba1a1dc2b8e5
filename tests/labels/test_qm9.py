"""The QM9-derived benchmark: qm9pack geometries, reproducible subsets and splits, `rhograph data qm9`."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from rhograph.labels import qm9

needs_qm9pack = pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="qm9pack not installed")


@pytest.fixture(scope="module")
def all_indices():
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack not installed")
    return qm9.qm9_indices()


def test_qm9pack_holds_all_of_qm9(all_indices):
    assert len(all_indices) == 130831
    assert all_indices[0] == 1 and all_indices[-1] == 133885
    assert len(set(all_indices)) == len(all_indices)


@needs_qm9pack
def test_first_molecules_are_methane_ammonia_water():
    ch4, h2o = qm9.read_qm9([1, 3])
    assert ch4.atoms.get_chemical_formula() == "CH4" and ch4.smiles == "C" and ch4.name == "qm9_000001"
    np.testing.assert_allclose(ch4.atoms.positions[0], [-0.0126981359, 1.0858041578, 0.0080009958])
    assert h2o.atoms.get_chemical_formula() == "H2O" and not h2o.atoms.pbc.any()
    # C–H bonds of methane are 1.09 Å
    np.testing.assert_allclose(ch4.atoms.get_distances(0, [1, 2, 3, 4]), 1.0919, atol=2e-3)
    with pytest.raises(KeyError, match="21725"):  # one of the 3 054 molecules missing from QM9
        qm9.read_qm9([21725])


def test_subset_is_a_function_of_count_and_seed(all_indices):
    a = qm9.choose_subset(all_indices, 50, seed=3)
    assert a == qm9.choose_subset(all_indices, 50, seed=3)
    assert a != qm9.choose_subset(all_indices, 50, seed=4)
    assert a == sorted(set(a)) and len(a) == 50 and set(a) <= set(all_indices)
    with pytest.raises(ValueError, match="count"):
        qm9.choose_subset(all_indices, 0, seed=0)


def test_parts_are_disjoint_reproducible_and_map_onto_the_labelled_dataset():
    indices = list(range(10, 110))
    parts = qm9.assign_parts(indices, seed=1, validation=10, test=10)
    assert [len(parts[p]) for p in ("train", "validation", "test")] == [80, 10, 10]
    assert sorted(parts["train"] + parts["validation"] + parts["test"]) == indices
    assert parts == qm9.assign_parts(indices, seed=1, validation=10, test=10)
    assert qm9.default_part_sizes(200) == (20, 20)

    failed = {parts["test"][0], parts["train"][0]}
    labelled = [q for q in indices if q not in failed]
    split = qm9.dataset_split(parts, labelled)
    assert sum(len(v) for v in split.values()) == 98
    assert [labelled[i] for i in split["validation"]] == parts["validation"]
    assert sorted(split["train"] + split["validation"] + split["test"]) == list(range(98))
    with pytest.raises(ValueError, match="leave training"):
        qm9.assign_parts(indices, seed=1, validation=50, test=50)


@needs_qm9pack
def test_cli_data_qm9_labels_a_subset_and_writes_the_split(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pyscf")
    from rhograph.cli.main import main
    from rhograph.data.splits import load_split
    from rhograph.io.dataset import DensityDataset

    # The three smallest QM9 molecules (CH4, NH3, H2O) keep this test to seconds; the subset choice
    # itself is tested above.
    monkeypatch.setattr(qm9, "choose_subset", lambda available, count, seed: [1, 2, 3])
    out = tmp_path / "qm9"
    code = main(["-q", "data", "qm9", "--count", "3", "--seed", "5", "-o", str(out), "--basis", "gth-szv",
                 "--workers", "1"])  # fmt: skip
    assert code == 0, capsys.readouterr()
    assert sorted(p.name for p in (out / "structures").iterdir()) == [
        "qm9_000001.xyz", "qm9_000002.xyz", "qm9_000003.xyz"
    ]  # fmt: skip
    split = load_split(out / "split.json")
    assert sorted(split.train + split.validation + split.test) == [0, 1, 2]
    assert json.loads((out / "split.json").read_text()).keys() == {"train", "validation", "test"}
    subset = json.loads((out / "qm9_subset.json").read_text())
    assert subset["qm9_indices"] == [1, 2, 3] and subset["seed"] == 5
    dataset = DensityDataset(out / "densities")
    assert len(dataset) == 3
    expected = {"qm9_000001": 8, "qm9_000002": 8, "qm9_000003": 8}  # valence electrons of CH4, NH3, H2O
    for i, name in enumerate(sorted(expected)):
        grid = dataset[i]
        assert name in grid.source
        assert grid.electrons == pytest.approx(expected[name], rel=1e-3)
    # the water of the split points at the water density
    water_part = next(p for p, v in subset["parts"].items() if 3 in v)
    assert 2 in getattr(split, water_part)
