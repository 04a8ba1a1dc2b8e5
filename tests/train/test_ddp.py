"""Data-parallel training with torchrun, gloo and 2 CPU processes: the ranks end with identical parameters."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from .conftest import tiny_config


def test_two_gloo_ranks_train_in_lockstep(dataset_dir, tmp_path):
    config = tiny_config(dataset_dir, max_steps=30, val_every=15, log_every=5)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config.to_dict()))
    worker = Path(__file__).with_name("_ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(worker)]
    proc = subprocess.run([*cmd, str(config_path), str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    rank0 = torch.load(tmp_path / "params_rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "params_rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)

    from rhograph.models.checkpoint import load_model

    saved = load_model(tmp_path / "run" / "last.pt").state_dict()
    assert all(torch.equal(saved[k], rank0[k]) for k in rank0)
    with open(tmp_path / "run" / "val_log.csv", newline="") as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [15, 30]
    info = yaml.safe_load((tmp_path / "run" / "run_info.json").read_text())
    assert info["world_size"] == 2
