"""Training throughput at the paper's batch (2 structures × 1000 probes) for both presets, and data wait.

A synthetic QM9-like data set (9–19 atoms of H, C, N, O in a 10 Å box, Gaussian-sum densities on a 48³
grid, written as CHGCAR files) or an NMC-like periodic one (``--kind crystal``: 48 atoms in a 10 Å cell)
is trained on with the full-size paper models (F = 128; T = 6 SchNet-like, T = 3 PaiNN-like) and the
paper's data pipeline (rotating pool of 20, one new structure loaded per batch, graphs built in DataLoader
workers). Per preset it prints steps/s and the fraction of wall time the training process waited for
data (target < 5 %), measured from the run's ``train_log.csv`` after a warm-up interval; with
``--compare-workers`` it also runs with the batches built in the training process (``num_workers=0``),
and prints the ratio of the two rates.

Run: python benchmarks/train_throughput.py [--steps 60] [--workers 2] [--kind molecule|crystal]
"""

from __future__ import annotations

import argparse
import csv
import logging
import tempfile
from pathlib import Path

import ase
import numpy as np
import torch

from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import write_density
from rhograph.train.config import TrainConfig
from rhograph.train.loop import train

HEIGHTS = {1: (0.4, 0.45), 6: (1.5, 0.55), 7: (2.0, 0.5), 8: (2.5, 0.5), 3: (0.3, 0.6), 25: (4.0, 0.6)}


def synthetic_structure(rng: np.random.Generator, kind: str) -> DensityGrid:
    """Random atoms (at least 1 Å apart) and a Gaussian-sum density on a 48³ grid."""
    box, points = 10.0, 48
    if kind == "molecule":
        count, elements, pbc = int(rng.integers(9, 20)), [1, 1, 6, 6, 7, 8], False
        low, high = 2.5, box - 2.5
    else:
        count, elements, pbc = 48, [3, 8, 8, 25], True
        low, high = 0.0, box
    positions: list[np.ndarray] = []
    while len(positions) < count:
        trial = rng.uniform(low, high, 3)
        if all(np.linalg.norm(trial - p) > 1.0 for p in positions):
            positions.append(trial)
    numbers = rng.choice(elements, size=count)
    cell = np.eye(3) * box
    atoms = ase.Atoms(numbers=numbers, positions=np.array(positions), cell=cell, pbc=True)
    axis = np.arange(points) / points * box
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    values = np.zeros(len(grid))
    for z, pos in zip(numbers, atoms.positions, strict=True):
        d = grid - pos
        if pbc:
            d -= box * np.round(d / box)
        height, width = HEIGHTS[int(z)]
        values += height * np.exp(-(d**2).sum(axis=1) / (2 * width**2))
    return DensityGrid(atoms=atoms, values=values.reshape(points, points, points), cell=cell)


def measure(data: Path, run_dir: Path, preset: str, steps: int, workers: int, log_every: int) -> tuple[float, float]:
    """Steps/s and data-wait fraction over the logged intervals after the first (warm-up) one."""
    config = TrainConfig(
        data=str(data),
        preset=preset,
        max_steps=steps,
        val_size=1,
        test_size=0,
        val_probes_per_structure=100,
        val_every=10 * steps,
        log_every=log_every,
        num_workers=workers,
        device="cpu",
        tensorboard=False,
    )
    train(config, run_dir)
    with open(run_dir / "train_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))[1:]
    steps_per_s = float(np.mean([float(r["steps_per_s"]) for r in rows]))
    wait = float(np.mean([float(r["data_wait_frac"]) for r in rows]))
    return steps_per_s, wait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="training steps per preset (default 60)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (default 2)")
    parser.add_argument("--structures", type=int, default=24, help="structures in the synthetic set")
    parser.add_argument("--kind", choices=("molecule", "crystal"), default="molecule")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--compare-workers", action="store_true", help="also run with num_workers=0")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    log_every = max(1, args.steps // 6)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        rng = np.random.default_rng(0)
        for i in range(args.structures):
            write_density(data / f"{args.kind}_{i:03d}.CHGCAR", synthetic_structure(rng, args.kind))
        print(
            f"{args.structures} synthetic {args.kind} CHGCARs (48³ grid), batch 2 × 1000 probes, "
            f"pool 20, {args.workers} workers, torch threads {torch.get_num_threads()}, {args.steps} steps"
        )
        print(f"{'preset':16s} {'workers':>7s} {'steps/s':>9s} {'data wait':>10s}")
        for preset in ("deepdft-schnet", "deepdft-painn"):
            configs = [args.workers, 0] if args.compare_workers else [args.workers]
            rates = {}
            for workers in configs:
                rate, wait = measure(data, Path(tmp) / f"{preset}_{workers}", preset, args.steps, workers, log_every)
                rates[workers] = rate
                print(f"{preset:16s} {workers:7d} {rate:9.2f} {100 * wait:9.1f}%")
            if args.compare_workers:
                print(
                    f"{preset:16s} speed-up of {args.workers} workers over in-process batches: "
                    f"{rates[args.workers] / rates[0]:.2f}×"
                )


if __name__ == "__main__":
    main()
