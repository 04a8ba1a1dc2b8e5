"""``rhograph charge-transfer``: Bader charge changes on removing one atom, DFT versus model (paper eq. 3).

Reads the DFT densities of a structure (``--full``) and of the same structure with one atom removed
(``--removed``), and the model's predictions of both (``--full-pred``, ``--removed-pred``, on the same grids).
The removed atom is found by matching positions. Writes OUT_DIR/charge_transfer.csv (one row per remaining
atom: distance from the removed atom, Δq from DFT and model, |error|), charge_transfer.json (ε_total =
Σ|Δq − Δq̂| and its part within ``--near-radius``) and charge_transfer.png (Figure 7).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from rhograph.cli.bader import add_bader_options, pbc_option, valence_per_atom


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--full", required=True, help="DFT density of the full structure")
    p.add_argument("--removed", required=True, help="DFT density of the structure with one atom removed")
    p.add_argument("--full-pred", required=True, help="predicted density of the full structure")
    p.add_argument("--removed-pred", required=True, help="predicted density of the reduced structure")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--near-radius", type=float, default=4.0, help="radius (Å) of the near atoms (default 4)")
    p.add_argument("--tolerance", type=float, default=1.0, help="largest displacement (Å) of a matched atom")
    p.add_argument(
        "--partition",
        choices=["own", "reference"],
        default="own",
        help="Bader volumes of the predictions: their own (default) or those of the DFT densities",
    )
    add_bader_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the verb; a ``ValueError`` of the analysis (e.g. files on different grids) becomes exit status 1."""
    from rhograph.errors import RhographError

    try:
        return _run(args)
    except RhographError:
        raise  # reported by rhograph.cli.main
    except ValueError as exc:
        print(f"rhograph charge-transfer: error: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from rhograph.analysis.charge_transfer import charge_transfer
    from rhograph.analysis.plots import plot_charge_transfer
    from rhograph.io.atomic import atomic_open
    from rhograph.io.formats import read_density

    pbc = pbc_option(args.pbc)
    full, removed, full_pred, removed_pred = (
        read_density(path, pbc=pbc) for path in (args.full, args.removed, args.full_pred, args.removed_pred)
    )
    result = charge_transfer(
        full,
        removed,
        full_pred,
        removed_pred,
        near_radius=args.near_radius,
        tolerance=args.tolerance,
        partition=args.partition,
        name=Path(args.full).name,
        vacuum_threshold=args.vacuum,
        valence=valence_per_atom(args.valence, full.atoms.get_chemical_symbols()),
        method=args.method,
    )
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    rows = result.rows()
    with atomic_open(out / "charge_transfer.csv", "w") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["index"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    summary = result.summary()
    summary["files"] = {
        "full": args.full,
        "removed": args.removed,
        "full_pred": args.full_pred,
        "removed_pred": args.removed_pred,
    }
    with atomic_open(out / "charge_transfer.json", "w") as fh:
        json.dump(summary, fh, indent=2)
    plot_charge_transfer(out / "charge_transfer.png", result)
    print(json.dumps(summary, indent=2))
    return 0
