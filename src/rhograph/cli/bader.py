"""``rhograph bader FILE``: Bader analysis of a density file — per-atom volume, population and charge.

Prints one row per atom (index, symbol, position in Å, Bader volume in Å³, electron population, charge
q = valence − population) and the vacuum charge; ``--json`` prints the same as JSON and ``-o OUT.csv``
writes the table as CSV.

The valence is the electrons each atom brings to *this* density, per element the first of: ``--valence``;
the card of ``--model`` (the model that predicted the file); the POTCAR / OUTCAR beside a CHGCAR (ZVAL); Z if
∫ρ dV matches Σ Z (all-electron); the outer-shell counts (H 1, C 4, O 6, Fe 8, …) if ∫ρ dV matches those
(valence / pseudopotential densities). Otherwise charges are left out (n/a) with a warning; populations
never depend on it.

``--ref`` partitions by another density (Henkelman's ``-ref``): the basins of the reference (the sum of
the files given, e.g. AECCAR0 + AECCAR2 of VASP, whose maxima sit on the nuclei) are used to integrate FILE.

Examples:
  rhograph bader CHGCAR --ref AECCAR0 AECCAR2
  rhograph bader pred.cube --model qm9-painn-delta --json
  rhograph bader CHGCAR --valence Li=3 Co=9 O=6
"""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("file", help="density file (CHGCAR, cube, .npz; compressed by suffix)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("-o", "--output", help="write the per-atom table to this CSV file")
    p.add_argument(
        "--ref",
        nargs="+",
        action="extend",
        metavar="FILE",
        help="reference density for the partition: the sum of these files, e.g. AECCAR0 AECCAR2 (default: FILE)",
    )
    p.add_argument(
        "--model",
        metavar="M",
        help="the model that predicted FILE (bundled name or checkpoint): valence counts from its card",
    )
    add_bader_options(p)
    p.set_defaults(func=run)
    return p


def add_bader_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the verbs that run a Bader analysis."""
    p.add_argument(
        "--vacuum", type=parse_vacuum, default="1e-3", help="vacuum threshold in e/Å³, or 'off' (default 1e-3)"
    )
    p.add_argument(
        "--valence",
        nargs="+",
        type=parse_valence_item,
        default=[],
        metavar="EL=N",
        help="valence electrons per element, e.g. O=6 H=1 (default: found from the model card, a POTCAR or ∫ρ dV)",
    )
    p.add_argument("--method", choices=["near-grid", "on-grid"], default="near-grid", help="Bader algorithm")
    p.add_argument(
        "--pbc",
        choices=["auto", "on", "off", "yes", "no"],  # yes/no: the spelling before one vocabulary
        default="auto",
        help="periodicity of the grid: auto (as the file format says), on, off",
    )


def parse_vacuum(text: str) -> float | None:
    """``--vacuum`` value: a threshold in e/Å³ or ``off``."""
    if text.lower() in ("off", "none"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (e/Å³) or 'off', got {text!r}") from None


def parse_valence_item(text: str) -> tuple[str, float]:
    """``--valence`` item ``EL=N``."""
    from ase.data import atomic_numbers

    element, sep, value = text.partition("=")
    try:
        if not sep or element.strip() not in atomic_numbers:
            raise ValueError
        return element.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must look like O=6 (element symbol=electrons), got {text!r}") from None


def valence_per_atom(items: list[tuple[str, float]], symbols: list[str]) -> np.ndarray | None:
    """Per-atom valence from ``--valence`` items (Z for elements not given); ``None`` when none are given.

    For charge transfer, where the valence cancels; ``rhograph bader`` finds missing counts instead."""
    from ase.data import atomic_numbers

    if not items:
        return None
    table = dict(items)
    return np.array([table.get(s, float(atomic_numbers[s])) for s in symbols])


def _charge(value: float | None) -> str:
    return f"{'n/a':>8s}" if value is None else f"{value:+8.4f}"


def pbc_option(text: str) -> bool | None:
    return None if text == "auto" else text in ("on", "yes")


def run(args: argparse.Namespace) -> int:
    from rhograph.analysis.bader import bader, sum_densities
    from rhograph.io.atomic import atomic_open
    from rhograph.io.formats import read_density

    pbc = pbc_option(args.pbc)
    grid = read_density(args.file, pbc=pbc)
    reference = sum_densities([read_density(path, pbc=pbc) for path in args.ref]) if args.ref else None
    card = None
    if args.model:
        from rhograph.inference.model_source import resolve_model

        card = {"name": args.model, **resolve_model(args.model).card}
    result = bader(
        grid,
        vacuum_threshold=args.vacuum,
        valence=dict(args.valence) or None,
        method=args.method,
        partition=reference,
        card=card,
    )
    rows = result.table()
    if args.output:
        with atomic_open(args.output, "w") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["index"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    summary = {
        "file": str(args.file),
        "method": result.method,
        "vacuum_threshold": result.vacuum_threshold,
        "reference": list(args.ref) if args.ref else None,
        "valence_source": result.valence_source,
        "atoms": rows,
        "maxima": len(result.maxima_atoms),
        "vacuum_population": result.vacuum_population,
        "vacuum_volume": result.vacuum_volume,
        "total_population": result.total_population,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    partitioned = f", partitioned by {reference.source}" if reference is not None else ""
    print(f"{args.file}: {len(rows)} atoms, {summary['maxima']} density maxima ({result.method}{partitioned})")
    print(f"valence: {result.valence_source}")
    print(f"{'#':>4s} {'el':>3s} {'x':>9s} {'y':>9s} {'z':>9s} {'volume':>9s} {'population':>11s} {'charge':>8s}")
    for r in rows:
        print(
            f"{r['index']:4d} {r['symbol']:>3s} {r['x']:9.4f} {r['y']:9.4f} {r['z']:9.4f} {r['volume']:9.3f} "
            f"{r['population']:11.4f} {_charge(r['charge'])}"
        )
    print(f"vacuum: {result.vacuum_population:.4f} e in {result.vacuum_volume:.3f} Å³")
    print(f"total: {result.total_population:.4f} e")
    if args.output:
        print(f"wrote {args.output}")
    return 0
