"""Runtime scaling with system size (paper Figure 6): full-grid prediction versus DFT.

A 12-atom Li₃Co₂NiO₆-like layered cell (LiCoO₂ R-3m conventional cell, one Co → Ni) is repeated into supercells
of up to thousands of atoms. For each size the script times a full-grid prediction (equivariant preset, full size,
fixed grid spacing) and, where it fits in the time budget (``--dft-limit`` per run), a DFT run of a fixed number
of SCF iterations (the cost per iteration is what sets the scaling with size), or with ``--dft-cycles 0`` and
GPAW a full SCF run to GPAW's default convergence, exactly as a label is made (iterations reported):

* ``--dft gpaw`` (default when ``rhograph[gpaw]`` is installed): the settings of ``rhograph data nmc`` (the NMC
  labels): PAW, plane waves (400 eV), PBE, 0.1 eV smearing, spin-polarised with initial moments on Ni/Co/Mn, a
  Γ-centred k-point mesh of constant density (fewer k-points for larger supercells, as a real study would);
  the timing includes GPAW's set-up and initial guess;
* ``--dft pyscf``: PySCF Γ-point PBE (GTH pseudopotentials, SZV basis, plane-wave density).

It fits t ∝ N^k for both by least squares on the log-log data, prints the exponents and the ratio of DFT to
model time at each size where both ran, and writes a log-log PNG.

Run: python benchmarks/scaling.py [--max-atoms 1536] [--grid-step 0.3] [--dft gpaw|pyscf] [--dft-max-atoms 48]
                                  [--dft-limit 600] [--dft-cycles 5] [-o scaling.png]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

import numpy as np
import torch
from ase import Atoms
from ase.spacegroup import crystal

import rhograph
from rhograph.analysis.plots import plot_scaling
from rhograph.inference.engine import GridPredictor
from rhograph.inference.grids import make_grid

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
REPEATS = [(1, 1, 1), (2, 1, 1), (2, 2, 1), (3, 3, 1), (4, 4, 1), (4, 4, 2), (6, 6, 2), (8, 8, 2), (10, 10, 2)]


def li3co2nio6() -> Atoms:
    """12-atom layered cell: LiCoO₂ (R-3m, a = 2.82 Å, c = 14.05 Å, O at z = 0.24) with one Co replaced by Ni."""
    atoms = crystal(
        ["Li", "Co", "O"],
        basis=[(0, 0, 0), (0, 0, 0.5), (0, 0, 0.24)],
        spacegroup=166,
        cellpar=[2.82, 2.82, 14.05, 90, 90, 120],
    )
    assert len(atoms) == 12, len(atoms)
    co = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Co"]
    atoms.symbols[co[0]] = "Ni"
    return atoms


def time_prediction(model, atoms: Atoms, grid_step: float) -> tuple[float, int]:
    atoms, spec = make_grid(atoms, grid_step=grid_step)
    predictor = GridPredictor(model)
    t0 = time.perf_counter()
    predictor.predict_grid(atoms, spec)
    return time.perf_counter() - t0, spec.num_points


def time_dft(atoms: Atoms, ke_cutoff: float, cycles: int) -> float:
    """Seconds of ``cycles`` PySCF Γ-point PBE SCF iterations (GTH-PBE pseudopotentials, SZV basis, FFT/GPW).

    A fixed number of iterations, not convergence: the SCF of this open-shell oxide at the Γ point, without
    smearing or damping, swings by 10-100 Ha in its first iterations, while the cost per iteration is what sets
    the scaling with size.
    (PySCF's multigrid integrator was much slower here than plain FFT: 5 iterations of the 12-atom cell took
    over 300 s against 34 s.)
    """
    from pyscf.pbc import dft, gto

    cell = gto.Cell()
    cell.atom = [(s, p) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions, strict=True)]
    cell.a = atoms.cell.array
    cell.unit = "Angstrom"
    cell.basis = "gth-szv-molopt-sr"
    cell.pseudo = "gth-pbe"
    cell.ke_cutoff = ke_cutoff
    cell.precision = 1e-6
    cell.spin = int(sum(atoms.numbers)) % 2
    cell.verbose = 0
    cell.build()
    mf = dft.UKS(cell) if cell.spin else dft.RKS(cell)
    mf.xc = "pbe"
    mf.max_cycle = cycles
    mf.conv_tol = 1e-30  # run exactly `cycles` iterations
    t0 = time.perf_counter()
    mf.kernel()
    return time.perf_counter() - t0


def time_gpaw(atoms: Atoms, cycles: int) -> tuple[float, int]:
    """Seconds of GPAW set-up + ``cycles`` SCF iterations with the NMC label settings (module docstring), or of
    a full SCF run (to GPAW's default convergence, at most 200 iterations) for ``cycles = 0``; and the iterations.
    """
    import os
    import tempfile

    from gpaw import GPAW, KohnShamConvergenceError

    from rhograph.cli.data import NMC_DEFAULTS
    from rhograph.cli.label import DEFAULT_GPAW_SMEARING
    from rhograph.labels.config import LabelConfig
    from rhograph.labels.gpaw_dft import calculator_parameters

    nmc = {key: value for key, value in NMC_DEFAULTS.items() if key != "compress"}
    config = LabelConfig(**nmc, smearing=DEFAULT_GPAW_SMEARING)  # the settings of `rhograph data nmc`
    work = atoms.copy()
    log = os.path.join(tempfile.mkdtemp(prefix="scaling-gpaw-"), "gpaw.txt")
    parameters, magmoms = calculator_parameters(work, config, log)  # exactly a label's calculator
    if magmoms is not None:
        work.set_initial_magnetic_moments(magmoms)
    if cycles:  # run exactly `cycles` iterations
        parameters.update(maxiter=cycles, convergence={"energy": 1e-30, "density": 1e-30, "eigenstates": 1e-30})
    work.calc = GPAW(**parameters)
    t0 = time.perf_counter()
    try:
        work.get_potential_energy()
    except KohnShamConvergenceError:
        if cycles == 0:
            raise
    return time.perf_counter() - t0, int(work.calc.get_number_of_iterations())


def _dft_worker(code: str, atoms: Atoms, ke_cutoff: float, cycles: int, threads: int, queue) -> None:
    if code == "gpaw":
        queue.put(time_gpaw(atoms, cycles))
        return
    from pyscf import lib

    lib.num_threads(threads)
    queue.put((time_dft(atoms, ke_cutoff, cycles), cycles))


def time_dft_limited(
    code: str, atoms: Atoms, ke_cutoff: float, cycles: int, threads: int, limit: float
) -> tuple[float, int] | None:
    """:func:`time_dft` / :func:`time_gpaw` in a child process: (seconds, SCF iterations); ``None`` past ``limit``
    seconds (then killed) or if the run failed."""
    import os

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_dft_worker, args=(code, atoms, ke_cutoff, cycles, threads, queue))
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})  # BLAS threads of the child
    try:
        process.start()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    process.join(limit)
    if process.is_alive():
        process.kill()
        process.join()
        return None
    return queue.get() if not queue.empty() else None


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def fit_exponent(n: list[int], t: list[float]) -> float:
    slope, _ = np.polyfit(np.log(n), np.log(t), 1)
    return float(slope)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-atoms", type=int, default=1536)
    parser.add_argument("--grid-step", type=float, default=0.3, help="Å; fixed for all sizes")
    parser.add_argument("--dft", choices=["gpaw", "pyscf"], default=None, help="DFT code (default gpaw if installed)")
    parser.add_argument("--dft-max-atoms", type=int, default=48, help="largest cell for the DFT timing")
    parser.add_argument("--dft-limit", type=float, default=600.0, help="seconds per DFT run before giving up")
    parser.add_argument(
        "--dft-cycles", type=int, default=5, help="SCF iterations timed per DFT run (GPAW: 0 = a full SCF run)"
    )
    parser.add_argument("--ke-cutoff", type=float, default=60.0, help="PySCF plane-wave cutoff (Hartree)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("-o", "--output", default="scaling.png")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = rhograph.build_model("deepdft-painn").eval()
    base = li3co2nio6()
    cells = [base.repeat(rep) for rep in REPEATS if len(base) * int(np.prod(rep)) <= args.max_atoms]

    print("full-grid prediction, deepdft-painn (F = 128, T = 3), grid step", args.grid_step, "Å")
    print(f"{'atoms':>6s} {'points':>10s} {'model s':>9s} {'s/atom':>9s}")
    time_prediction(model, base, args.grid_step)  # warm-up
    sizes, t_model = [], []
    for atoms in cells:
        seconds, points = time_prediction(model, atoms, args.grid_step)
        sizes.append(len(atoms))
        t_model.append(seconds)
        print(f"{len(atoms):6d} {points:10,d} {seconds:9.2f} {seconds / len(atoms):9.4f}", flush=True)
    series = {"rhograph (deepdft-painn)": (sizes, t_model)}
    k_model = fit_exponent(sizes, t_model)

    dft_sizes, t_dft = [], []
    code = args.dft or ("gpaw" if _installed("gpaw") else "pyscf")
    if args.dft_cycles == 0 and code != "gpaw":
        parser.error("--dft-cycles 0 (full SCF runs) needs --dft gpaw")
    if not _installed(code):
        print(f"{code} not installed (pip install 'rhograph[{'gpaw' if code == 'gpaw' else 'dft'}]'): no DFT timings")
    else:
        if code == "gpaw":
            scf = "full SCF" if args.dft_cycles == 0 else f"{args.dft_cycles} SCF iterations"
            label = f"GPAW PBE (PAW, PW, 0.1 eV smearing, spin-polarised, {scf})"
        else:
            label = f"PySCF PBE (Γ, SZV, {args.dft_cycles} SCF iterations)"
            settings = f"GTH-PBE, SZV, FFT, ke_cutoff {args.ke_cutoff:g} Ha, {args.dft_cycles} SCF iterations"
            label += f" [{settings}]"
        print(f"{label}, at most {args.dft_limit:g} s each")
        print(f"{'atoms':>6s} {'DFT s':>9s} {'SCF it.':>8s} {'DFT/model':>10s}")
        for atoms, seconds in zip(cells, t_model, strict=True):
            if len(atoms) > args.dft_max_atoms:
                break
            timed = time_dft_limited(code, atoms, args.ke_cutoff, args.dft_cycles, args.threads, args.dft_limit)
            if timed is None:
                print(f"{len(atoms):6d} {'>' + format(args.dft_limit, 'g'):>9s} (stopped or failed; no larger cells)")
                break
            dft_seconds, iterations = timed
            dft_sizes.append(len(atoms))
            t_dft.append(dft_seconds)
            print(f"{len(atoms):6d} {dft_seconds:9.2f} {iterations:8d} {dft_seconds / seconds:10.1f}", flush=True)
    print(f"model: t ∝ N^{k_model:.2f} over {sizes[0]}–{sizes[-1]} atoms")
    if len(sizes) >= 4:
        k_large = fit_exponent(sizes[-4:], t_model[-4:])
        print(f"model, largest 4 sizes: t ∝ N^{k_large:.2f} over {sizes[-4]}–{sizes[-1]} atoms")
    if len(dft_sizes) >= 2:
        k_dft = fit_exponent(dft_sizes, t_dft)
        print(f"DFT: t ∝ N^{k_dft:.2f} over {dft_sizes[0]}–{dft_sizes[-1]} atoms")
        series[label.split(" [")[0]] = (dft_sizes, t_dft)
    path = plot_scaling(args.output, series)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
