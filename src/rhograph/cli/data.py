"""``rhograph data qm9 --count N --seed S -o DIR``: a reproducible QM9-derived density benchmark.

Draws ``--count`` molecules from the QM9 geometries shipped with ``qm9pack`` (seeded, by QM9 index), writes
``DIR/structures/qm9_<index>.xyz``, labels them into ``DIR/densities/`` exactly like ``rhograph label``
(same options; resumable) and writes ``DIR/split.json`` (``train``/``validation``/``test`` index lists into
the dataset order of ``DIR/densities``, the format of the public QM9 density split) and
``DIR/qm9_subset.json`` (the chosen QM9 indices and their parts). The default 200 molecules take about
1.5–2 hours on 2 cores. Then: ``rhograph train DIR/densities --split DIR/split.json ...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    from rhograph.cli.label import add_label_options

    p = subparsers.add_parser(name, help=help_text, description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sets = p.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    q = sets.add_parser("qm9", help="a random QM9 subset labelled with PySCF", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    q.add_argument("--count", type=int, default=200, help="molecules (default 200)")
    q.add_argument("--seed", type=int, default=0, help="seed of the subset and the split (default 0)")
    q.add_argument("-o", "--out", required=True, help="output directory")
    q.add_argument(
        "--growing",
        action="store_true",
        help="the first COUNT molecules of the seed's growing order: a larger COUNT later extends the set "
        "without relabelling, every 10th new molecule is fluorinated, and each molecule's part is fixed by its "
        "QM9 index (see docs/labels.md)",
    )
    q.add_argument("--validation", type=int, default=None, help="validation molecules (default 10%%)")
    q.add_argument("--test", type=int, default=None, help="test molecules (default 10%%)")
    add_label_options(q)
    q.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from rhograph.cli.label import config_from_args, print_report, pyscf_missing

    if pyscf_missing("data"):
        return 1
    from rhograph.data.splits import Split, save_split
    from rhograph.labels import label_structures, output_files
    from rhograph.labels.qm9 import dataset_split, prepare_qm9

    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"rhograph data: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        structures, subset = prepare_qm9(
            out, args.count, args.seed, validation=args.validation, test=args.test, growing=args.growing
        )
    except ImportError as exc:
        print(f"rhograph data: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"rhograph data: error: {exc}", file=sys.stderr)
        return 2
    densities = out / "densities"
    report = label_structures(
        structures, densities, config, workers=args.workers, threads=args.threads, scheduler=args.scheduler
    )
    print_report(report, densities)
    # Dataset order = sorted file names of the labelled molecules (qm9_<zero-padded index>).
    labelled = sorted(
        (output_files(s.name, False, config)[0], s.atoms.info["qm9_index"])
        for s in structures
        if s.name not in report.failed
    )
    parts = dataset_split(subset["parts"], [index for _, index in labelled])
    split = Split(train=tuple(parts["train"]), validation=tuple(parts["validation"]), test=tuple(parts["test"]))
    save_split(split, out / "split.json")
    sizes = split.sizes()
    print(f"split: {sizes['train']} train / {sizes['validation']} validation / {sizes['test']} test "
          f"-> {out / 'split.json'}")  # fmt: skip
    return 0 if report.ok else 1
