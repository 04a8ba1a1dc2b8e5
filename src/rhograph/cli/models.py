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
    from rhograph.inference.model_source import available_models
    from rhograph.models.presets import list_presets
    from rhograph.models.registry import ARCHITECTURES

    rows = list_presets()
    if args.json:
        print(json.dumps({"presets": rows, "bundled": available_models()}, indent=1))
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
    print("bundled models: " + (", ".join(available_models()) or "none"))
    return 0
