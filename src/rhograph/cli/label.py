"""``rhograph label STRUCTURE… -o OUT_DIR``: Kohn–Sham DFT densities with PySCF or GPAW, as training data.

Each structure (any file ASE reads; multi-frame files give one structure per frame) gets a PBE calculation
and its density written as ``OUT_DIR/<name>.cube`` (molecules, in a box with --vacuum Å around them) or
``OUT_DIR/<name>_CHGCAR`` (periodic cells), the layouts ``rhograph train`` reads. ``--compact`` also writes
``<name>.dm.npz`` (basis + density matrix, ~100× smaller, evaluable anywhere). ``OUT_DIR/manifest.json``
records settings, energies, electron counts and timings. Re-running skips finished structures; failed
ones (SCF not converged, electron count off) are retried. Exit status 1 if any structure failed.

The default is the valence density (GTH pseudopotentials), smooth at the nuclei like the VASP PAW
pseudo-densities the DeepDFT models were trained on; see docs/labels.md. Needs ``rhograph[dft]``.

``--code gpaw`` labels periodic cells with GPAW instead (PAW, plane waves, like the paper's VASP data):
``--ecut`` eV, ``--kpts`` or ``--kpt-density``, Gaussian ``--smearing`` (default 0.1 eV), spin polarisation
for Mn/Fe/Co/Ni, the pseudo (valence) density as ``<name>_CHGCAR`` and with ``--all-electron`` the all-electron
density ``all-electron/<name>_AECCAR`` for Bader analysis. Needs ``rhograph[gpaw]`` (GPL-3, optional).
"""

from __future__ import annotations

import argparse
import sys

from rhograph.cli.vocabulary import add_deprecated_alias

_COMPRESSION = {"none": None, "gz": ".gz", "zz": ".zz", "lz4": ".lz4", "zst": ".zst"}
#: smearing (eV) of GPAW labels unless --smearing says otherwise: the paper's VASP SIGMA
DEFAULT_GPAW_SMEARING = 0.1


def add_label_options(p: argparse.ArgumentParser) -> None:
    """The DFT and output options shared by ``label`` and ``data``."""
    g = p.add_argument_group("DFT")
    g.add_argument(
        "--code",
        choices=["pyscf", "gpaw"],
        default="pyscf",
        help="DFT code: pyscf (Gaussian basis, default) or gpaw (PAW plane waves, periodic cells; rhograph[gpaw])",
    )
    g.add_argument(
        "--density",
        choices=["valence", "all-electron"],
        default="valence",
        help="valence (GTH pseudopotential, default) or all-electron density",
    )
    g.add_argument("--xc", default="PBE", help="exchange-correlation functional (default PBE)")
    g.add_argument("--basis", default=None, help="basis set (default gth-dzvp; def2-svp for all-electron)")
    g.add_argument("--pseudo", default=None, help="pseudopotential for valence densities (default gth-pbe)")
    g.add_argument(
        "--kpts",
        type=int,
        nargs=3,
        default=(1, 1, 1),
        metavar=("K1", "K2", "K3"),
        help="k-point mesh of periodic cells (default 1 1 1 = Γ)",
    )
    g.add_argument("--ke-cutoff", type=float, default=None, help="plane-wave cutoff (Hartree) of periodic cells")
    g.add_argument("--charge", type=int, default=0, help="total charge (default 0)")
    g.add_argument("--spin", type=int, default=None, help="2S, unpaired electrons (default: 0 or 1 by parity)")
    g.add_argument(
        "--smearing", type=float, default=None, help="Gaussian smearing in eV (default 0; 0.1 with --code gpaw)"
    )
    g.add_argument("--ecut", type=float, default=None, help="GPAW plane-wave cutoff in eV (default 400)")
    g.add_argument(
        "--kpt-density",
        type=float,
        default=None,
        help="GPAW: k-points per Å⁻¹ along each reciprocal vector (a mesh per cell; overrides --kpts; 0 = use --kpts)",
    )
    g.add_argument("--max-cycle", type=int, default=100, help="SCF iteration limit (default 100)")
    g.add_argument("--conv-tol", type=float, default=1e-8, help="SCF energy tolerance in Hartree (default 1e-8)")
    g.add_argument(
        "--xc-grid-level",
        type=int,
        default=1,
        help="PySCF XC integration grid level 0-9 of molecules (default 1: within 0.002%% ε_mae of level 3)",
    )
    o = p.add_argument_group("output")
    step = o.add_argument(
        "--grid-step", dest="spacing", metavar="GRID_STEP", type=float, default=0.15, help="grid spacing in Å"
    )
    add_deprecated_alias(o, "--spacing", step)
    o.add_argument("--vacuum", type=float, default=4.0, help="Å of vacuum around molecules (default 4)")
    o.add_argument("--compact", action="store_true", help="also write <name>.dm.npz (basis + density matrix)")
    o.add_argument("--no-grid", action="store_true", help="write only the compact labels (needs --compact)")
    o.add_argument(
        "--all-electron",
        action="store_true",
        help="GPAW: also write the all-electron density all-electron/<name>_AECCAR (core + valence, for Bader)",
    )
    o.add_argument(
        "--ae-refinement",
        type=int,
        default=1,
        help="GPAW: the all-electron grid is this many times finer per axis (default 1 = the label grid, usable as "
        "`rhograph bader CHGCAR --ref AECCAR`)",
    )
    o.add_argument(
        "--compress",
        choices=sorted(_COMPRESSION),
        default="none",
        help="compress the grid files (default none)",
    )
    o.add_argument(
        "--electron-tolerance",
        type=float,
        default=None,
        help="allowed relative error of ∫ρ dV (default 1e-3; all-electron adds a cusp allowance)",
    )
    r = p.add_argument_group("resources")
    r.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    r.add_argument("--threads", type=int, default=None, help="threads per process (default: cores / workers)")
    r.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the calculations on Dask: 'local' (a local cluster of --workers processes) or a scheduler "
        "address such as tcp://host:8786 (e.g. a dask-jobqueue SLURMCluster; the output folder must be on a file "
        "system the workers share). Needs rhograph[dist]. Default: a local process pool",
    )


