"""``rhograph compare PRED REF``: errors of a predicted density against a reference on the same grid.

Prints ε_mae (paper eq. 1, 100·∫|ρ − ρ̂| dV / ∫|ρ| dV in percent, ρ = REF), MAE and RMSE over the grid points,
the largest absolute error and where it is, and ∫ρ dV of both files. Both files must hold the same grid
(shape, cell, origin) and the same structure; any density format rhograph reads is accepted (cube, CHGCAR,
npz, compressed by suffix).

Example:
  rhograph predict POSCAR --like CHGCAR -o pred_CHGCAR
  rhograph compare pred_CHGCAR CHGCAR --json
"""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("prediction", metavar="PRED", help="predicted density file")
    p.add_argument("reference", metavar="REF", help="reference density file (e.g. DFT) on the same grid")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table (default: table)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from rhograph.analysis.compare import compare_densities
    from rhograph.io.formats import read_density

    result = compare_densities(read_density(args.prediction), read_density(args.reference))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    x, y, z = result.max_error_position
    n1, n2, n3 = result.shape
    print(f"{result.prediction} vs {result.reference}: {n1}×{n2}×{n3} grid ({result.num_points:,} points)")
    print(f"  ε_mae          {result.nmae:.4f} %  (100·∫|ρ−ρ̂| dV / ∫|ρ| dV, ρ = reference)")
    print(f"  MAE            {result.mae:.4e} e/Å³")
    print(f"  RMSE           {result.rmse:.4e} e/Å³")
    print(f"  max |ρ−ρ̂|      {result.max_abs_error:.4e} e/Å³ at ({x:.3f}, {y:.3f}, {z:.3f}) Å")
    print(f"  ∫ρ̂ dV (PRED)   {result.electrons_prediction:.4f} e")
    print(f"  ∫ρ dV (REF)    {result.electrons_reference:.4f} e  (difference {result.electrons_difference:+.4f} e)")
    return 0
