"""``rhograph bader``, ``variability`` and ``charge-transfer`` run in-process on small analytic density files."""

from __future__ import annotations

import csv
import json

import ase
import numpy as np
import pytest

from rhograph.cli.main import main
from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import write_density

CELL = np.eye(3) * 9.0
SHAPE = (36, 36, 36)
SIGMA = {"Li": 0.3, "O": 0.4, "H": 0.3}


def _grid(symbols: str, centres, electrons, *, shape=SHAPE) -> DensityGrid:
    """Periodic sum of normalised Gaussians (minimum image), one per atom."""
    atoms = ase.Atoms(symbols, positions=centres, cell=CELL, pbc=True)
    n = np.asarray(shape)
    idx = np.stack(np.meshgrid(*[np.arange(k) for k in shape], indexing="ij"), axis=-1).reshape(-1, 3)
    points = (idx / n) @ CELL
    rho = np.zeros(len(points))
    for symbol, centre, q in zip(atoms.get_chemical_symbols(), atoms.positions, electrons, strict=True):
        s = SIGMA[symbol]
        d = points - centre
        d -= np.rint(d / 9.0) * 9.0
        rho += q / (2 * np.pi * s * s) ** 1.5 * np.exp(-(d**2).sum(axis=1) / (2 * s * s))
    return DensityGrid(atoms=atoms, values=rho.reshape(shape))


FULL = ("LiOOH", [[0.4, 4.5, 4.5], [6.8, 4.5, 4.5], [4.0, 1.5, 4.5], [4.5, 7.5, 1.5]])
REDUCED = ("HOO", [[4.5, 7.5, 1.5], [4.0, 1.5, 4.5], [6.9, 4.5, 4.5]])


def test_bader_json_table_and_csv(tmp_path, capsys):
    path = tmp_path / "full.npz"
    write_density(path, _grid(*FULL, [3.0, 8.0, 8.0, 1.0]))
    assert main(["bader", str(path), "--json", "--vacuum", "off"]) == 0
    out = json.loads(capsys.readouterr().out)
    populations = [row["population"] for row in out["atoms"]]
    np.testing.assert_allclose(populations, [3.0, 8.0, 8.0, 1.0], rtol=2e-3)
    assert [row["symbol"] for row in out["atoms"]] == ["Li", "O", "O", "H"]
    assert out["atoms"][0]["charge"] == pytest.approx(3.0 - populations[0])  # default valence Z
    assert out["vacuum_population"] == 0.0

    table = tmp_path / "out" / "bader.csv"
    assert main(["bader", str(path), "-o", str(table), "--valence", "Li=1", "O=6"]) == 0
    text = capsys.readouterr().out
    assert "population" in text and "vacuum" in text and str(table) in text
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["symbol"] for r in rows] == ["Li", "O", "O", "H"]
    assert float(rows[1]["charge"]) == pytest.approx(6.0 - float(rows[1]["population"]))
    assert float(rows[3]["valence"]) == 1.0  # H not given: Z
    assert float(rows[0]["charge"]) == pytest.approx(1.0 - 3.0, abs=0.01)


def test_bader_bad_options_and_missing_file(tmp_path, capsys):
    path = tmp_path / "full.npz"
    write_density(path, _grid(*FULL, [3.0, 8.0, 8.0, 1.0], shape=(12, 12, 12)))
    with pytest.raises(SystemExit) as exc:
        main(["bader", str(path), "--valence", "Xx=3"])
    assert exc.value.code == 2
    assert "O=6" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bader", str(path), "--vacuum", "lots"])
    capsys.readouterr()
    assert main(["bader", str(tmp_path / "missing.npz")]) == 1
    assert "missing.npz" in capsys.readouterr().err


def test_variability(tmp_path, capsys):
    base = _grid(*FULL, [3.0, 8.0, 8.0, 1.0], shape=(16, 16, 16))
    paths = []
    for k, factor in enumerate((1.0, 1.1, 0.8)):
        paths.append(tmp_path / f"xc{k}.npz")
        write_density(paths[-1], base.with_values(base.values * factor))
    assert main(["variability", *map(str, paths), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["emad"] == pytest.approx(10.0, rel=1e-5)
    assert [m["deviation"] for m in out["members"]] == pytest.approx([0.0, 10.0, 20.0], abs=1e-4)
    assert main(["variability", *map(str, paths), "--normalize", "median"]) == 0
    assert "ε_mad = 10.0000 %" in capsys.readouterr().out
    other = tmp_path / "other.npz"
    write_density(other, _grid(*FULL, [3.0, 8.0, 8.0, 1.0], shape=(12, 12, 12)))
    assert main(["variability", str(paths[0]), str(other)]) == 1
    assert "shape" in capsys.readouterr().err
    assert main(["variability", str(paths[0])]) == 1
    assert "at least 2" in capsys.readouterr().err


def test_charge_transfer(tmp_path, capsys):
    files = {
        "full": _grid(*FULL, [3.0, 8.0, 8.0, 1.0]),
        "removed": _grid(*REDUCED, [1.0, 8.1, 8.6]),
        "full-pred": _grid(*FULL, [3.0, 8.0, 8.05, 1.0]),
        "removed-pred": _grid(*REDUCED, [1.0, 8.2, 8.5]),
    }
    args = ["charge-transfer", "-o", str(tmp_path / "ct"), "--vacuum", "off"]
    for name, grid in files.items():
        write_density(tmp_path / f"{name}.npz", grid)
        args += [f"--{name}", str(tmp_path / f"{name}.npz")]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["removed_symbol"] == "Li" and summary["removed_index"] == 0
    assert summary["total_error"] == pytest.approx(0.15, abs=5e-3)
    assert summary["near_error"] == pytest.approx(0.10, abs=5e-3)
    out = tmp_path / "ct"
    with open(out / "charge_transfer.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["symbol"] for r in rows] == ["H", "O", "O"]
    assert float(rows[2]["distance"]) == pytest.approx(2.6)
    assert float(rows[2]["dq_dft"]) == pytest.approx(-0.6, abs=3e-3)
    assert (out / "charge_transfer.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "charge_transfer.json").read_text())["near_atoms"] == 1

    # a "reduced" structure that lacks two atoms is refused with a clear message
    write_density(tmp_path / "two.npz", _grid("OO", REDUCED[1][1:], [8.1, 8.6]))
    bad = list(args)
    bad[bad.index("--removed") + 1] = str(tmp_path / "two.npz")
    assert main(bad) == 1
    assert "more than one atom" in capsys.readouterr().err