def config_from_args(args: argparse.Namespace):  # -> LabelConfig
    from rhograph.labels import LabelConfig

    smearing = args.smearing
    if smearing is None:
        smearing = DEFAULT_GPAW_SMEARING if args.code == "gpaw" else 0.0
    return LabelConfig(
        code=args.code,
        ecut=args.ecut,
        kpt_density=args.kpt_density or None,
        all_electron_grid=args.all_electron,
        ae_refinement=args.ae_refinement,
        density=args.density,
        xc=args.xc,
        basis=args.basis,
        pseudo=args.pseudo,
        spacing=args.spacing,
        vacuum=args.vacuum,
        kpts=tuple(args.kpts),
        ke_cutoff=args.ke_cutoff,
        charge=args.charge,
        spin=args.spin,
        smearing=smearing,
        max_cycle=args.max_cycle,
        conv_tol=args.conv_tol,
        xc_grid_level=args.xc_grid_level,
        write_grid=not args.no_grid,
        write_compact=args.compact,
        compression=_COMPRESSION[args.compress],
        electron_tolerance=args.electron_tolerance,
    )


def pyscf_missing(verb: str) -> bool:
    """Print the install hint and return ``True`` if PySCF cannot be imported."""
    try:
        import pyscf  # noqa: F401
    except ImportError:
        print(f"rhograph {verb}: error: PySCF is not installed; install rhograph[dft] "
              "(pip install 'rhograph[dft]')", file=sys.stderr)  # fmt: skip
        return True
    return False


def code_missing(verb: str, code: str) -> bool:
    """Print the install hint and return ``True`` if the DFT code cannot be imported."""
    if code != "gpaw":
        return pyscf_missing(verb)
    from rhograph.labels.gpaw_dft import INSTALL_HINT

    try:
        import gpaw  # noqa: F401
    except ImportError:
        print(f"rhograph {verb}: error: {INSTALL_HINT}", file=sys.stderr)
        return True
    return False


def print_report(report, out_dir) -> None:
    print(f"{len(report.done)} labelled, {len(report.skipped)} already done, {len(report.failed)} failed "
          f"-> {out_dir} ({report.seconds:.1f} s)")  # fmt: skip
    for name, reason in report.failed.items():
        print(f"  FAILED {name}: {reason}")


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help=help_text, description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("structures", nargs="+", help="structure files (xyz, extxyz, cif, POSCAR, ...)")
    p.add_argument("-o", "--out", required=True, help="output directory")
    add_label_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if code_missing("label", args.code):
        return 1
    from rhograph.labels import label_structures, read_structures

    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"rhograph label: error: {exc}", file=sys.stderr)
        return 2
    structures = read_structures(args.structures)
    report = label_structures(
        structures, args.out, config, workers=args.workers, threads=args.threads, scheduler=args.scheduler
    )
    print_report(report, args.out)
    return 0 if report.ok else 1
