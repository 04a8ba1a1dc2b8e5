"""Bad inputs, options and resources give one clear line before any work (issue 15, "weak behaviour")."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.io import write

from rhograph.cli.main import main
from rhograph.errors import OutputError, ResourceError
from rhograph.inference.predict import PredictOptions, check_grid_memory
from rhograph.io import atomic
from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import write_density
from rhograph.models.checkpoint import save_checkpoint
from rhograph.testing.structures import tiny_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(
        path, tiny_model("deepdft-painn", dtype=torch.float32, seed=4), metadata={"elements": [1, 6, 7, 8, 14]}
    )
    return path


@pytest.fixture
def water(tmp_path):
    path = tmp_path / "water.xyz"
    write(path, molecule("H2O"))
    return path


def _predict(structure, checkpoint, out, *extra):
    return main(
        ["-q", "predict", str(structure), "--model", str(checkpoint), "--grid-step", "0.4", "-o", str(out), *extra]
    )


def _one_line(capsys, start: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(start) and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--chunk-size", "0"], "chunk_size=0 must be a positive integer"),
        (["--chunk-size", "-5"], "chunk_size=-5 must be a positive integer"),
        (["--index", "5"], "--index 5 is out of range: the file holds 1 frame(s)"),
        (["--index", "3:"], "--index selects no frame of the 1"),
        (["--device", "gpu7"], "device='gpu7' is not allowed"),
    ],
)
def test_bad_options_are_one_line(tmp_path, checkpoint, water, capsys, option, message):
    assert _predict(water, checkpoint, tmp_path / "w.cube", *option) == 1
    assert message in _one_line(capsys, "rhograph predict: error: ")
    assert not (tmp_path / "w.cube").exists()


def test_index_that_is_not_a_number_is_an_argument_error(tmp_path, checkpoint, water, capsys):
    with pytest.raises(SystemExit) as info:
        _predict(water, checkpoint, tmp_path / "w.cube", "--index", "abc")
    assert info.value.code == 2 and "--index: must be a frame number" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda(tmp_path, checkpoint, water, capsys):
    assert _predict(water, checkpoint, tmp_path / "w.cube", "--device", "cuda") == 1
    assert "CUDA is not available" in _one_line(capsys, "rhograph predict: error: ")


def test_unknown_output_format_is_refused_before_loading_the_model(tmp_path, water, capsys):
    missing_model = tmp_path / "never-read.pt"
    assert _predict(water, missing_model, tmp_path / "w.txt") == 1
    assert "unknown output format" in _one_line(capsys, "rhograph predict: error: -o ")


def test_read_only_output_file_needs_overwrite(tmp_path, checkpoint, water, capsys):
    out = tmp_path / "w.cube"
    out.write_text("keep me")
    out.chmod(0o444)
    assert _predict(water, checkpoint, out) == 1
    assert "read-only; pass --overwrite" in _one_line(capsys, f"rhograph predict: error: cannot write {out}")
    assert out.read_text() == "keep me"
    assert _predict(water, checkpoint, out, "--overwrite") == 0
    assert out.read_text() != "keep me"


def test_read_only_output_folder_is_refused_before_predicting(tmp_path, checkpoint, water, capsys, monkeypatch):
    # root ignores permission bits, so the read-only folder is simulated at the operating-system call
    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    called = []
    monkeypatch.setattr("rhograph.inference.predict.GridPredictor", lambda *a, **k: called.append(1))
    assert _predict(water, checkpoint, tmp_path / "ro" / "w.cube") == 1
    err = _one_line(capsys, f"rhograph predict: error: cannot write {tmp_path / 'ro'}: permission denied")
    assert not called, err


def test_disk_full_is_one_line_and_leaves_no_temporary(tmp_path, checkpoint, water, capsys, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    out = tmp_path / "w.cube"
    assert _predict(water, checkpoint, out) == 1
    assert (
        _one_line(capsys, "rhograph predict: error: ").strip().endswith(f"cannot write {out}: no space left on device")
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["water.xyz"]


def test_verbose_adds_the_traceback_of_a_user_error(tmp_path, checkpoint, water, capsys):
    assert main(["predict", str(water), "--model", str(checkpoint), "-o", str(tmp_path / "w.cube"), "-v",
                 "--chunk-size", "0"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().endswith("must be a positive integer (probes per decoder call)")


def test_a_bug_is_raised_with_its_traceback(monkeypatch, tmp_path, water, checkpoint):
    def bug(*args, **kwargs):
        raise ValueError("internal inconsistency")

    monkeypatch.setattr("rhograph.inference.predict.make_grid", bug)
    with pytest.raises(ValueError, match="internal inconsistency"):
        _predict(water, checkpoint, tmp_path / "w.cube")


def test_file_size_limit_in_a_subprocess(tmp_path):
    """A real EFBIG: ``ulimit -f`` below the file's size (Python ignores SIGXFSZ, so the write fails)."""
    script = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        from rhograph.errors import OutputError
        from rhograph.io.compression import write_bytes
        try:
            write_bytes({str(tmp_path / "big.bin")!r}, b"x" * 100_000)
        except OutputError as exc:
            print(exc)
        from rhograph.models.checkpoint import save_checkpoint
        from rhograph.testing.structures import tiny_model
        try:
            save_checkpoint({str(tmp_path / "big.pt")!r}, tiny_model("deepdft-painn"))
        except OutputError as exc:
            print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"cannot write {tmp_path / 'big.bin'}: file too large"), out
    assert lines[1].startswith(f"cannot write {tmp_path / 'big.pt'}: file too large"), out
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    target = tmp_path / "w.cube"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".w.cube.{int(dead.stdout)}.abc123.tmp.cube"
    alive = tmp_path / f".w.cube.{os.getppid()}.def456.tmp.cube"  # a running process: kept
    stale.write_text("half a file")
    alive.write_text("being written")
    with atomic.atomic_open(target, "w") as fh:
        fh.write("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "w.cube"])


def test_grid_too_large_for_memory_is_refused_with_a_suggestion(tmp_path, checkpoint, water, capsys):
    with pytest.raises(ResourceError, match=r"needs 7\.5 GiB for 2 values per point.*1\.0 GiB.*coarser"):
        check_grid_memory((1000, 1000, 1000), PredictOptions(derived=("iri",)), "x", available=1 << 30)
    assert _predict(water, checkpoint, tmp_path / "w.npz", "--grid-step", "0.0005") == 1  # npz: the whole grid
    err = _one_line(capsys, "rhograph predict: error: water.xyz: a grid of ")
    assert "more than the" in err and "--grid-step" in err and ".npy file (streamed" in err
    assert not (tmp_path / "w.npz").exists()


def test_streamed_file_too_large_for_the_disk_is_refused_before_any_work(tmp_path, checkpoint, water, capsys):
    # a cube file is streamed (any grid fits in memory) but must fit on the disk: 1.4e12 points do not
    assert _predict(water, checkpoint, tmp_path / "w.cube", "--grid-step", "0.0005") == 1
    err = _one_line(capsys, "rhograph predict: error: water.xyz: ")
    assert "GiB free on its disk" in err and "w.cube" in err and "--grid-step" in err
    assert list(tmp_path.glob("*.cube*")) == []


def test_left_handed_cell_names_the_structure(tmp_path, checkpoint, capsys):
    atoms = bulk("Si", "diamond", a=5.43)
    atoms.set_cell(atoms.cell[[1, 0, 2]], scale_atoms=False)
    assert np.linalg.det(atoms.cell) < 0
    path = tmp_path / "left.extxyz"
    write(path, atoms)
    assert _predict(path, checkpoint, tmp_path / "left_CHGCAR") == 1
    assert "the cell is left-handed" in _one_line(capsys, "rhograph predict: error: left.extxyz: ")


@pytest.mark.parametrize("cutoff", [1e6, -1.0])
def test_checkpoint_with_absurd_cutoff(tmp_path, checkpoint, water, capsys, cutoff):
    data = torch.load(checkpoint, weights_only=True)
    data["model_config"]["cutoff"] = cutoff
    path = tmp_path / "absurd.pt"
    torch.save(data, path)
    assert _predict(water, path, tmp_path / "w.cube") == 1
    assert "cutoff" in _one_line(capsys, f"rhograph predict: error: {path}: has an invalid model config")


def test_random_bytes_are_not_a_checkpoint_or_an_npz(tmp_path, checkpoint, water, capsys):
    noise = np.random.default_rng(0).bytes(4000)
    (tmp_path / "noise.pt").write_bytes(noise)
    assert _predict(water, tmp_path / "noise.pt", tmp_path / "w.cube") == 1
    assert "is not a checkpoint" in _one_line(capsys, "rhograph predict: error: ")
    (tmp_path / "noise.npz").write_bytes(noise)
    assert main(["info", str(tmp_path / "noise.npz")]) == 1
    assert "not an npz density or label" in capsys.readouterr().err


def test_variability_refuses_different_structures(tmp_path, capsys):
    paths = []
    for name in ("H2O", "SH2"):
        atoms = molecule(name, cell=np.eye(3) * 4.0)
        paths.append(tmp_path / f"{name}.npz")
        write_density(paths[-1], DensityGrid(atoms=atoms, values=np.ones((4, 4, 4)), cell=atoms.cell.array,
                                             origin=np.zeros(3)))  # fmt: skip
    assert main(["variability", *map(str, paths)]) == 1
    assert "holds another structure" in _one_line(capsys, "rhograph variability: error: ")


def test_predict_json_summary(tmp_path, checkpoint, water, capsys):
    out = tmp_path / "w.cube"
    assert _predict(water, checkpoint, out, "--json") == 0
    records = json.loads(capsys.readouterr().out)
    assert records[0]["outputs"] == [str(out)] and records[0]["points"] == np.prod(records[0]["shape"])
    assert records[0]["electrons"] > 0


def test_output_error_message():
    assert str(OutputError("/x/y", "no space left on device")) == "cannot write /x/y: no space left on device"


def test_read_only_file_in_an_output_folder_is_refused_before_any_prediction(tmp_path, checkpoint, capsys):
    paths = []
    for name in ("CH4", "NH3"):
        paths.append(tmp_path / f"{name}.xyz")
        write(paths[-1], molecule(name))
    out = tmp_path / "preds"
    out.mkdir()
    (out / "NH3.cube").write_text("keep me")
    (out / "NH3.cube").chmod(0o444)
    assert main(["-q", "predict", *map(str, paths), "--model", str(checkpoint), "-o", str(out)]) == 1
    assert "NH3.cube: the file is read-only" in _one_line(capsys, "rhograph predict: error: cannot write ")
    assert sorted(p.name for p in out.iterdir()) == ["NH3.cube"]


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        (["evaluate", "DATA", "--model", "MODEL"], "folder"),
        (["train", "--config", "CONFIG"], "folder"),
        (["data", "qm9", "--count", "3"], "folder"),
        (["label", "STRUCTURE"], "folder"),
        (["charge-transfer", "--full", "A", "--removed", "B"], "folder"),
        (["atom-densities", "--elements", "H"], "file"),
        (["bader", "DENSITY"], "file"),
        (["convert-deepdft", "MODEL"], "file"),
    ],
)
def test_every_verb_checks_its_output_before_any_work(tmp_path, capsys, argv, kind):
    """An output that cannot be written is refused first (the inputs named here do not even exist), and
    nothing is created."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "out" if kind == "folder" else tmp_path / "sub"
    if kind == "file":
        out.mkdir()  # a folder where the output file should be
    assert main([*argv, "-o", str(out)]) == 1
    expected = "exists and is not a folder" if kind == "folder" else "is a folder"
    err = _one_line(capsys, f"rhograph {argv[0]}: error: cannot write ")
    assert expected in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a-file", *(["sub"] * (kind == "file"))])
