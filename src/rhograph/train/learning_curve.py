"""Learning curves (paper Figure 4): test error against training-set size on log-log axes.

For each size N the same configuration is trained on the nested training subset of size N (same seed → the
subset of size N is contained in that of size M > N; validation and test sets are identical for all sizes),
then ``best.pt`` is evaluated on the full grids of the test structures. Each size has its own run directory
``OUT/n<N>`` and evaluation ``OUT/n<N>/eval``; finished sizes are skipped when the command is repeated and
interrupted ones resume from ``last.pt``. Results go to ``OUT/learning_curve.csv`` and
``OUT/learning_curve.png``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

from rhograph.errors import ConfigError
from rhograph.io.atomic import atomic_open
from rhograph.train.config import TrainConfig

log = logging.getLogger(__name__)


def learning_curve(
    config: TrainConfig,
    sizes: list[int],
    out_dir: str | os.PathLike[str],
    *,
    eval_limit: int | None = None,
    label: str | None = None,
) -> list[dict]:
    """Train ``config`` on nested subsets of ``sizes`` and evaluate each on the test split.

    Args:
        config: the training configuration (``train_size`` is set per run).
        sizes: training-set sizes, e.g. ``[10, 30, 100]``.
        out_dir: output directory.
        eval_limit: evaluate at most this many test structures per size (default all).
        label: legend name of the curve (default the preset).

    Returns:
        one row per size: ``train_size``, ``test_nmae_mean``, ``test_nmae_median``, ``best_val_mae``, ``steps``.
    """
    from rhograph.analysis.plots import plot_learning_curve
    from rhograph.inference.evaluate import EvaluateOptions, evaluate_dataset
    from rhograph.train.loop import train

    if not sizes or any(n < 1 for n in sizes):
        raise ConfigError(f"sizes must be positive integers, got {sizes}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in sorted(set(sizes)):
        run_dir = out / f"n{n}"
        summary_path = run_dir / "eval" / "summary.json"
        if not summary_path.is_file():
            finished = (run_dir / "best.pt").is_file() and (run_dir / "done").is_file()
            if not finished:
                resume = (run_dir / "last.pt").is_file()
                log.info("learning curve: training on %d structures (%s)", n, "resuming" if resume else "new run")
                result = train(config.replace(train_size=n), run_dir, resume=resume)
                if result.stop_reason.startswith("signal"):
                    raise KeyboardInterrupt(f"training of size {n} stopped by {result.stop_reason}")
                with atomic_open(run_dir / "done", "w") as fh:
                    fh.write(f"{result.step}\n")
            evaluate_dataset(
                config.data,
                run_dir / "best.pt",
                run_dir / "eval",
                options=EvaluateOptions(split=str(run_dir / "split.json"), part="test", limit=eval_limit),
                device=config.device,
            )
        with open(summary_path, encoding="utf-8") as fh:
            summary = json.load(fh)
        steps = (run_dir / "done").read_text().strip() if (run_dir / "done").is_file() else ""
        rows.append(
            {
                "train_size": n,
                "test_nmae_mean": summary.get("mean"),
                "test_nmae_median": summary.get("median"),
                "test_count": summary.get("count"),
                "steps": steps,
            }
        )
    with atomic_open(out / "learning_curve.csv", "w") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    name = label or config.preset
    plot_learning_curve(
        out / "learning_curve.png", {name: ([r["train_size"] for r in rows], [r["test_nmae_mean"] for r in rows])}
    )
    return rows
