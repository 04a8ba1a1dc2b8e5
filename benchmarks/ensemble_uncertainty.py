"""Does an ensemble's spread predict its error? Correlation and calibration on held-out structures.

Trains a small ensemble (``rhograph train --ensemble K`` through the Python API) — by default on a synthetic
data set it writes (periodic H/C/O structures whose density is a sum of element Gaussians,
:mod:`rhograph.testing.data`), or on ``--data`` (CHGCAR / cube files, optionally with ``--split``) — or takes
trained members with ``--members a.pt b.pt ...`` / ``--members RUN_DIR``. Then, on every held-out (test)
structure, it predicts the member mean ρ̄ and spread σ on the reference grid and prints:

* per structure: Pearson and Spearman correlation of the expected ε_mae (sqrt(2/π)·Σσ / Σ|ρ̄|) with the
  actual ε_mae, and their means;
* per voxel: Pearson and Spearman correlation of σ with |ρ̄ − ρ| (all test voxels pooled);
* a calibration table (voxels in σ quantile bins: mean σ, observed mean |error|, and sqrt(2/π)·σ, what a
  calibrated normal error would give) and the plot ``OUT/calibration.png``; everything also in
  ``OUT/ensemble_uncertainty.json``.

Default: 4 members × 800 steps of a F = 32 PaiNN on 60 synthetic structures (12 held out), a few minutes on
2 CPU cores.

    python benchmarks/ensemble_uncertainty.py [--ensemble 4] [--steps 800] [--out out/ensemble_uncertainty]
    python benchmarks/ensemble_uncertainty.py --members runs/ens --data DATA --split runs/ens/split.json
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def make_synthetic(directory: Path, count: int, seed: int) -> Path:
    """``count`` synthetic periodic structures on 16³ grids in 5 Å cells (CHGCAR)."""
    from rhograph.io.formats import write_density
    from rhograph.testing.data import synthetic_grid

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        write_density(directory / f"synthetic_{i:03d}.CHGCAR", synthetic_grid(rng, box=5.0, points=16))
    return directory


def train_members(args: argparse.Namespace, data: Path, out: Path) -> Path:
    from rhograph.train.config import TrainConfig
    from rhograph.train.ensemble import train_ensemble

    config = TrainConfig(
        data=str(data),
        split_file=str(args.split.resolve()) if args.split else None,
        val_size=6,
        test_size=args.test,
        preset=args.preset,
        model={"hidden_size": args.hidden_size, "num_interactions": 2, "cutoff": 3.0},
        pool_size=8,
        probes_per_structure=200,
        val_probes_per_structure=1000,
        num_workers=0,
        lr=3e-3,
        lr_decay=0.1,
        lr_decay_steps=args.steps,
        max_steps=args.steps,
        val_every=max(args.steps // 3, 1),
        log_every=max(args.steps // 3, 1),
        device="cpu",
        tensorboard=False,
        seed=args.seed,
        ensemble_size=args.ensemble,
    )
    run = out / "run"
    t0 = time.perf_counter()
    train_ensemble(config, run, resume=(run / "config.yaml").exists())
    print(f"trained {args.ensemble} members × {args.steps} steps in {time.perf_counter() - t0:.0f} s ({run})")
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", nargs="+", help="trained members: an ensemble run folder or checkpoints")
    parser.add_argument(
        "--data", type=Path, help="CHGCAR / cube data set or a folder of compact labels (default: a synthetic one)"
    )
    parser.add_argument("--split", type=Path, help="split JSON; its test part is evaluated")
    parser.add_argument("--ensemble", type=int, default=4, help="members to train (default 4)")
    parser.add_argument("--steps", type=int, default=800, help="training steps per member (default 800)")
    parser.add_argument("--count", type=int, default=60, help="synthetic structures (default 60)")
    parser.add_argument("--test", type=int, default=12, help="held-out structures of a random split (default 12)")
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--preset", default="deepdft-painn", help="model preset of the members (default deepdft-painn)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bins", type=int, default=12, help="σ bins of the calibration curve")
    parser.add_argument("--out", type=Path, default=Path("out/ensemble_uncertainty"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # (data-wait notes of num_workers=0 runs)
    torch.set_num_threads(1)

    from rhograph.analysis.metrics import nmae
    from rhograph.analysis.plots import plot_calibration
    from rhograph.analysis.uncertainty import calibration_bins, correlations
    from rhograph.data.splits import load_split
    from rhograph.inference.model_source import resolve_model
    from rhograph.inference.predict import PredictOptions, predict
    from rhograph.io.dataset import DensityDataset
    from rhograph.labels.compact import CompactGrids, is_compact_folder

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or make_synthetic(Path(tmp) / "data", args.count, args.seed + 1000)
        if args.members:
            loaded = resolve_model(args.members)
            split_file = args.split
        else:
            run = train_members(args, data, args.out)
            loaded = resolve_model(run)
            split_file = run / "split.json"
        if not loaded.is_ensemble:
            parser.error("--members must give an ensemble (a run folder of members or two or more checkpoints)")
        dataset = CompactGrids(data) if is_compact_folder(data) else DensityDataset(data)
        indices = list(load_split(split_file).test) if split_file else list(range(len(dataset)))
        if not indices:
            parser.error("no held-out structures (the split's test part is empty)")

        options = PredictOptions(uncertainty=True, unseen_elements="warn")
        expected, actual, sigmas, errors = [], [], [], []
        t0 = time.perf_counter()
        for index in indices:
            reference = dataset[index]
            pred = predict(reference.atoms, loaded, like=reference, options=options, device="cpu")
            expected.append(pred.expected_nmae)
            actual.append(nmae(reference.values, pred.values, reference.voxel_volume))
            sigmas.append(pred.fields["std"].reshape(-1))
            errors.append((pred.values - reference.values).reshape(-1))
        seconds = time.perf_counter() - t0

    sigma, error = np.concatenate(sigmas), np.concatenate(errors)
    per_structure = correlations(np.array(expected), np.array(actual))
    per_voxel = correlations(sigma, np.abs(error))
    bins = calibration_bins(sigma, error, args.bins)
    plot = plot_calibration(
        args.out / "calibration.png",
        bins,
        structures=(expected, actual),
        title=f"ensemble of {loaded.model.size}, {len(indices)} held-out structures",
    )
    result = {
        "members": loaded.model.size,
        "structures": len(indices),
        "voxels": int(sigma.size),
        "expected_nmae_mean": float(np.mean(expected)),
        "actual_nmae_mean": float(np.mean(actual)),
        "per_structure": per_structure,
        "per_voxel": per_voxel,
        "calibration": bins.rows(),
        "predict_seconds": seconds,
    }
    with open(args.out / "ensemble_uncertainty.json", "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)

    print(f"ensemble of {loaded.model.size} members, {len(indices)} held-out structures, {sigma.size:,} voxels")
    print(
        f"ε_mae: expected {result['expected_nmae_mean']:.3f} %  actual {result['actual_nmae_mean']:.3f} %  "
        f"(ratio actual/expected {result['actual_nmae_mean'] / result['expected_nmae_mean']:.2f})"
    )
    print(
        f"per structure (expected vs actual ε_mae): Pearson {per_structure['pearson']:.3f}  "
        f"Spearman {per_structure['spearman']:.3f}"
    )
    print(f"per voxel (σ vs |error|): Pearson {per_voxel['pearson']:.3f}  Spearman {per_voxel['spearman']:.3f}")
    print("calibration (σ quantile bins):  mean σ   observed mean |err|   sqrt(2/π)·σ   observed/expected")
    for row in bins.rows():
        ratio = row["abs_error"] / row["expected_abs_error"] if row["expected_abs_error"] > 0 else float("nan")
        print(f"  {row['sigma']:12.3e}  {row['abs_error']:18.3e}  {row['expected_abs_error']:12.3e}  {ratio:10.2f}")
    print(f"wrote {plot} and {args.out / 'ensemble_uncertainty.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
