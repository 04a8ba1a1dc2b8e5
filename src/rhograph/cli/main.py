"""Entry point of the ``rhograph`` command.

Each verb lives in its own module ``rhograph.cli.<verb>`` with ``add_parser(subparsers)`` and
``run(args) -> int``. The list below is explicit (no registration by import side effect). Verb modules
keep heavy imports (torch, pyscf) inside ``run`` so that building the parser stays cheap. Every verb parser is a
:class:`~rhograph.cli.vocabulary.VerbParser` (one option vocabulary, defaults and an example in ``--help``).

Errors: a :class:`~rhograph.errors.RhographError` (bad input file, option, config, resource) or an ``OSError``
about a named file is printed as one line ``rhograph VERB: error: ...`` (exit status 1), with its traceback
under ``-v``; any other exception is a bug and propagates with its traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys
import traceback

from rhograph.cli.vocabulary import VerbParser, check_output_option
from rhograph.errors import RhographError

#: errno values of a write that failed for lack of room or rights: user errors even without a file name.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES}

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
    "compare": ("rhograph.cli.compare", "ε_mae, MAE, RMSE, max error and ∫ρ of a predicted vs a reference density"),
    "bader": ("rhograph.cli.bader", "Bader analysis of a density file: per-atom volume, population, charge"),
    "variability": ("rhograph.cli.variability", "ε_mad of several densities of one structure (paper eq. 2)"),
    "charge-transfer": ("rhograph.cli.charge_transfer", "Bader Δq on removing an atom, DFT vs model (eq. 3)"),
}


def build_parser() -> argparse.ArgumentParser:
    from rhograph import __version__

    parser = argparse.ArgumentParser(
        prog="rhograph",
        description="Electron density prediction with DeepDFT.",
        epilog="`rhograph VERB --help` shows a verb's options, their defaults and an example. -v/-q may also "
        "follow the verb. Errors in inputs or options print one line (a traceback with -v).",
    )
    parser.add_argument("--version", action="version", version=f"rhograph {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=VerbParser)
    for verb, (module_name, help_text) in VERBS.items():
        module = importlib.import_module(module_name)
        module.add_parser(sub, verb, help_text)
    return parser


def user_error_message(exc: BaseException) -> str | None:
    """One line for an error the user can act on, or ``None`` for a bug (shown with its traceback).

    User errors are :class:`~rhograph.errors.RhographError` (bad files, options, configs, resources) and
    operating-system errors about a named file (missing, permission denied, disk full, read-only file system).
    """
    if isinstance(exc, RhographError):
        return str(exc)
    if isinstance(exc, OSError) and (exc.filename is not None or exc.errno in _WRITE_ERRNOS):
        problem = exc.strerror.lower() if exc.strerror else str(exc)
        if isinstance(exc, FileNotFoundError):
            problem = "no such file"
        if exc.filename is None:
            return problem
        return f"{exc.filename}: {problem}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if args.verb is None:
        parser.print_help()
        return 2
    try:
        check_output_option(args)
        return int(args.func(args) or 0)
    except Exception as exc:
        message = user_error_message(exc)
        if message is None:
            raise  # a bug: Python prints the traceback (exit status 1)
        if args.verbose:
            traceback.print_exception(exc, file=sys.stderr)
        print(f"rhograph {args.verb}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
