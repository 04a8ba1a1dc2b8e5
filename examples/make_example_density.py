"""Generate the example densities shipped in ``src/rhograph/examples`` with PySCF.

* ``water.cube.gz`` + ``water.xyz``: PBE valence density of water (GTH-PBE pseudopotential, GTH-DZVP basis,
  the molecular code), on a 0.18 Å grid with 4 Å of vacuum around the atoms (like the VASP/PAW valence
  densities DeepDFT was trained on: 8 valence electrons, no core cusp).
* ``silicon.CHGCAR.gz``: LDA valence density of 2-atom diamond silicon (PySCF periodic code, GTH-PADE
  pseudopotential, GTH-SZV basis, 2×2×2 k-points) on PySCF's own 20³ uniform grid (corner-aligned).

Run: ``python examples/make_example_density.py [--out DIR]`` (about 15 s on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase.units import Bohr

from rhograph.io import DensityGrid, write_density
from rhograph.io.atomic import atomic_path

log = logging.getLogger("make_example_density")

WATER = ase.Atoms("OH2", positions=[[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]], pbc=False)


def water_density(spacing: float = 0.18, vacuum: float = 4.0) -> DensityGrid:
    """PBE valence density of water on a box grid with ``vacuum`` Å around the atoms (e/Å³)."""
    from pyscf import dft, gto

    mol = gto.M(
        atom=[(s, p) for s, p in zip(WATER.get_chemical_symbols(), WATER.positions, strict=True)],
        basis="gth-dzvp",
        pseudo="gth-pbe",
        verbose=0,
    )
    mf = dft.RKS(mol)
    mf.xc = "pbe"
    mf.kernel()
    if not mf.converged:
        raise RuntimeError("water SCF did not converge")
    dm = mf.make_rdm1()
    low = WATER.positions.min(axis=0) - vacuum
    shape = np.ceil((WATER.positions.max(axis=0) + vacuum - low) / spacing).astype(int)
    cell = np.diag(shape * spacing)
    grid = DensityGrid(atoms=WATER.copy(), values=np.zeros(shape, np.float32), cell=cell, origin=low)
    points = grid.grid_positions()
    rho = np.empty(len(points))
    for chunk in np.array_split(np.arange(len(points)), max(1, len(points) // 20000)):
        ao = mol.eval_gto("GTOval", points[chunk] / Bohr)
        rho[chunk] = dft.numint.eval_rho(mol, ao, dm) / Bohr**3  # e/Bohr³ -> e/Å³
    grid.atoms.cell = cell
    return grid.with_values(rho.reshape(shape).astype(np.float32))


def silicon_density(mesh: int = 20) -> DensityGrid:
    """LDA valence density of 2-atom diamond silicon on PySCF's uniform ``mesh³`` grid (e/Å³)."""
    from pyscf.pbc import dft, gto

    a = 5.431
    lattice = np.array([[0.0, a / 2, a / 2], [a / 2, 0.0, a / 2], [a / 2, a / 2, 0.0]])
    cell = gto.Cell()
    cell.a = lattice
    cell.atom = [["Si", (0.0, 0.0, 0.0)], ["Si", (a / 4, a / 4, a / 4)]]
    cell.basis = "gth-szv"
    cell.pseudo = "gth-pade"
    cell.mesh = [mesh] * 3
    cell.verbose = 0
    cell.build()
    kpts = cell.make_kpts([2, 2, 2])
    mf = dft.KRKS(cell, kpts)
    mf.xc = "lda,vwn"
    mf.kernel()
    if not mf.converged:
        raise RuntimeError("silicon SCF did not converge")
    coords = cell.get_uniform_grids([mesh] * 3)  # Bohr; C order, point (i,j,k) at (i,j,k)/mesh fractional
    ni = dft.numint.KNumInt()
    rho = ni.eval_rho(cell, ni.eval_ao(cell, coords, kpts), mf.make_rdm1()).real / Bohr**3
    atoms = ase.Atoms("Si2", positions=[[0, 0, 0], [a / 4] * 3], cell=lattice, pbc=True)
    return DensityGrid(atoms=atoms, values=rho.reshape((mesh,) * 3).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_out = Path(__file__).resolve().parents[1] / "src" / "rhograph" / "examples"
    parser.add_argument("--out", type=Path, default=default_out, help=f"output folder (default {default_out})")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    t0 = time.perf_counter()
    water = water_density()
    write_density(args.out / "water.cube.gz", water)
    with atomic_path(args.out / "water.xyz") as tmp:
        ase.io.write(tmp, water.atoms, format="xyz")
    log.info(
        "water: %s grid, ∫ρ dV = %.4f e (8 valence electrons), %.1f s",
        water.shape,
        water.electrons,
        time.perf_counter() - t0,
    )

    t0 = time.perf_counter()
    silicon = silicon_density()
    write_density(args.out / "silicon.CHGCAR.gz", silicon)
    log.info(
        "silicon: %s grid, ∫ρ dV = %.4f e (8 valence electrons), %.1f s",
        silicon.shape,
        silicon.electrons,
        time.perf_counter() - t0,
    )


if __name__ == "__main__":
    main()
