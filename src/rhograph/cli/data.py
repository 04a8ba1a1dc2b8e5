"""``rhograph data qm9 --count N --seed S -o DIR``: a reproducible QM9-derived density benchmark.

Draws ``--count`` molecules from the QM9 geometries shipped with ``qm9pack`` (seeded, by QM9 index), writes
``DIR/structures/qm9_<index>.xyz``, labels them into ``DIR/densities/`` exactly like ``rhograph label``
(same options; resumable) and writes ``DIR/split.json`` (``train``/``validation``/``test`` index lists into
the dataset order of ``DIR/densities``, the format of the public QM9 density split) and
``DIR/qm9_subset.json`` (the chosen QM9 indices and their parts). The default 200 molecules take about
1.5–2 hours on 2 cores. Then: ``rhograph train DIR/densities --split DIR/split.json ...``.

``rhograph data nmc --count N --seed S -o DIR``: an NMC-like materials set (layered Li(Ni,Co,Mn)O₂ cells of 8–24
atoms with Li vacancies, strain and rattling; :mod:`rhograph.labels.nmc`) labelled with GPAW
(``rhograph[gpaw]``): ``DIR/structures/nmc_<i>.extxyz``, ``DIR/nmc_set.json`` (recipes and parts),
``DIR/densities/nmc_<i>_CHGCAR.zst`` and ``DIR/split.json``. Structure ``i`` and its part depend on the seed
and ``i`` only, so a larger ``--count`` extends a set; re-running skips finished cells.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    from rhograph.cli.label import add_label_options

    p = subparsers.add_parser(name, help=help_text, description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sets = p.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    q = sets.add_parser("qm9", help="a random QM9 subset labelled with PySCF", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    q.add_argument("--count", type=int, default=200, help="molecules (default 200)")
    q.add_argument("--seed", type=int, default=0, help="seed of the subset and the split (default 0)")
    q.add_argument("-o", "--out", required=True, help="output directory")
    q.add_argument(
        "--growing",
        action="store_true",
        help="the first COUNT molecules of the seed's growing order: a larger COUNT later extends the set "
        "without relabelling, every 10th new molecule is fluorinated, and each molecule's part is fixed by its "
        "QM9 index (see docs/labels.md)",
    )
    q.add_argument("--validation", type=int, default=None, help="validation molecules (default 10%%)")
    q.add_argument("--test", type=int, default=None, help="test molecules (default 10%%)")
    q.add_argument(
        "--verify",
        action="store_true",
        help="only check the labelled set of OUT against the SHA-256 checksums in its manifest (exit 1 on any "
        "missing or changed file); labels nothing",
    )
    add_label_options(q)
    q.set_defaults(func=run)
    add_nmc_parser(sets)
    return p


#: label settings of `data nmc` unless given: ~0.5–5 CPU minutes per cell (docs/labels.md); some mixed-metal cells
#: with vacancies need many SCF iterations while their moments settle, hence the higher iteration limit
NMC_DEFAULTS = {"code": "gpaw", "compress": "zst", "spacing": 0.2, "kpt_density": 0.8, "ecut": 400.0, "max_cycle": 200}


def add_nmc_parser(sets) -> None:
    from rhograph.cli.label import add_label_options

    n = sets.add_parser(
        "nmc",
        help="layered Li(Ni,Co,Mn)O2 cells labelled with GPAW",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    n.add_argument("--count", type=int, default=20, help="cells (default 20)")
    n.add_argument("--seed", type=int, default=0, help="seed of the cells and the split (default 0)")
    n.add_argument("-o", "--out", required=True, help="output directory")
    n.add_argument(
        "--li-removed",
        type=int,
        metavar="K",
        help="instead of the set, label the first K test cells with two or more Li, each as it is and with one Li "
        "removed, into OUT/li-removed/ (the pairs of `rhograph charge-transfer`, the paper's Figure 7)",
    )
    add_label_options(n)
    n.set_defaults(func=run_nmc, **NMC_DEFAULTS)
    options = {"spacing": "grid-step"}  # option names whose destination differs
    n.epilog = "defaults here: " + ", ".join(
        f"--{options.get(k, k.replace('_', '-'))} {v}" for k, v in NMC_DEFAULTS.items()
    )


def run_nmc(args: argparse.Namespace) -> int:
    from rhograph.cli.label import code_missing, config_from_args

    if args.code != "gpaw":
        print("rhograph data nmc: error: the NMC set is labelled with GPAW (--code gpaw)", file=sys.stderr)
        return 2
    if code_missing("data", "gpaw"):
        return 1
    from rhograph.labels.nmc import prepare_li_removed, prepare_nmc

    try:
        config = config_from_args(args)
        if args.li_removed is not None:
            pairs = prepare_li_removed(args.out, args.count, args.li_removed, args.seed)
            return label_li_removed(args, Path(args.out), pairs, config)
        structures, subset = prepare_nmc(args.out, args.count, args.seed)
    except ValueError as exc:
        print(f"rhograph data: error: {exc}", file=sys.stderr)
        return 2
    return label_and_split(args, Path(args.out), structures, subset, config, periodic=True, index_key="nmc_index")


def label_li_removed(args: argparse.Namespace, out: Path, pairs, config) -> int:
    """``data nmc --li-removed K``: label each pair (the full cell and the cell with one Li removed) into
    ``OUT/li-removed/densities`` and print the ``rhograph charge-transfer`` command of each labelled pair."""
    from rhograph.cli.label import print_report
    from rhograph.labels import label_structures, output_files
    from rhograph.labels.gpaw_dft import all_electron_file
    from rhograph.labels.nmc import LI_REMOVED_DIR

    densities = out / LI_REMOVED_DIR / "densities"
    structures = [structure for pair in pairs for structure in pair]
    report = label_structures(
        structures, densities, config, workers=args.workers, threads=args.threads, scheduler=args.scheduler
    )
    print_report(report, densities)
    for full, reduced in pairs:
        if full.name in report.failed or reduced.name in report.failed:
            continue
        files = [output_files(s.name, True, config)[0] for s in (full, reduced)]
        extra = (
            f" --full-ae {densities / all_electron_file(full.name, config)}"
            f" --removed-ae {densities / all_electron_file(reduced.name, config)}"
            if config.all_electron_grid
            else ""
        )
        print(
            f"pair: rhograph charge-transfer --full {densities / files[0]} --removed {densities / files[1]}"
            f"{extra} --model MODEL -o OUT_DIR"
        )
    return 0 if report.ok else 1


def run(args: argparse.Namespace) -> int:
    from rhograph.cli.label import config_from_args, pyscf_missing

    if pyscf_missing("data"):
        return 1
    from rhograph.labels.qm9 import prepare_qm9

    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"rhograph data: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if args.verify:
        return verify(out / "densities", config)
    try:
        structures, subset = prepare_qm9(
            out, args.count, args.seed, validation=args.validation, test=args.test, growing=args.growing
        )
    except ImportError as exc:
        print(f"rhograph data: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"rhograph data: error: {exc}", file=sys.stderr)
        return 2
    return label_and_split(args, out, structures, subset, config, periodic=False, index_key="qm9_index")


def label_and_split(args, out: Path, structures, subset, config, *, periodic: bool, index_key: str) -> int:
    """Label ``structures`` into ``out/densities`` and write ``out/split.json`` of the labelled ones (parts by
    structure, from ``subset["parts"]``); exit status 1 if any failed."""
    from rhograph.cli.label import print_report
    from rhograph.data.splits import Split, save_split
    from rhograph.labels import label_structures, output_files
    from rhograph.labels.qm9 import dataset_split

    densities = out / "densities"
    report = label_structures(
        structures, densities, config, workers=args.workers, threads=args.threads, scheduler=args.scheduler
    )
    print_report(report, densities)
    # Dataset order = sorted file names of the labelled structures (<set>_<zero-padded index>).
    labelled = sorted(
        (output_files(s.name, periodic, config)[0], s.atoms.info[index_key])
        for s in structures
        if s.name not in report.failed
    )
    parts = dataset_split(subset["parts"], [index for _, index in labelled])
    split = Split(train=tuple(parts["train"]), validation=tuple(parts["validation"]), test=tuple(parts["test"]))
    save_split(split, out / "split.json")
    sizes = split.sizes()
    print(f"split: {sizes['train']} train / {sizes['validation']} validation / {sizes['test']} test "
          f"-> {out / 'split.json'}")  # fmt: skip
    return 0 if report.ok else 1


def verify(densities: Path, config) -> int:
    """``--verify``: report every finished label whose files are missing or differ from their checksum."""
    from rhograph.errors import DensityFileError
    from rhograph.labels.manifest import MANIFEST_NAME, Manifest

    if not (densities / MANIFEST_NAME).exists():
        print(f"rhograph data: error: {densities / MANIFEST_NAME}: no label manifest to verify", file=sys.stderr)
        return 2
    try:
        manifest = Manifest.open(densities, config.density_settings())
    except DensityFileError as exc:
        print(f"rhograph data: error: {exc}", file=sys.stderr)
        return 2
    done = sum(1 for e in manifest.structures.values() if isinstance(e, dict) and e.get("status") == "done")
    problems = manifest.verify()
    for name, problem in problems.items():
        print(f"{name}: {problem}")
    print(f"{done - len(problems)} of {done} labels match their checksums in {densities / MANIFEST_NAME}")
    return 1 if problems else 0
