"""``rhograph atom-densities -o TABLES.npz --elements H C N O F [DFT options]``: free-atom density tables.

Spherically averaged densities of free atoms computed with PySCF and the same DFT options as
``rhograph label`` (one calculation per element and spin state; the lowest-energy spin is kept), saved as
radial tables for the atomic baseline of a model: ``rhograph train ... --set baseline=TABLES.npz``. Training
on data labelled by rhograph makes these itself (``baseline: auto``). Needs ``rhograph[dft]``.
"""

from __future__ import annotations

import argparse
import sys

from rhograph.errors import ConfigError, RhographError


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    from rhograph.cli.label import add_label_options

    p = subparsers.add_parser(name, help=help_text, description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("-o", "--out", required=True, help="output tables (.npz)")
    p.add_argument("--elements", nargs="+", required=True, help="element symbols or atomic numbers")
    p.add_argument("--cutoff", type=float, default=4.0, help="largest radius in Å (the model cutoff, default 4)")
    p.add_argument("--points", type=int, default=801, help="radial points (default 801)")
    add_label_options(p)
    p.set_defaults(func=run)
    return p


def _atomic_number(text: str) -> int:
    from ase.data import atomic_numbers

    if text.isdigit():
        return int(text)
    if text not in atomic_numbers:
        raise ConfigError(f"unknown element {text!r}")
    return atomic_numbers[text]


def run(args: argparse.Namespace) -> int:
    from rhograph.cli.label import config_from_args, pyscf_missing

    if pyscf_missing("atom-densities"):
        return 1
    from rhograph.labels.atoms import free_atom_tables

    if not args.out.endswith(".npz"):
        print(f"rhograph atom-densities: error: {args.out}: the tables file must end in .npz", file=sys.stderr)
        return 2
    try:
        elements = [_atomic_number(e) for e in args.elements]
        config = config_from_args(args)
    except RhographError as exc:
        print(f"rhograph atom-densities: error: {exc}", file=sys.stderr)
        return 2
    tables = free_atom_tables(elements, config, cutoff=args.cutoff, points=args.points)
    tables.save(args.out)
    electrons = tables.electrons()
    for z, info in tables.settings["atoms"].items():
        print(f"Z={z}: 2S={info['spin']}, E={info['energy_hartree']:.6f} Ha, "
              f"∫ρ to {args.cutoff} Å = {electrons[int(z)]:.4f} of {info['electrons']} electrons")  # fmt: skip
    print(f"-> {args.out}")
    return 0
