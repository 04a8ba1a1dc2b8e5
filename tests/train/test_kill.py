"""SIGKILL mid-run: the resumed run continues from the last checkpoint and matches an uninterrupted run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import torch

from rhograph.train.checkpoints import load_training_state
from rhograph.train.loop import train

from .conftest import tiny_config


def test_sigkill_then_resume_matches_uninterrupted(dataset_dir, tmp_path):
    run = tmp_path / "killed"
    args = [
        "train", str(dataset_dir), "--out", str(run), "--preset", "deepdft-painn", "--seed", "7",
        "--num-workers", "0", "--device", "cpu", "--max-steps", "100000",
        "--set", "model={hidden_size: 16, num_interactions: 2, cutoff: 3.0}",
        "--set", "val_size=3", "--set", "test_size=1", "--set", "pool_size=4",
        "--set", "probes_per_structure=64", "--set", "val_probes_per_structure=200",
        "--set", "lr=3.0e-3", "--set", "val_every=1000", "--set", "checkpoint_every=10",
        "--set", "log_every=1", "--set", "tensorboard=false",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rhograph.cli.main", "-q", *args], env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (run / "last.pt").exists():
                try:
                    step = load_training_state(run / "last.pt")[1].step
                except Exception:  # the file may be mid-rename
                    step = 0
                if step >= 20:
                    break
            assert proc.poll() is None, "training exited early"
            time.sleep(0.1)
        proc.kill()
    finally:
        proc.wait(timeout=30)
    killed_at = load_training_state(run / "last.pt")[1].step
    assert killed_at % 10 == 0 and killed_at >= 20

    config = tiny_config(dataset_dir, max_steps=killed_at + 15, val_every=1000, checkpoint_every=10)
    resumed = train(config, run, resume=True)
    straight = train(config, tmp_path / "straight")
    assert resumed.step == straight.step == killed_at + 15
    from rhograph.models.checkpoint import load_model

    a = load_model(run / "last.pt").state_dict()
    b = load_model(tmp_path / "straight" / "last.pt").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_to_the_process_group_stops_cleanly_with_workers(dataset_dir, tmp_path):
    """SIGTERM to the whole group (a batch scheduler, `kill -TERM -PGID`) reaches the DataLoader worker too:
    the run finishes its step, writes last.pt, shuts the worker down and exits 128 + 15 without a traceback."""
    import signal

    run = tmp_path / "run"
    args = [
        "train", str(dataset_dir), "--out", str(run), "--preset", "deepdft-painn", "--seed", "7",
        "--num-workers", "1", "--device", "cpu", "--max-steps", "100000",
        "--set", "model={hidden_size: 8, num_interactions: 1, cutoff: 3.0}",
        "--set", "val_size=3", "--set", "test_size=1", "--set", "pool_size=4",
        "--set", "probes_per_structure=32", "--set", "val_probes_per_structure=50",
        "--set", "val_every=100000", "--set", "checkpoint_every=5", "--set", "tensorboard=false",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rhograph.cli.main", "-q", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, shared with its DataLoader worker
    )
    try:
        deadline = time.monotonic() + 120
        while not (run / "last.pt").exists() and time.monotonic() < deadline:
            assert proc.poll() is None, f"training exited early: {proc.communicate()[1]}"
            time.sleep(0.1)
        assert (run / "last.pt").exists(), "training did not start"
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM received: stopping after this step and writing last.pt" in err
    assert "Traceback" not in err and "Error" not in err, err
    assert "interrupted; continue with" in out
    state = load_training_state(run / "last.pt")[1]
    assert state.step >= 5
    assert not (run / "train.lock").exists()
    deadline = time.monotonic() + 10
    while True:  # the worker has ended too (nothing is left in the process group)
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a DataLoader worker outlived the run"
        time.sleep(0.1)
