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


@pytest.fixture(scope="module")
def fluorinated():
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack not installed")
    return qm9.fluorinated_indices()


def test_growing_order_extends_without_reshuffling(all_indices, fluorinated):
    assert len(fluorinated) == 1923  # QM9 molecules with fluorine
    order = qm9.growing_order(all_indices, fluorinated, seed=0, count=600)
    assert len(set(order)) == 600 and set(order) <= set(all_indices)
    assert qm9.growing_order(all_indices, fluorinated, seed=0, count=900)[:600] == order  # a prefix
    # the first block is the seed's original 100-molecule draw, so labels made before stay in the set
    assert sorted(order[:100]) == qm9.choose_subset(all_indices, 100, seed=0)
    after = order[100:]
    assert sum(q in fluorinated for q in after) == 50  # every 10th new molecule holds fluorine
    assert qm9.growing_order(all_indices, fluorinated, seed=1, count=600) != order


def test_growing_parts_are_fixed_per_molecule(all_indices, fluorinated):
    order = qm9.growing_order(all_indices, fluorinated, seed=0, count=400)
    parts = qm9.growing_parts(order, seed=0)
    longer = qm9.growing_parts(qm9.growing_order(all_indices, fluorinated, seed=0, count=800), seed=0)
    for part in qm9.SPLIT_PARTS:
        assert set(parts[part]) <= set(longer[part])  # growing the set never moves a molecule
    legacy = qm9.assign_parts(qm9.choose_subset(all_indices, 100, seed=0), 0, 10, 10)
    assert set(legacy["test"]) <= set(parts["test"])  # the original test molecules stay test molecules
    assert 0.05 < len(longer["test"]) / 800 < 0.15


def test_snapshot_of_a_set_being_labelled(tmp_path):
    set_dir = tmp_path / "qm9"
    (set_dir / "densities").mkdir(parents=True)
    order = [30, 10, 20, 40]
    parts = {"train": [10, 30], "validation": [20], "test": [40]}
    (set_dir / "qm9_subset.json").write_text(json.dumps({"order": order, "qm9_indices": sorted(order), "parts": parts}))
    structures = {}
    for q in (30, 10, 40):  # 20 not labelled yet
        name = qm9.qm9_name(q)
        (set_dir / "densities" / f"{name}.dm.npz").write_bytes(b"x")
        structures[name] = {"status": "done", "files": [f"{name}.dm.npz"], "formula": "H2"}
    structures[qm9.qm9_name(20)] = {"status": "failed", "files": []}
    (set_dir / "densities" / "manifest.json").write_text(json.dumps({"settings": {}, "structures": structures}))
    out = qm9.snapshot_labelled(set_dir, tmp_path / "snap", count=2)  # the first two finished: 30, 10
    assert sorted(p.name for p in (out / "densities").glob("*.npz")) == ["qm9_000010.dm.npz", "qm9_000030.dm.npz"]
    assert json.loads((out / "split.json").read_text()) == {"train": [0, 1], "validation": [], "test": []}
    assert set(json.loads((out / "densities" / "manifest.json").read_text())["structures"]) == {
        "qm9_000010", "qm9_000030"
    }  # fmt: skip
    qm9.snapshot_labelled(set_dir, set_dir)  # in place: only the split of all finished labels
    assert json.loads((set_dir / "split.json").read_text()) == {"train": [0, 1], "validation": [], "test": [2]}
    assert json.loads((set_dir / "densities" / "manifest.json").read_text())["structures"] == structures
    from rhograph.errors import DensityFileError

    with pytest.raises(DensityFileError, match="fewer than the 5"):
        qm9.snapshot_labelled(set_dir, tmp_path / "snap2", count=5)
