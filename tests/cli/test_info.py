"""``rhograph info``: per-file summaries as text or JSON; unreadable files give exit status 1."""

from __future__ import annotations

import json
from pathlib import Path

import ase
import numpy as np
import pytest

from rhograph.cli.main import main
from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import write_density


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    cell = np.diag([3.0, 4.0, 5.0])
    atoms = ase.Atoms("OH2", positions=[[1.5, 2.0, 2.5], [2.2, 2.5, 2.5], [0.8, 2.5, 2.5]], cell=cell, pbc=True)
    values = np.full((6, 8, 10), 10.0 / 60.0, dtype=np.float32)  # 10 electrons in 60 Å^3
    values[0, 0, 0] = 0.0
    values[1, 0, 0] = 2 * 10.0 / 60.0
    grid = DensityGrid(atoms=atoms, values=values)
    paths = [tmp_path / "water.CHGCAR.gz", tmp_path / "water.cube"]
    for path in paths:
        write_density(path, grid)
    return paths


def test_text_output(files: list[Path], capsys) -> None:
    assert main(["info", *map(str, files)]) == 0
    out = capsys.readouterr().out
    assert out.count("∫ρ dV       10.000000 e") == 2
    assert "grid        6 × 8 × 10 = 480 points" in out
    assert "pbc         T T T" in out and "pbc         F F F" in out
    assert "elements    H2O (3 atoms)" in out
    assert "ρ min/max   0 / 0.333333 e/Å³" in out


def test_json_output(files: list[Path], capsys) -> None:
    assert main(["info", "--json", *map(str, files)]) == 0
    summaries = json.loads(capsys.readouterr().out)
    assert [s["format"] for s in summaries] == ["vasp", "cube"]
    for s in summaries:
        assert {"shape", "cell", "pbc", "symbols", "electrons", "min", "max", "origin"} <= set(s)
        assert s["shape"] == [6, 8, 10]
        assert s["symbols"] == ["O", "H", "H"]
        assert s["electrons"] == pytest.approx(10.0, rel=1e-6)
        assert s["max"] == pytest.approx(1 / 3, rel=1e-6)
        np.testing.assert_allclose(s["cell"], np.diag([3.0, 4.0, 5.0]), atol=1e-9)
    assert summaries[0]["pbc"] == [True] * 3 and summaries[1]["pbc"] == [False] * 3


def test_bad_files_exit_1_and_are_named_on_stderr(files: list[Path], tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.cube"
    broken.write_text("only a comment\n")
    missing = tmp_path / "missing.CHGCAR"
    assert main(["info", "--json", str(files[0]), str(broken), str(missing)]) == 1
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 1  # the good file is still reported
    assert f"{broken}: file ends before" in captured.err
    assert f"{missing}: no such file" in captured.err
    assert main(["info", str(tmp_path / "notes.txt")]) == 1
    assert "unknown density file format" in capsys.readouterr().err


def test_bundled_examples_are_readable(capsys) -> None:
    from importlib import resources

    folder = Path(str(resources.files("rhograph") / "examples"))
    assert main(["info", "--json", str(folder / "water.cube.gz"), str(folder / "silicon.CHGCAR.gz")]) == 0
    water, silicon = json.loads(capsys.readouterr().out)
    assert water["symbols"] == ["O", "H", "H"] and water["pbc"] == [False] * 3
    assert water["electrons"] == pytest.approx(8.0, rel=1e-3)  # valence density (GTH pseudopotential)
    assert silicon["electrons"] == pytest.approx(8.0, rel=1e-4) and silicon["pbc"] == [True] * 3
    assert (folder / "water.cube.gz").stat().st_size < 1_000_000
