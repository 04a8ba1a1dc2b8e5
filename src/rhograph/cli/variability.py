"""``rhograph variability FILE FILE...``: ε_mad of K ≥ 2 densities of one structure (paper eq. 2).

ε_mad = ∫ (1/K) Σ_k |ρ_k − ρ_median| dV / ∫ |ρ_1| dV in percent, ρ_median the voxel-wise median; the first
file is ρ_1 (``--normalize median`` divides by ∫|ρ_median| dV instead). Also prints each density's own
deviation from the median. All files must hold the same grid (shape, cell, origin).
"""

from __future__ import annotations

import argparse
import json

from rhograph.errors import ConfigError


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("files", nargs="+", help="density files of the same structure on the same grid")
    p.add_argument("--normalize", choices=["first", "median"], default="first", help="denominator of eq. 2")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from rhograph.analysis.variability import variability
    from rhograph.io.formats import read_density

    if len(args.files) < 2:
        raise ConfigError(f"variability needs at least 2 density files, got {len(args.files)}")
    grids = [read_density(path) for path in args.files]
    result = variability(grids, normalize=args.normalize)
    if args.json:
        print(json.dumps(result.summary(), indent=2))
        return 0
    print(f"ε_mad = {result.emad:.4f} % over {len(grids)} densities (normalised by the {args.normalize} density)")
    for name, deviation, electrons in zip(result.names, result.member_deviation, result.electrons, strict=True):
        print(f"  {deviation:8.4f} %  {electrons:10.4f} e  {name}")
    return 0
