"""The run directory lock: one training process per run directory; a dead holder's lock is taken over."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys

import pytest

from rhograph.cli.main import main
from rhograph.errors import RunDirLockedError
from rhograph.train.rundir import LOCK_NAME, RunLock

_HOLD = (
    "import sys, time; from rhograph.train.rundir import RunLock; "
    "lock = RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(120)"
)


def test_second_lock_is_refused_naming_the_holder(tmp_path):
    with RunLock(tmp_path) as lock:
        assert lock.held and json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
        with pytest.raises(RunDirLockedError, match=rf"in use by another training run \(process {os.getpid()} on host"):
            RunLock(tmp_path).acquire()
    assert not (tmp_path / LOCK_NAME).exists()  # released and removed
    RunLock(tmp_path).acquire().release()


def test_running_process_blocks_train_and_its_stale_lock_is_taken_over(dataset_dir, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        args = ["train", str(dataset_dir), "--out", str(run), "--device", "cpu", "--num-workers", "0"]
        assert main(args) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"rhograph train: error: {run} is in use by another"), err
        assert f"process {holder.pid} on host {platform.node()}" in err
        assert not (run / "split.json").exists()  # refused before doing anything
    finally:
        holder.send_signal(signal.SIGKILL)  # dies without releasing: the file stays, the flock goes
        holder.wait(timeout=30)
        holder.stdout.close()
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == holder.pid
    with RunLock(run):
        assert json.loads((run / LOCK_NAME).read_text())["pid"] == os.getpid()
