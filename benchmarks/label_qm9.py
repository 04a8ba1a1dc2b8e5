"""Cost of DFT labels for QM9-size molecules: SCF time, grid-evaluation time, file sizes.

    python benchmarks/label_qm9.py [--indices 100000 20000] [--threads 2] [--all-electron]

For each QM9 molecule (from qm9pack): the valence PBE/gth-dzvp SCF (the ``rhograph label`` default), ρ on
the 0.15 Å (default) and 0.10 Å grids of its 4 Å vacuum box, and the sizes of the cube file, its gzip form
and the compact ``.dm.npz`` label. With ``--all-electron`` also the PBE/def2-SVP SCF. Prints seconds and
the ratios measured in this run (machine-dependent; use them to estimate a labelling run).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indices", type=int, nargs="+", default=[100000, 20000], help="QM9 indices")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads of PySCF (default 1)")
    parser.add_argument("--all-electron", action="store_true", help="also time the def2-SVP all-electron SCF")
    args = parser.parse_args()

    from pyscf import lib

    from rhograph.io.formats import write_density
    from rhograph.labels import CompactDensity, LabelConfig
    from rhograph.labels.grids import density_on_grid, grid_shape, label_geometry, labelled_atoms
    from rhograph.labels.qm9 import read_qm9
    from rhograph.labels.scf import run_scf

    lib.num_threads(args.threads)
    config = LabelConfig()
    print(f"PySCF threads: {args.threads}; valence = PBE/{config.resolved_basis} + {config.resolved_pseudo}")
    for molecule in read_qm9(args.indices):
        atoms = molecule.atoms
        heavy = int((atoms.numbers > 1).sum())
        print(f"\nQM9 {molecule.index} {molecule.smiles}: {len(atoms)} atoms, {heavy} heavy")
        result = run_scf(atoms, config, molecule.name)
        print(f"  valence SCF: {result.seconds:6.1f} s, {result.cycles} cycles, nao {result.system.nao}")
        cell, origin = label_geometry(atoms, config, False)
        stored = labelled_atoms(atoms, cell, False)
        timings = {}
        for spacing in (0.15, 0.10):
            shape = grid_shape(cell, spacing)
            start = time.perf_counter()
            grid = density_on_grid(result, stored, cell, origin, shape)
            timings[spacing] = time.perf_counter() - start
            error = grid.electrons / result.electrons - 1.0
            print(
                f"  grid {spacing:.2f} Å: {grid.num_points / 1e6:5.2f} M points in "
                f"{timings[spacing]:5.1f} s, ∫ρ dV relative error {error:+.1e}"
            )
            with tempfile.TemporaryDirectory() as tmp:
                cube, gz, dm = Path(tmp, "x.cube"), Path(tmp, "x.cube.gz"), Path(tmp, "x.dm.npz")
                write_density(cube, grid)
                write_density(gz, grid)
                CompactDensity.from_scf(result, stored, cell, origin, shape).save(dm)
                sizes = [p.stat().st_size for p in (cube, gz, dm)]
            print(
                f"    cube {sizes[0] / 1e6:6.1f} MB, cube.gz {sizes[1] / 1e6:6.1f} MB, "
                f"dm.npz {sizes[2] / 1e3:5.0f} kB -> cube/dm {sizes[0] / sizes[2]:5.0f}x, "
                f"cube.gz/dm {sizes[1] / sizes[2]:4.0f}x"
            )
        total = result.seconds + timings[0.15]
        print(
            f"  per molecule at 0.15 Å: {total:.1f} s (grid {timings[0.15] / total:.0%} of it); "
            f"0.10 Å grid / 0.15 Å grid time {timings[0.10] / timings[0.15]:.1f}x"
        )
        if args.all_electron:
            ae = run_scf(atoms, LabelConfig(density="all-electron"), molecule.name)
            print(
                f"  all-electron SCF (def2-SVP): {ae.seconds:6.1f} s, {ae.cycles} cycles, "
                f"nao {ae.system.nao}; all-electron / valence time {ae.seconds / result.seconds:.2f}x"
            )


if __name__ == "__main__":
    main()
