"""Learning curves with and without the atomic-density baseline, on the same QM9 labels, split and seeds.

For every variant (default: ``rhograph-painn`` with ``baseline: auto`` = free-atom densities of the label
settings, and the same preset with ``baseline: none``) and every training-set size N (nested subsets of one
fixed split, recorded in the data set's ``qm9_subset.json``), a model is trained for the same number of
steps. Every ``--eval-every`` steps the test ε_mae is estimated on fixed probes drawn uniformly in each test
molecule's box (the mean of |Δρ| over uniform points divided by the mean of ρ is an unbiased estimate of
eq. 1); at the end ``best.pt`` (chosen on the validation molecules) is evaluated on the full 0.15 Å grids of
the test molecules rebuilt from their labels, with the ρ ≥ 0 clamp and without it (the raw network output).

Prints three tables (test ε_mae against training-set size, against steps, and at equal training wall time:
the best estimate each variant reached within 1, 2, 5, 10, ... minutes of training on this machine; the test
evaluations themselves are not counted) and writes
``OUT/learning_curves.csv``, ``OUT/curve_vs_steps.csv``, ``OUT/baseline_learning_curve.png``. Finished runs
are reused when the command is repeated; interrupted ones resume.

Run: python benchmarks/baseline_learning_curve.py [--data data/qm9] [--molecules 120] [--sizes 8 24 96]
     [--steps 2000] [--out out/baseline_lc]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from rhograph.analysis.metrics import nmae
from rhograph.data.splits import load_split
from rhograph.inference.predict import predict
from rhograph.io.atomic import atomic_open
from rhograph.io.density_grid import DensityGrid
from rhograph.labels.compact import CompactSource
from rhograph.labels.qm9 import snapshot_labelled
from rhograph.models.checkpoint import load_model
from rhograph.models.density_model import DensityModel
from rhograph.testing.asserts import model_batch
from rhograph.train.config import TrainConfig
from rhograph.train.loop import Trainer

log = logging.getLogger("baseline_learning_curve")


def raw_copy(model: DensityModel) -> DensityModel:
    """The same weights without the ρ ≥ 0 clamp."""
    raw = DensityModel(model.config.replace(nonnegative=False))
    raw.load_state_dict(model.state_dict())
    return raw.eval()


class TestProbes:
    """Fixed uniform probes of the test molecules: a Monte Carlo estimate of the test ε_mae."""

    def __init__(self, source: CompactSource, indices: list[int], num: int, seed: int) -> None:
        self.items = []
        for index in indices:
            label = source[index]
            points, values = label.fixed_probes(num, seed + index)
            self.items.append((label.atoms, points, values.astype(np.float64)))

    @torch.no_grad()
    def epsilon(self, model: DensityModel) -> float:
        """Mean over the test molecules of Σ|Δρ| / Σρ at the probes, in %."""
        errors = []
        for atoms, points, values in self.items:
            pred = np.concatenate(
                [model(model_batch(model, atoms, points[i : i + 4096])).numpy() for i in range(0, len(points), 4096)]
            )
            errors.append(100.0 * np.abs(pred - values).sum() / values.sum())
        return float(np.mean(errors))


def full_grid_errors(model: DensityModel, source: CompactSource, indices: list[int], cache: Path) -> dict:
    """Test ε_mae (%) on the full label grids, clamped and raw."""
    clamped, raw = [], []
    raw_model = raw_copy(model)
    for index in indices:
        label = source[index]
        ref_path = cache / f"reference_{Path(source.paths[index]).name}.npy"
        if ref_path.is_file():  # the DFT grid is the same for every run: evaluate it once
            reference = DensityGrid(atoms=label.atoms.copy(), values=np.load(ref_path), cell=label.cell,
                                    origin=label.origin, source=label.source)  # fmt: skip
        else:
            reference = label.to_grid()
            with atomic_open(ref_path, "wb") as fh:
                np.save(fh, reference.values)
        clamped.append(nmae(reference, predict(label.atoms, model, like=reference, device="cpu")))
        raw.append(nmae(reference, predict(label.atoms, raw_model, like=reference, device="cpu")))
    return {
        "eps_mae_mean": float(np.mean(clamped)),
        "eps_mae_max": float(np.max(clamped)),
        "eps_mae_raw_mean": float(np.mean(raw)),
        "per_molecule": [round(x, 4) for x in clamped],
    }


def run_variant(args, data: Path, split_path: Path, variant: str, size: int, probes: TestProbes, out: Path) -> dict:
    preset, baseline = variant.split(":")
    from rhograph.models.registry import get_preset

    if baseline == "auto" and not get_preset(preset).baseline:  # `auto` is the preset's choice: none here
        other = preset.replace("deepdft-", "rhograph-")
        raise SystemExit(
            f"{variant}: preset {preset} has no atomic baseline, so 'auto' means none; compare with "
            f"{other}:auto (the same network with the baseline)"
        )
    run_dir = out / f"{preset}-{baseline}" / f"n{size}"
    result_path = run_dir / "result.json"
    if result_path.is_file():
        return json.loads(result_path.read_text())
    config = TrainConfig(
        data=str(data / "densities"),
        split_file=str(split_path),
        preset=preset,
        baseline=baseline,
        model={"hidden_size": args.hidden},
        train_size=size,
        max_steps=args.steps,
        lr=3e-4,
        lr_decay=0.1,
        lr_decay_steps=args.steps,
        val_every=args.eval_every,
        val_probes_per_structure=2000,
        num_workers=1,
        log_every=args.eval_every,
        seed=args.seed,
        tensorboard=False,
        device="cpu",
    )
    curve_path = run_dir / "test_curve.json"
    # [step, test ε_mae estimate, training wall seconds so far (without these test evaluations)]
    curve: list[list[float]] = json.loads(curve_path.read_text()) if curve_path.is_file() else []
    # the clock starts at the first step: set-up (free-atom tables, validation probes) is not training time
    clock = {"start": None, "offset": curve[-1][2] if curve and len(curve[-1]) > 2 else 0.0}

    def on_step(step: int, trainer: Trainer) -> None:
        if clock["start"] is None:
            clock["start"] = time.perf_counter()
        if step % args.eval_every == 0 and (not curve or curve[-1][0] < step):
            seconds = clock["offset"] + time.perf_counter() - clock["start"]
            evaluation = time.perf_counter()
            trainer.model.eval()
            curve.append([step, probes.epsilon(trainer.model), seconds])
            trainer.model.train()
            with atomic_open(curve_path, "w") as fh:
                json.dump(curve, fh)
            clock["start"] += time.perf_counter() - evaluation  # test evaluations are not training time

    start = time.perf_counter()
    resume = (run_dir / "last.pt").is_file()
    trainer = Trainer(config, run_dir, resume=resume, on_step=on_step)
    outcome = trainer.run()
    if outcome.stop_reason.startswith("signal"):
        raise KeyboardInterrupt(f"{variant} n={size} stopped by {outcome.stop_reason}; rerun to resume")
    train_seconds = time.perf_counter() - start
    model = load_model(run_dir / "best.pt").eval()
    source = CompactSource.from_path(data / "densities")
    split = load_split(split_path)
    if args.no_full_grid:  # the uniform-probe estimate of the best model stands in for the full-grid ε_mae
        estimate = probes.epsilon(model)
        errors = {"eps_mae_mean": estimate, "eps_mae_max": float("nan"), "eps_mae_raw_mean": float("nan"),
                  "per_molecule": [], "full_grid": False}  # fmt: skip
    else:
        errors = {**full_grid_errors(model, source, list(split.test), out), "full_grid": True}
    result = {"variant": variant, "train_size": size, "steps": outcome.step, "train_seconds": train_seconds,
              "curve": curve, **errors}  # fmt: skip
    with atomic_open(result_path, "w") as fh:
        json.dump(result, fh, indent=1)
    return result


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right, timed) = plt.subplots(1, 3, figsize=(16, 4.2))
    variants = sorted({r["variant"] for r in results})
    for variant in variants:
        rows = sorted((r for r in results if r["variant"] == variant), key=lambda r: r["train_size"])
        left.plot([r["train_size"] for r in rows], [r["eps_mae_mean"] for r in rows], "o-", label=variant)
        largest = rows[-1]
        steps, eps = ([c[0] for c in largest["curve"]], [c[1] for c in largest["curve"]])
        right.plot(steps, eps, "-", label=f"{variant}, N={largest['train_size']}")
        timed_points = [(c[2], c[1]) for c in largest["curve"] if len(c) > 2]
        if timed_points:
            seconds, eps = zip(*timed_points, strict=True)
            timed.plot(seconds, eps, "-", label=f"{variant}, N={largest['train_size']}")
    left.set(xscale="log", yscale="log", xlabel="training molecules", ylabel="test ε_mae (%)",
             title="full-grid test ε_mae vs training-set size")  # fmt: skip
    right.set(yscale="log", xlabel="training step", ylabel="test ε_mae estimate (%)",
              title="test ε_mae (uniform probes) vs steps")  # fmt: skip
    timed.set(yscale="log", xlabel="training wall time (s, this machine)", ylabel="test ε_mae estimate (%)",
              title="test ε_mae (uniform probes) vs training time")  # fmt: skip
    for ax in (left, right, timed):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/qm9", help="a QM9 set of `rhograph data qm9 --growing`")
    parser.add_argument("--molecules", type=int, default=120, help="first N labelled molecules of the set")
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 24, 96])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--test-probes", type=int, default=20000, help="uniform probes per test molecule")
    parser.add_argument("--variants", nargs="+", default=["rhograph-painn:auto", "rhograph-painn:none"])
    parser.add_argument(
        "--no-full-grid",
        action="store_true",
        help="report the test ε_mae of best.pt from the uniform test probes only (an unbiased estimate of the "
        "full-grid value, agreeing with it to ~1 %% here) instead of predicting the full grids (slow for e3)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="out/baseline_lc")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    out = Path(args.out)
    data = snapshot_labelled(args.data, out / "data", args.molecules)
    split_path = data / "split.json"
    split = load_split(split_path)
    probes = TestProbes(CompactSource.from_path(data / "densities"), list(split.test), args.test_probes, 1000)
    print(f"data: {args.molecules} molecules of {args.data}: {len(split.train)} train / {len(split.validation)} "
          f"validation / {len(split.test)} test; {args.steps} steps per run, F={args.hidden}")  # fmt: skip
    results = []
    for size in args.sizes:
        for variant in args.variants:  # interleaved: both variants see the same machine load
            results.append(run_variant(args, data, split_path, variant, size, probes, out))
            r = results[-1]
            eps, raw = r["eps_mae_mean"], r["eps_mae_raw_mean"]
            print(f"  {variant:<22} N={size:<4} test ε_mae {eps:.2f} % (raw {raw:.2f} %)  {r['train_seconds']:.0f} s")
    with atomic_open(out / "learning_curves.csv", "w") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["variant", "train_size", "steps", "eps_mae_mean", "eps_mae_max", "eps_mae_raw_mean", "train_s"]
        )
        for r in results:
            errors = [f"{r[key]:.4f}" for key in ("eps_mae_mean", "eps_mae_max", "eps_mae_raw_mean")]
            writer.writerow([r["variant"], r["train_size"], r["steps"], *errors, f"{r['train_seconds']:.0f}"])
    with atomic_open(out / "curve_vs_steps.csv", "w") as fh:
        writer = csv.writer(fh)
        writer.writerow(["variant", "train_size", "step", "eps_mae_probe_estimate", "train_seconds"])
        for r in results:
            for step, eps, *seconds in r["curve"]:
                when = f"{seconds[0]:.1f}" if seconds else ""
                writer.writerow([r["variant"], r["train_size"], int(step), f"{eps:.4f}", when])
    plot(results, out / "baseline_learning_curve.png")

    print(
        "\ntest ε_mae (%) of best.pt vs training-set size (clamped / raw; * = uniform-probe estimate, not full grid):"
    )
    print(f"  {'N':>5} " + " ".join(f"{v:>30}" for v in args.variants))
    for size in args.sizes:
        cells = []
        for variant in args.variants:
            r = next(x for x in results if x["variant"] == variant and x["train_size"] == size)
            star = "" if r.get("full_grid", True) else "*"
            cells.append(f"{r['eps_mae_mean']:>8.2f}{star} / {r['eps_mae_raw_mean']:<8.2f}")
        print(f"  {size:>5} " + " ".join(f"{c:>30}" for c in cells))
    largest = max(args.sizes)
    print(f"\ntest ε_mae estimate (%) vs step at N={largest}:")
    at_largest = {
        v: next(x for x in results if x["variant"] == v and x["train_size"] == largest) for v in args.variants
    }
    curves = {v: {c[0]: c[1] for c in r["curve"]} for v, r in at_largest.items()}
    steps = sorted({s for c in curves.values() for s in c})
    print(f"  {'step':>6} " + " ".join(f"{v:>22}" for v in args.variants))
    for step in steps:
        print(f"  {int(step):>6} " + " ".join(f"{curves[v].get(step, float('nan')):>22.2f}" for v in args.variants))
    timed = {v: [c for c in r["curve"] if len(c) > 2] for v, r in at_largest.items()}
    if all(timed.values()):
        budgets = [t for t in (60, 120, 300, 600, 1200, 2400, 4800) if t <= max(c[-1][2] for c in timed.values())]
        print(f"\ntest ε_mae estimate (%) at equal training wall time, N={largest} (best reached by then; - = no "
              "evaluation yet):")  # fmt: skip
        print(f"  {'seconds':>7} " + " ".join(f"{v:>22}" for v in args.variants))
        for budget in budgets:
            cells = []
            for v in args.variants:
                reached = [eps for _, eps, seconds in timed[v] if seconds <= budget]
                cells.append(f"{min(reached):>22.2f}" if reached else f"{'-':>22}")
            print(f"  {budget:>7} " + " ".join(cells))
    if len(args.variants) >= 2:
        first = args.variants[0]
        for other in args.variants[1:]:
            for size in args.sizes:
                a, b = (
                    next(x for x in results if x["variant"] == v and x["train_size"] == size) for v in (first, other)
                )
                ratio = b["eps_mae_mean"] / a["eps_mae_mean"]
                time_ratio = b["train_seconds"] / a["train_seconds"]
                print(f"  N={size}: {other} / {first}: ε_mae ratio {ratio:.2f}, training time ratio {time_ratio:.2f}")
    print(f"-> {out / 'baseline_learning_curve.png'}")


if __name__ == "__main__":
    main()
