"""``rhograph info FILE... [--json]``: grid shape, cell, origin, periodicity, elements, ∫ρ dV and min/max.

Reads cube, CHGCAR-like and .npz density files (optionally .gz/.zz/.lz4/.zst compressed). Files that cannot
be read are reported on stderr and make the exit status 1; the others are still printed.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="density files")
    p.add_argument("--json", action="store_true", help="print a JSON list with one object per file")
    p.set_defaults(func=run)
    return p


def _vector(v: list[float]) -> str:
    return "[" + ", ".join(f"{x:10.5f}" for x in v) + "]"


def format_summary(summary: dict) -> str:
    """Human-readable lines for one :meth:`DensityGrid.summary`."""
    from ase.formula import Formula

    n1, n2, n3 = summary["shape"]
    elements = Formula.from_list(summary["symbols"]).format("hill")
    lines = [
        f"{summary['file']}",
        f"  format      {summary['format']}",
        f"  grid        {n1} × {n2} × {n3} = {n1 * n2 * n3:,} points",
        f"  cell (Å)    {_vector(summary['cell'][0])}",
        f"              {_vector(summary['cell'][1])}",
        f"              {_vector(summary['cell'][2])}",
        f"  origin (Å)  {_vector(summary['origin'])}",
        f"  pbc         {' '.join('T' if p else 'F' for p in summary['pbc'])}",
        f"  elements    {elements} ({summary['natoms']} atoms)",
        f"  ∫ρ dV       {summary['electrons']:.6f} e",
        f"  ρ min/max   {summary['min']:.6g} / {summary['max']:.6g} e/Å³",
        f"  spin block  {'yes' if summary['spin'] else 'no'}",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from rhograph.errors import RhographError
    from rhograph.io.formats import density_format, read_density

    summaries = []
    failed = 0
    for name in args.files:
        try:
            grid = read_density(name)
            summary = grid.summary()
            summary["format"] = density_format(name)
        except RhographError as exc:
            print(f"rhograph info: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        summaries.append(summary)
        if not args.json:
            print(format_summary(summary))
    if args.json:
        print(json.dumps(summaries, indent=2))
    return 1 if failed else 0
