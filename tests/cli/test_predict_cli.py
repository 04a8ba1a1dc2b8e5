"""`rhograph predict`, `evaluate`, `learning-curve` and `demo` called in-process."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.io import write

from rhograph.cli.main import main
from rhograph.io.formats import read_density
from rhograph.models.checkpoint import save_checkpoint
from rhograph.testing.data import write_dataset
from rhograph.testing.structures import tiny_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(
        path, tiny_model("deepdft-painn", dtype=torch.float32, seed=4), metadata={"elements": [1, 6, 7, 8, 9]}
    )
    return path


def test_predict_one_structure_to_cube(tmp_path, checkpoint, capsys):
    xyz = tmp_path / "water.xyz"
    write(xyz, molecule("H2O"))
    out = tmp_path / "water.cube"
    assert main(["predict", str(xyz), "--model", str(checkpoint), "-o", str(out), "--grid-step", "0.3"]) == 0
    grid = read_density(out)
    assert grid.atoms.get_chemical_symbols() == ["O", "H", "H"]
    text = capsys.readouterr().out
    assert "∫ρ dV" in text and "probes/s" in text


def test_predict_many_structures_to_directory(tmp_path, checkpoint):
    paths = []
    for name in ("CH4", "NH3"):
        path = tmp_path / f"{name}.xyz"
        write(path, molecule(name))
        paths.append(str(path))
    out = tmp_path / "preds"
    assert (
        main(
            [
                "predict",
                *paths,
                "--model",
                str(checkpoint),
                "-o",
                str(out),
                "--format",
                "chgcar",
                "--grid-step",
                "0.4",
                "--iri",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["CH4_CHGCAR", "CH4_CHGCAR.iri", "NH3_CHGCAR", "NH3_CHGCAR.iri"]
    assert read_density(out / "CH4_CHGCAR").shape == read_density(out / "CH4_CHGCAR.iri").shape


def test_predict_like_reference_grid(tmp_path, checkpoint):
    data = write_dataset(tmp_path / "data", 1, seed=2)
    reference = next(data.iterdir())
    out = tmp_path / "pred.npz"
    assert (
        main(
            [
                "predict",
                str(reference),
                "--like",
                str(reference),
                "--model",
                str(checkpoint),
                "-o",
                str(out),
                "--allow-unseen-elements",
            ]
        )
        == 0
    )
    with np.load(out) as npz:
        assert npz["values"].shape == read_density(reference).shape


def test_predict_refuses_unseen_element(tmp_path, checkpoint, capsys):
    xyz = tmp_path / "sih4.xyz"
    atoms = molecule("SiH4")
    write(xyz, atoms)
    assert main(["predict", str(xyz), "--model", str(checkpoint), "-o", str(tmp_path / "x.cube")]) == 1
    assert "Si" in capsys.readouterr().err
    assert not (tmp_path / "x.cube").exists()


def test_predict_refuses_overlapping_atoms_in_one_line(tmp_path, checkpoint, capsys):
    xyz = tmp_path / "overlap.xyz"
    atoms = molecule("H2O")
    atoms.positions[2] = atoms.positions[1] + [0.05, 0.0, 0.0]
    write(xyz, atoms)
    assert main(["predict", str(xyz), "--model", str(checkpoint), "-o", str(tmp_path / "x.cube")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rhograph predict: error: overlap.xyz: ") and err.count("\n") == 1, err
    assert "atoms 1 (H) and 2 (H) are 0.050 Å apart" in err and "0.5 Å" in err
    assert not (tmp_path / "x.cube").exists()


def test_predict_missing_file_and_bad_model(tmp_path, checkpoint, capsys):
    assert main(["predict", str(tmp_path / "nope.xyz"), "--model", str(checkpoint), "-o", "x.cube"]) == 1
    assert "nope.xyz" in capsys.readouterr().err
    xyz = tmp_path / "w.xyz"
    write(xyz, molecule("H2O"))
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert main(["predict", str(xyz), "--model", str(broken), "-o", str(tmp_path / "w.cube")]) == 1
    assert "broken.pt" in capsys.readouterr().err


def test_evaluate_writes_errors_summary_and_histogram(tmp_path, checkpoint):
    data = write_dataset(tmp_path / "data", 3, seed=5)
    out = tmp_path / "eval"
    assert (
        main(
            [
                "evaluate",
                str(data),
                "--model",
                str(checkpoint),
                "-o",
                str(out),
                "--error-cubes",
                "1",
                "--allow-unseen-elements",
                "--decompose",
            ]
        )
        == 0
    )
    with open(out / "errors.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and {"name", "nmae", "mae", "rmse"} <= set(rows[0])
    assert all(float(r["nmae"]) > 0 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["count"] == 3
    assert (out / "error_histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list(out.glob("*.difference.cube"))) == 1
    # Per-element decomposition (Table 2): shares add up to 100 % of the error.
    assert set(summary["elements"]) <= {"H", "C", "O", "vacuum"}
    assert sum(e["error_share"] for e in summary["elements"].values()) == pytest.approx(100.0)
    # A repeated run keeps the finished rows (resume) and gives the same summary.
    assert main(["evaluate", str(data), "--model", str(checkpoint), "-o", str(out), "--allow-unseen-elements"]) == 0
    assert json.loads((out / "summary.json").read_text())["mean"] == pytest.approx(summary["mean"])


def test_learning_curve_trains_nested_subsets(tmp_path):
    data = write_dataset(tmp_path / "data", 8, seed=6)
    out = tmp_path / "lc"
    args = [
        "learning-curve",
        str(data),
        "--sizes",
        "2",
        "4",
        "-o",
        str(out),
        "--max-steps",
        "20",
        "--set",
        "model.hidden_size=8",
        "--set",
        "model.num_interactions=1",
        "--set",
        "val_size=2",
        "--set",
        "test_size=2",
        "--set",
        "val_every=10",
        "--set",
        "num_workers=0",
        "--set",
        "probes_per_structure=32",
        "--set",
        "val_probes_per_structure=32",
        "--set",
        "device=cpu",
        "--set",
        "tensorboard=false",
        "--set",
        "pool_size=2",
    ]
    assert main(args) == 0
    with open(out / "learning_curve.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["train_size"]) for r in rows] == [2, 4]
    assert (out / "learning_curve.png").is_file()
    split2 = json.loads((out / "n2" / "split.json").read_text())
    split4 = json.loads((out / "n4" / "split.json").read_text())
    assert set(split2["train"]) < set(split4["train"]) and split2["test"] == split4["test"]


def test_demo_with_explicit_model(tmp_path, checkpoint, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--model", str(checkpoint)]) == 0
    assert (out / "water.cube").is_file()
    assert (out / "water_slices.png").read_bytes()[:4] == b"\x89PNG"
    assert "ε_mae" in capsys.readouterr().out


def test_charge_transfer_with_model(tmp_path, checkpoint):
    from rhograph.io.formats import write_density
    from rhograph.testing.data import synthetic_grid

    rng = np.random.default_rng(11)
    full = synthetic_grid(rng, box=6.0, points=24)
    while len(full.atoms) < 3:
        full = synthetic_grid(rng, box=6.0, points=24)
    reduced_atoms = full.atoms[:-1]
    reduced = synthetic_grid(np.random.default_rng(0), box=6.0, points=24)
    reduced.atoms = reduced_atoms
    write_density(tmp_path / "full_CHGCAR", full)
    write_density(tmp_path / "removed_CHGCAR", reduced)
    out = tmp_path / "ct"
    assert (
        main(
            [
                "charge-transfer",
                "--full",
                str(tmp_path / "full_CHGCAR"),
                "--removed",
                str(tmp_path / "removed_CHGCAR"),
                "--model",
                str(checkpoint),
                "-o",
                str(out),
                "--vacuum",
                "off",
            ]
        )
        == 0
    )
    summary = json.loads((out / "charge_transfer.json").read_text())
    assert summary["files"]["model"] == str(checkpoint)
    assert (out / "charge_transfer.png").is_file()
    with open(out / "charge_transfer.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(reduced_atoms)


def test_evaluate_resumes_by_structure_name_when_the_data_folder_grows(tmp_path, checkpoint):
    """Rows of an earlier run are kept by name: a label added in front shifts every position."""
    data = write_dataset(tmp_path / "data", 3, seed=5)
    out = tmp_path / "eval"
    argv = ["evaluate", str(data), "--model", str(checkpoint), "-o", str(out), "--allow-unseen-elements"]
    assert main(argv) == 0
    before = {r["name"]: r["nmae"] for r in _rows(out / "errors.csv")}
    first = sorted(data.iterdir())[0]
    (data / ("0" + first.name)).write_bytes(first.read_bytes())  # sorts first: every old position moves by one
    assert main(argv) == 0
    after = _rows(out / "errors.csv")
    assert len(after) == 4 and len({r["name"] for r in after}) == 4
    assert all(r["nmae"] == before[r["name"]] for r in after if r["name"] in before)


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
