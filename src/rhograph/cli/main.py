"""Entry point of the ``rhograph`` command.

Each verb lives in its own module ``rhograph.cli.<verb>`` with ``add_parser(subparsers)`` and
``run(args) -> int``. The list below is explicit (no registration by import side effect). Verb modules
keep heavy imports (torch, pyscf) inside ``run`` so that building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from rhograph.errors import RhographError

#: verb -> (module, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "info": ("rhograph.cli.info", "print grid shape, cell, elements and electron count of density files"),
    "predict": ("rhograph.cli.predict", "predict the electron density of structures on a full grid"),
    "evaluate": ("rhograph.cli.evaluate", "per-structure ε_mae of a model on a data set (CSV, summary, histogram)"),
    "learning-curve": ("rhograph.cli.learning_curve", "train on nested subsets and plot test ε_mae vs training size"),
    "demo": ("rhograph.cli.demo", "predict a bundled molecule with the bundled model (cube + PNG slices)"),
    "train": ("rhograph.cli.train", "train a density model on CHGCAR / cube / compact labels (resumable)"),
    "models": ("rhograph.cli.models", "list the model architectures and presets with parameter counts"),
    "convert-deepdft": ("rhograph.cli.convert_deepdft", "import a released DeepDFT model folder (.pt checkpoint)"),
    "label": ("rhograph.cli.label", "DFT densities of structures with PySCF (cube / CHGCAR / compact), resumable"),
    "atom-densities": ("rhograph.cli.atom_densities", "free-atom density tables for the atomic baseline (PySCF)"),
    "data": ("rhograph.cli.data", "build a benchmark data set: `data qm9` labels a reproducible QM9 subset"),
    "bader": ("rhograph.cli.bader", "Bader analysis of a density file: per-atom volume, population, charge"),
    "variability": ("rhograph.cli.variability", "ε_mad of several densities of one structure (paper eq. 2)"),
    "charge-transfer": ("rhograph.cli.charge_transfer", "Bader Δq on removing an atom, DFT vs model (eq. 3)"),
}


def build_parser() -> argparse.ArgumentParser:
    from rhograph import __version__

    parser = argparse.ArgumentParser(prog="rhograph", description="Electron density prediction with DeepDFT.")
    parser.add_argument("--version", action="version", version=f"rhograph {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, (module_name, help_text) in VERBS.items():
        module = importlib.import_module(module_name)
        module.add_parser(sub, verb, help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if args.verb is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (RhographError, ValueError) as exc:
        # RhographError names the file and the problem; ValueError carries a config / argument / analysis
        # problem (bad option value, grids that differ) that the user can act on.
        print(f"rhograph {args.verb}: error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"rhograph {args.verb}: error: {exc.filename}: no such file", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
