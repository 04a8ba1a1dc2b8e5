"""Bader analysis speed on ~10⁶-voxel grids (prints seconds and ratios measured in one run).

Cases: a rattled 8-atom rock-salt cell of Gaussians, 100³ voxels, no vacuum (every voxel walked: the worst
case), and a water-like molecule in a 10 Å box, 100³ voxels, vacuum threshold 1e-3 e/Å³.
Run: python benchmarks/bader_speed.py
"""

import time

import ase
import numpy as np
from ase.build import bulk

from rhograph.analysis.bader import bader
from rhograph.io.density_grid import DensityGrid


def gaussians(atoms, shape, params, pbc):
    cell = atoms.cell.array
    idx = np.stack(np.meshgrid(*[np.arange(k) for k in shape], indexing="ij"), -1).reshape(-1, 3)
    pts = (idx / np.array(shape)) @ cell
    inv = np.linalg.inv(cell)
    rho = np.zeros(len(pts))
    for z, c in zip(atoms.numbers, atoms.positions, strict=False):
        q, s = params[z]
        d = pts - c
        if pbc:
            f = d @ inv
            f -= np.rint(f)
            d = f @ cell
        rho += q / (2 * np.pi * s * s) ** 1.5 * np.exp(-(d**2).sum(1) / (2 * s * s))
    return DensityGrid(atoms=atoms, values=rho.reshape(shape))


def timed(grid, **kw):
    t = time.perf_counter()
    r = bader(grid, **kw)
    return time.perf_counter() - t, r


def main():
    crystal = bulk("NaCl", "rocksalt", a=5.6, cubic=True)
    crystal.rattle(0.1, seed=0)
    g1 = gaussians(crystal, (100, 100, 100), {11: (10.0, 0.45), 17: (18.0, 0.7)}, True)
    mol = ase.Atoms("OH2", positions=[[5, 5, 5.12], [5, 5.76, 4.53], [5, 4.24, 4.53]], cell=np.eye(3) * 10, pbc=False)
    g2 = gaussians(mol, (100, 100, 100), {8: (8.0, 0.4), 1: (1.0, 0.2)}, False)
    for name, grid, vac in (("NaCl 100³, no vacuum", g1, None), ("H2O 100³, vacuum 1e-3", g2, 1e-3)):
        t_on, _r_on = timed(grid, vacuum_threshold=vac, method="on-grid")
        t_near, r_near = timed(grid, vacuum_threshold=vac)
        t_full, r_full = timed(grid, vacuum_threshold=vac, exhaustive=True)
        same = int((r_near.labels != r_full.labels).sum())
        print(
            f"{name}: {grid.num_points:,} voxels; on-grid {t_on:.2f} s, near-grid {t_near:.2f} s "
            f"({grid.num_points / t_near:,.0f} voxels/s), exhaustive near-grid {t_full:.2f} s; "
            f"near/on-grid {t_near / t_on:.1f}x, exhaustive/near {t_full / t_near:.1f}x; "
            f"labels differing from exhaustive: {same}; populations {np.round(r_near.atom_populations, 3)}"
        )


if __name__ == "__main__":
    main()
