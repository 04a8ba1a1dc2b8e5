"""Time reading one CHGCAR with rhograph, ASE (VaspChargeDensity) and pymatgen (Chgcar.from_file).

Writes an N³ CHGCAR (default 200³, synthetic smooth density: periodic Gaussians on 4 atoms normalised to
16 electrons) to a temporary directory with ``rhograph.io.write_chgcar`` (timed), reads it back with each
library (best of ``--repeat`` runs each), checks that all agree, and prints the times and the ratios
ase/rhograph and pymatgen/rhograph. (pymatgen ≥ 2024 parses the values with a compiled Cython routine,
``pymatgen.optimization.fast_parser``; ASE and rhograph use numpy.)

Run: ``python benchmarks/read_chgcar.py [--size 200]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import ase
import numpy as np

from rhograph.io import DensityGrid, read_chgcar, write_chgcar


def synthetic_grid(n: int) -> DensityGrid:
    """Sum of periodic Gaussians (σ = 0.6 Å) on 4 atoms in a 9×10×11 Å box, 16 electrons in total."""
    lengths = np.array([9.0, 10.0, 11.0])
    atoms = ase.Atoms(
        "C2O2",
        positions=[[2.0, 3.0, 4.0], [3.3, 3.2, 4.4], [6.5, 7.0, 2.0], [7.7, 7.5, 9.5]],
        cell=np.diag(lengths),
        pbc=True,
    )
    sigma = 0.6
    values = np.zeros((n, n, n))
    for pos in atoms.positions:
        factors = []
        for axis in range(3):
            x = np.arange(n) * lengths[axis] / n
            d = x[:, None] - pos[axis] + lengths[axis] * np.array([-1.0, 0.0, 1.0])[None, :]  # periodic images
            factors.append(np.exp(-(d**2) / (2 * sigma**2)).sum(axis=1))
        values += factors[0][:, None, None] * factors[1][None, :, None] * factors[2][None, None, :]
    voxel = np.prod(lengths) / n**3
    values *= 16.0 / (values.sum() * voxel)
    return DensityGrid(atoms=atoms, values=values.astype(np.float32))


def timed(label: str, fn, repeat: int = 1):
    """Run ``fn`` ``repeat`` times; print and return the last result and the best time."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    print(f"{label:<36s} {best:8.2f} s" + (f"  (best of {repeat})" if repeat > 1 else ""), flush=True)
    return result, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=200, help="grid points per axis (default 200)")
    parser.add_argument("--repeat", type=int, default=2, help="time each reader this many times, keep the best")
    args = parser.parse_args()

    grid = synthetic_grid(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "CHGCAR"
        _, t_write = timed(f"rhograph write_chgcar ({args.size}³)", lambda: write_chgcar(path, grid))
        print(f"file size: {path.stat().st_size / 1e6:.1f} MB, ∫ρ dV = {grid.electrons:.6f} e")

        ours, t_ours = timed("rhograph read_chgcar", lambda: read_chgcar(path), args.repeat)

        from ase.calculators.vasp import VaspChargeDensity

        ase_chg, t_ase = timed("ase VaspChargeDensity", lambda: VaspChargeDensity(str(path)), args.repeat)

        from pymatgen.io.vasp.outputs import Chgcar

        pmg, t_pmg = timed("pymatgen Chgcar.from_file", lambda: Chgcar.from_file(str(path)), args.repeat)

    reference = grid.values.astype(np.float64)
    scale = float(np.abs(reference).max())
    diffs = {
        "rhograph": np.abs(ours.values - reference).max() / scale,
        "ase": np.abs(ase_chg.chg[0] - reference).max() / scale,
        "pymatgen": np.abs(pmg.data["total"] / pmg.structure.volume - reference).max() / scale,
    }
    for name, diff in diffs.items():
        print(f"max |ρ_{name} − ρ_written| / max ρ = {diff:.2e}")
        if diff > 1e-6:
            raise SystemExit(f"{name} disagrees with the written density")
    print(f"ratio ase/rhograph      = {t_ase / t_ours:6.1f}")
    print(f"ratio pymatgen/rhograph = {t_pmg / t_ours:6.1f}")
    print(f"write: {grid.num_points / t_write / 1e6:.1f} M values/s")
    print(f"read:  {grid.num_points / t_ours / 1e6:.1f} M values/s")


if __name__ == "__main__":
    main()
