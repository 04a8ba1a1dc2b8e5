"""``rhograph bader``: valence counts by default, ``--model``, ``--ref`` (summed), unusable densities."""

from __future__ import annotations

import json

import ase
import numpy as np
import pytest

from rhograph.analysis.valence import ValenceWarning
from rhograph.cli.main import main
from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import write_density

CELL = np.eye(3) * 8.0
SHAPE = (40, 40, 40)


def _gaussians(symbols: str, centres, electrons, sigmas) -> DensityGrid:
    atoms = ase.Atoms(symbols, positions=centres, cell=CELL, pbc=True)
    idx = np.stack(np.meshgrid(*[np.arange(k) for k in SHAPE], indexing="ij"), axis=-1).reshape(-1, 3)
    points = (idx / np.asarray(SHAPE)) @ CELL
    rho = np.zeros(len(points))
    for centre, q, s in zip(atoms.positions, electrons, sigmas, strict=True):
        d = points - centre
        d -= np.rint(d / 8.0) * 8.0
        rho += q / (2 * np.pi * s * s) ** 1.5 * np.exp(-(d**2).sum(axis=1) / (2 * s * s))
    return DensityGrid(atoms=atoms, values=rho.reshape(SHAPE))


CO = ("CO", [[3.0, 4.0, 4.0], [5.4, 4.0, 4.0]])


def test_valence_density_gets_valence_counts(tmp_path, capsys):
    path = tmp_path / "co.npz"
    write_density(path, _gaussians(*CO, [4.3, 5.7], [0.5, 0.45]))  # 10 valence electrons, Σ Z = 14
    assert main(["bader", str(path), "--json", "--vacuum", "off"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [row["valence"] for row in out["atoms"]] == [4.0, 6.0]
    assert out["atoms"][0]["charge"] == pytest.approx(4.0 - out["atoms"][0]["population"])
    assert -0.5 < out["atoms"][0]["charge"] < 0.0  # not 6 − 4.3 = +1.7 as with Z
    assert out["valence_source"].startswith("standard valence")


def test_model_card_and_unknown_valence(tmp_path, capsys):
    path = tmp_path / "pred.npz"
    write_density(path, _gaussians(*CO, [4.8, 6.3], [0.5, 0.45]))  # 11.1 e: no count fits
    with pytest.warns(ValenceWarning):
        assert main(["bader", str(path), "--vacuum", "off"]) == 0
    text = capsys.readouterr().out
    assert "n/a" in text and "valence: unknown for C, O" in text
    assert main(["bader", str(path), "--vacuum", "off", "--model", "qm9-painn-delta", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valence_source"] == "model card of qm9-painn-delta"
    assert out["atoms"][1]["charge"] == pytest.approx(6.0 - out["atoms"][1]["population"])


def test_reference_files_are_summed(tmp_path, capsys):
    valence = _gaussians(*CO, [3.6, 6.4], [0.7, 0.6])
    core = _gaussians(*CO, [2.0, 2.0], [0.15, 0.12])
    write_density(tmp_path / "CHGCAR", valence)
    write_density(tmp_path / "AECCAR0", core)
    write_density(tmp_path / "AECCAR2", valence)
    write_density(tmp_path / "sum_AECCAR", core.with_values(core.values + valence.values))
    argv = ["bader", str(tmp_path / "CHGCAR"), "--json", "--vacuum", "off", "--ref"]
    assert main([*argv, str(tmp_path / "AECCAR0"), str(tmp_path / "AECCAR2")]) == 0
    summed = json.loads(capsys.readouterr().out)
    assert main([*argv, str(tmp_path / "sum_AECCAR")]) == 0
    single = json.loads(capsys.readouterr().out)
    assert summed["reference"] == [str(tmp_path / "AECCAR0"), str(tmp_path / "AECCAR2")]
    for a, b in zip(summed["atoms"], single["atoms"], strict=True):
        assert a["population"] == pytest.approx(b["population"], rel=1e-5)
    assert sum(r["population"] for r in summed["atoms"]) == pytest.approx(10.0, rel=1e-4)


def test_zero_density_and_mismatched_reference_are_one_line_errors(tmp_path, capsys):
    grid = _gaussians(*CO, [4.0, 6.0], [0.5, 0.45])
    write_density(tmp_path / "zero.npz", grid.with_values(np.zeros(SHAPE, dtype=np.float32)))
    assert main(["bader", str(tmp_path / "zero.npz")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "zero everywhere" in err and "zero.npz" in err
    small = DensityGrid(atoms=grid.atoms, values=np.ones((8, 8, 8), dtype=np.float32))
    write_density(tmp_path / "co.npz", grid)
    write_density(tmp_path / "small.npz", small)
    assert main(["bader", str(tmp_path / "co.npz"), "--ref", str(tmp_path / "small.npz")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "co.npz" in err and "small.npz" in err and "shape" in err
