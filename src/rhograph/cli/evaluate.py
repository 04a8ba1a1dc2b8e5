"""``rhograph evaluate DATA --model M -o OUT_DIR``: per-structure ε_mae, MAE, RMSE of a model on a data set.

Writes OUT_DIR/errors.csv (one row per structure: name, nmae in percent, mae, rmse, electrons, seconds),
summary.json and error_histogram.png; ``--error-cubes K`` also writes prediction/target/difference cubes of
the K worst structures. Re-running continues where a killed run stopped. With an ensemble (a run folder of
``rhograph train --ensemble K`` or several ``--model``) each row also has ``nmae_expected``, the ε_mae the
ensemble expects from its member spread, and the summary their correlation.
"""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("data", help="directory, .tar or .txt list of tars of CHGCAR/cube files")
    p.add_argument(
        "--model",
        action="append",
        default=None,
        help="rhograph checkpoint, DeepDFT folder or bundled name; an ensemble run folder or a repeated --model "
        "evaluates the ensemble mean and adds the expected ε_mae (nmae_expected) to errors.csv",
    )
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--split", help="split JSON with train/validation/test index lists")
    p.add_argument("--part", choices=["train", "validation", "test"], default="test", help="split part (default test)")
    p.add_argument("--limit", type=int, help="evaluate at most this many structures")
    p.add_argument("--error-cubes", type=int, default=0, help="write cubes of the K worst structures")
    p.add_argument(
        "--decompose",
        action="store_true",
        help="per-element ε_mae over the Bader volumes of the reference (paper Table 2); of the all-electron "
        "density where DATA/all-electron/<name>_AECCAR* exists (GPAW labels with --all-electron)",
    )
    p.add_argument("--no-resume", action="store_true", help="start over instead of keeping rows of errors.csv")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--chunk-size", type=int, default=None, help="probes per decoder call (default: from memory)")
    p.add_argument(
        "--allow-unseen-elements", action="store_true", help="warn instead of failing on elements the model never saw"
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from rhograph.inference.evaluate import EvaluateOptions, evaluate_dataset
    from rhograph.inference.predict import PredictOptions

    summary = evaluate_dataset(
        args.data,
        args.model,
        args.output,
        options=EvaluateOptions(
            split=args.split,
            part=args.part,
            limit=args.limit,
            error_cubes=args.error_cubes,
            resume=not args.no_resume,
            decompose=args.decompose,
        ),
        device=args.device,
        predict_options=PredictOptions(
            chunk_size=args.chunk_size, unseen_elements="warn" if args.allow_unseen_elements else "error"
        ),
    )
    print(json.dumps(summary, indent=2))
    return 0
