"""``rhograph models``: the registered architectures and presets, with parameter counts and bundled models.

Presets are what ``rhograph train --preset NAME`` and ``rhograph.build_model(NAME)`` take; the list is read
from the model registry (:mod:`rhograph.models.registry`), so a new architecture shows up here by itself.
"""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help=help_text, description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ase.data import chemical_symbols

    from rhograph.inference.model_source import DEFAULT_MODEL, available_models, bundled_elements
    from rhograph.models.presets import list_presets
    from rhograph.models.registry import ARCHITECTURES

    rows = list_presets()
    if args.json:
        covered = {name: sorted(z) if z is not None else None for name, z in bundled_elements().items()}
        print(json.dumps({"presets": rows, "bundled": available_models(), "bundled_elements": covered}, indent=1))
        return 0
    print("architectures:")
    for spec in ARCHITECTURES.values():
        print(f"  {spec.name:<10} {spec.summary}")
    print("presets:")
    print(f"  {'preset':<18} {'parameters':>11}  {'baseline':<8} {'ρ ≥ 0':<5}  config")
    for row in rows:
        print(
            f"  {row['preset']:<18} {row['parameters']:>11,}  {'yes' if row['baseline'] else 'no':<8} "
            f"{'yes' if row['nonnegative'] else 'no':<5}  {row['config']} — {row['summary']}"
        )
    print("bundled models (chosen by the structure's elements when predict gets no --model):")
    for name, elements in bundled_elements().items():
        symbols = " ".join(chemical_symbols[z] for z in sorted(elements)) if elements is not None else "not recorded"
        print(f"  {name:<18} {symbols}{'  (default)' if name == DEFAULT_MODEL else ''}")
    if not available_models():
        print("  none")
    return 0
