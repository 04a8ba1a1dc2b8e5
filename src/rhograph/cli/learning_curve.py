"""``rhograph learning-curve DATA --sizes N… -o OUT``: train on nested subsets, plot test ε_mae vs size.

Each size trains with the same configuration and seed (so validation and test sets are shared and the
training subsets are nested), then its best checkpoint is evaluated on the test structures' full grids.
Writes OUT/learning_curve.csv and OUT/learning_curve.png (log-log, with the fitted power law); repeating the
command skips finished sizes and resumes an interrupted one.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("data", help="dataset: directory, .tar or .txt list of tars")
    p.add_argument("--sizes", type=int, nargs="+", required=True, help="training-set sizes")
    p.add_argument("-o", "--output", required=True, type=Path, help="output directory")
    p.add_argument("--preset", help="model preset (default rhograph-painn; `rhograph models` lists them)")
    p.add_argument("--config", type=Path, help="YAML file of training options")
    p.add_argument("--max-steps", type=int, help="gradient steps per size")
    p.add_argument("--split", type=Path, help="split JSON (its test part is used for every size)")
    p.add_argument("--eval-limit", type=int, help="evaluate at most this many test structures")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any training option, as for `rhograph train`",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from rhograph.cli.train import parse_overrides
    from rhograph.train.config import load_train_config
    from rhograph.train.learning_curve import learning_curve

    overrides = parse_overrides(args.overrides)
    overrides["data"] = str(args.data)
    for key, value in (
        ("preset", args.preset),
        ("max_steps", args.max_steps),
        ("split_file", str(args.split) if args.split else None),
    ):
        if value is not None:
            overrides[key] = value
    config = load_train_config(args.config, overrides)
    rows = learning_curve(config, args.sizes, args.output, eval_limit=args.eval_limit)
    print(f"{'train size':>10s} {'test ε_mae mean %':>18s} {'median %':>9s}")
    for row in rows:
        print(f"{row['train_size']:10d} {row['test_nmae_mean']:18.3f} {row['test_nmae_median']:9.3f}")
    print(f"wrote {args.output / 'learning_curve.csv'} and {args.output / 'learning_curve.png'}")
    return 0
