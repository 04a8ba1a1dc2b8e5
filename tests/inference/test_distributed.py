"""Splitting a grid over 2 gloo processes gives the same grid as one process."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from ase.build import bulk

from rhograph.inference.engine import GridPredictor
from rhograph.inference.grids import make_grid
from rhograph.testing.structures import tiny_model


def _worker(rank: int, world_size: int, init_file: str, out_file: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        model = tiny_model("deepdft-painn", dtype=torch.float32, seed=3)
        atoms, spec = make_grid(bulk("Si", "diamond", a=5.43), grid_step=0.45)
        result = GridPredictor(model, chunk_size=300).predict_grid(atoms, spec, rank=rank, world_size=world_size)
        if rank == 0:
            np.save(out_file, result.values)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_match_one(tmp_path):
    out_file = str(tmp_path / "grid.npy")
    init_file = str(tmp_path / "init")
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    mp.spawn(_worker, args=(2, init_file, out_file), nprocs=2, join=True)
    split = np.load(out_file)

    model = tiny_model("deepdft-painn", dtype=torch.float32, seed=3)
    atoms, spec = make_grid(bulk("Si", "diamond", a=5.43), grid_step=0.45)
    single = GridPredictor(model, chunk_size=300).predict_grid(atoms, spec).values
    assert split.shape == single.shape
    np.testing.assert_allclose(split, single, rtol=1e-6, atol=1e-7)
