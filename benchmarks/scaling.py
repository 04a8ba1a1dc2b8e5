"""Runtime scaling with system size (paper Figure 6): full-grid prediction versus DFT.

A 12-atom Li₃Co₂NiO₆-like layered cell (LiCoO₂ R-3m conventional cell, one Co → Ni) is repeated into supercells
of up to thousands of atoms. For each size the script times a full-grid prediction (equivariant preset, full size,
fixed grid spacing) and, where it fits in the time budget, a PySCF Γ-point PBE calculation (GTH pseudopotentials,
SZV basis). It fits t ∝ N^k for both by least squares on the log-log data, prints the exponents and the ratio
of DFT to model time at each size where both ran, and writes a log-log PNG.

Run: python benchmarks/scaling.py [--max-atoms 1536] [--grid-step 0.3] [--dft-max-atoms 24] [-o scaling.png]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from ase import Atoms
from ase.spacegroup import crystal

import rhograph
from rhograph.analysis.plots import plot_scaling
from rhograph.inference.engine import GridPredictor
from rhograph.inference.grids import make_grid

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


def time_dft(atoms: Atoms) -> float | None:
    try:
        from pyscf.pbc import dft, gto
    except ImportError:
        return None
    cell = gto.Cell()
    cell.atom = [(s, p) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions, strict=True)]
    cell.a = atoms.cell.array
    cell.unit = "Angstrom"
    cell.basis = "gth-szv-molopt-sr"
    cell.pseudo = "gth-pbe"
    cell.ke_cutoff = 100.0
    cell.spin = int(sum(atoms.numbers)) % 2
    cell.verbose = 0
    cell.build()
    mf = dft.UKS(cell) if cell.spin else dft.RKS(cell)
    mf.xc = "pbe"
    mf = mf.density_fit()
    mf.max_cycle = 30
    t0 = time.perf_counter()
    mf.kernel()
    return time.perf_counter() - t0


def fit_exponent(n: list[int], t: list[float]) -> float:
    slope, _ = np.polyfit(np.log(n), np.log(t), 1)
    return float(slope)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-atoms", type=int, default=1536)
    parser.add_argument("--grid-step", type=float, default=0.3, help="Å; fixed for all sizes")
    parser.add_argument("--dft-max-atoms", type=int, default=24, help="largest cell for the PySCF timing")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("-o", "--output", default="scaling.png")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = rhograph.build_model("deepdft-painn").eval()
    base = li3co2nio6()
    sizes, t_model, dft_sizes, t_dft = [], [], [], []
    print(f"{'atoms':>6s} {'points':>10s} {'model s':>9s} {'DFT s':>9s} {'DFT/model':>10s}")
    time_prediction(model, base, args.grid_step)  # warm-up
    for rep in REPEATS:
        atoms = base.repeat(rep)
        if len(atoms) > args.max_atoms:
            break
        tm, points = time_prediction(model, atoms, args.grid_step)
        sizes.append(len(atoms))
        t_model.append(tm)
        td = time_dft(atoms) if len(atoms) <= args.dft_max_atoms else None
        if td is not None:
            dft_sizes.append(len(atoms))
            t_dft.append(td)
        ratio = f"{td / tm:10.1f}" if td else f"{'-':>10s}"
        print(f"{len(atoms):6d} {points:10,d} {tm:9.2f} {td if td else float('nan'):9.2f} {ratio}", flush=True)
    k_model = fit_exponent(sizes, t_model)
    print(f"model: t ∝ N^{k_model:.2f} over {sizes[0]}–{sizes[-1]} atoms")
    series = {"rhograph (deepdft-painn)": (sizes, t_model)}
    if len(dft_sizes) >= 2:
        k_dft = fit_exponent(dft_sizes, t_dft)
        print(f"DFT (PySCF Γ-point PBE, GTH-SZV): t ∝ N^{k_dft:.2f} over {dft_sizes[0]}–{dft_sizes[-1]} atoms")
        series["PySCF PBE"] = (dft_sizes, t_dft)
    path = plot_scaling(args.output, series)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
