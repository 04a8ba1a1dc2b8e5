"""Test error of QM9 models on the fixed test molecules of the growing label set (``data/qm9``), side by side.

The test part of every molecule is fixed by its QM9 index (``data/qm9/qm9_subset.json``), so the test set only
grows as labels are added and no model sees a test molecule in training. Each model (default: the bundled
default) is evaluated on the full 0.15 Å grids rebuilt from the compact labels of every finished test molecule
(``rhograph evaluate``), in the same run. Prints per model the number of molecules, mean / median / max ε_mae
(paper eq. 1), the largest |∫ρ − N| relative to the valence electron count N, and the ε_mae on the fluorinated
test molecules; writes each model's ``errors.csv``, ``summary.json`` and error histogram under ``--out``.
(Negative densities: the bundled models clamp ρ ≥ 0 by construction.)

Run: python benchmarks/qm9_test_error.py [--model qm9-painn-delta --model RUN/best.pt ...] [--data data/qm9]
     [--limit N] [--out out/qm9_test_error]
"""

from __future__ import annotations

import argparse
import csv
import logging
import tempfile
from pathlib import Path

import numpy as np

from rhograph.inference.evaluate import EvaluateOptions, evaluate_dataset
from rhograph.inference.model_source import DEFAULT_MODEL, resolve_model
from rhograph.inference.predict import expected_electrons
from rhograph.labels.qm9 import snapshot_labelled


def _evaluate(model_name: str, data: Path, split: Path, out: Path, limit: int | None) -> dict:
    loaded = resolve_model(model_name)
    loaded.name = model_name
    summary = evaluate_dataset(
        data / "densities", loaded, out, options=EvaluateOptions(split=str(split), part="test", limit=limit)
    )
    with open(out / "errors.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    from rhograph.labels.compact import CompactDensity

    electron_errors, fluorinated = [], []
    for row in rows:
        label = CompactDensity.load(data / "densities" / row["name"])
        expected = expected_electrons(label.atoms, loaded) or float(label.electrons)
        electron_errors.append(100 * abs(float(row["electrons_pred"]) - expected) / expected)
        if 9 in set(label.atoms.numbers.tolist()):
            fluorinated.append(float(row["nmae"]))
    summary["electrons_max_percent"] = max(electron_errors) if electron_errors else float("nan")
    summary["fluorinated_mean"] = float(np.mean(fluorinated)) if fluorinated else float("nan")
    summary["fluorinated_count"] = len(fluorinated)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="bundled name or checkpoint (repeat; default: bundled)")
    parser.add_argument("--data", type=Path, default=Path("data/qm9"), help="a set made by `rhograph data qm9`")
    parser.add_argument("--limit", type=int, default=None, help="at most this many test molecules")
    parser.add_argument("--out", type=Path, default=Path("out/qm9_test_error"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    models = args.model or [DEFAULT_MODEL]
    with tempfile.TemporaryDirectory(prefix="qm9-test-") as tmp:
        snapshot = snapshot_labelled(args.data, Path(tmp) / "set")  # every finished label, parts by QM9 index
        results = {}
        for index, name in enumerate(models):
            path = Path(name)
            out = args.out / (f"{index}-{path.parent.name}-{path.name}" if path.exists() else f"{index}-{name}")
            results[name] = _evaluate(name, snapshot, snapshot / "split.json", out, args.limit)
    print(f"\ntest molecules of {args.data} (full 0.15 Å grids rebuilt from the compact labels)")
    print(f"{'model':<44} {'n':>4} {'mean %':>8} {'median %':>9} {'max %':>7} {'F mean % (n)':>14} {'|∫ρ−N|/N %':>11}")
    for name, s in results.items():
        print(
            f"{name[-44:]:<44} {s['count']:>4} {s['mean']:>8.3f} {s['median']:>9.3f} {s['max']:>7.3f} "
            f"{s['fluorinated_mean']:>8.3f} ({s['fluorinated_count']:>2}) {s['electrons_max_percent']:>11.3f}"
        )
    if len(results) > 1:
        first, *others = list(results)
        for other in others:
            print(f"{other}: mean ε_mae {results[other]['mean'] / results[first]['mean']:.3f}x that of {first}")


if __name__ == "__main__":
    main()
