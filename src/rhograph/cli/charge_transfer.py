"""``rhograph charge-transfer``: Bader charge changes on removing one atom, DFT versus model (paper eq. 3).

Reads the DFT densities of a structure (``--full``) and of the same structure with one atom removed
(``--removed``), and the model's predictions of both: files on the same grids (``--full-pred``,
``--removed-pred``), or ``--model M`` to predict them here on the reference grids.
The removed atom is found by matching positions. Writes OUT_DIR/charge_transfer.csv (one row per remaining
atom: distance from the removed atom, Δq from DFT and model, |error|), charge_transfer.json (ε_total =
Σ|Δq − Δq̂| and its part within ``--near-radius``) and charge_transfer.png (Figure 7).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from rhograph.cli.bader import add_bader_options, pbc_option, valence_per_atom
from rhograph.errors import ConfigError


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--full", required=True, help="DFT density of the full structure")
    p.add_argument("--removed", required=True, help="DFT density of the structure with one atom removed")
    p.add_argument("--full-pred", help="predicted density of the full structure")
    p.add_argument("--removed-pred", help="predicted density of the reduced structure")
    p.add_argument("--model", help="predict both densities with this model instead of reading --*-pred files")
    p.add_argument("--device", default="auto", help="device for --model (auto, cpu, cuda)")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--near-radius", type=float, default=4.0, help="radius (Å) of the near atoms (default 4)")
    p.add_argument("--tolerance", type=float, default=1.0, help="largest displacement (Å) of a matched atom")
    p.add_argument(
        "--partition",
        choices=["own", "reference"],
        default="own",
        help="Bader volumes of the predictions: their own (default) or those of the DFT densities",
    )
    p.add_argument(
        "--full-ae",
        nargs="+",
        metavar="FILE",
        help="all-electron density of the full structure whose Bader volumes are used for every density of it "
        "(the sum of the files: GPAW's all-electron/<name>_AECCAR, or VASP's AECCAR0 AECCAR2)",
    )
    p.add_argument("--removed-ae", nargs="+", metavar="FILE", help="the same for the reduced structure")
    add_bader_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from rhograph.analysis.bader import sum_densities
    from rhograph.analysis.charge_transfer import charge_transfer
    from rhograph.analysis.plots import plot_charge_transfer
    from rhograph.io.atomic import atomic_open
    from rhograph.io.formats import read_density

    pbc = pbc_option(args.pbc)
    full, removed = read_density(args.full, pbc=pbc), read_density(args.removed, pbc=pbc)
    if bool(args.full_ae) != bool(args.removed_ae):
        raise ConfigError("give both --full-ae and --removed-ae (the all-electron densities of both structures)")
    all_electron = None
    if args.full_ae:
        all_electron = tuple(
            sum_densities([read_density(path, pbc=pbc) for path in paths]) for paths in (args.full_ae, args.removed_ae)
        )
    if args.model:
        from rhograph.inference.model_source import resolve_model
        from rhograph.inference.predict import device_of, predict

        device = device_of(args.device)
        loaded = resolve_model(args.model, device=device)
        full_pred, removed_pred = (
            predict(ref.atoms, loaded, like=ref, device=device, source=path)
            for ref, path in ((full, args.full), (removed, args.removed))
        )
    elif args.full_pred and args.removed_pred:
        full_pred, removed_pred = read_density(args.full_pred, pbc=pbc), read_density(args.removed_pred, pbc=pbc)
    else:
        raise ConfigError("give either --model or both --full-pred and --removed-pred")
    result = charge_transfer(
        full,
        removed,
        full_pred,
        removed_pred,
        near_radius=args.near_radius,
        tolerance=args.tolerance,
        partition=args.partition,
        all_electron=all_electron,
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
        "model": args.model,
        "full_ae": args.full_ae,
        "removed_ae": args.removed_ae,
    }
    with atomic_open(out / "charge_transfer.json", "w") as fh:
        json.dump(summary, fh, indent=2)
    plot_charge_transfer(out / "charge_transfer.png", result)
    print(json.dumps(summary, indent=2))
    return 0
