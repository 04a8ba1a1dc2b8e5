"""QM9 labelling throughput before and after the label speed-ups, and how much the labels change.

    python benchmarks/label_qm9.py [--molecules 10] [--threads 1] [--rounds 1]

For each molecule (the first ``--molecules`` structures of ``data/qm9/structures``, QM9 geometries), both
label paths run in the same process, interleaved (before, after, before, after, ...):

* **before**: the labelling of rhograph ≤ 0.1 (stop 10): PySCF RKS/PBE, gth-dzvp + gth-pbe, XC grid level 3,
  ``conv_tol`` 10⁻⁹, density-fitted Coulomb term recomputed from 3-centre integrals every cycle, the density
  on the 0.15 Å grid for the electron-count check, the compact label in float64 (format 1);
* **after**: ``rhograph.labels.label_structure`` with today's defaults, as ``rhograph data qm9 --compact
  --no-grid`` runs it: XC grid level 1, ``conv_tol`` 10⁻⁸, 3-centre integrals once in memory, the electron
  check on the XC grid (no density grid), the label in float32, compressed (format 2).

Printed per molecule: CPU seconds of each path (``time.process_time``, robust to other work on a shared
machine; wall seconds too), the ratio, the SCF cycles, the file sizes and ε_mae (eq. 1) between the two
labels on the 0.15 Å grid of the label box. At the end: molecules/hour of each path (CPU time, one core per
molecule) with the range of per-molecule ratios, and the largest ε_mae (the requirement is < 0.05 %).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def label_before(name, atoms, out: Path):
    """The old path: level-3 XC grid, conv_tol 1e-9, direct DF, grid electron check, float64 label."""
    from rhograph.labels import CompactDensity, LabelConfig
    from rhograph.labels.compact import _pack
    from rhograph.labels.grids import density_on_grid, label_geometry, labelled_atoms
    from rhograph.labels.scf import ScfResult, _make_solver, build_system

    config = LabelConfig(xc_grid_level=3, conv_tol=1e-9, write_grid=False, write_compact=True)
    system = build_system(atoms, config, name)
    mf = _make_solver(system, config, None)
    energy = float(mf.kernel())
    result = ScfResult(system, np.asarray(mf.make_rdm1()), None, None, energy, bool(mf.converged),
                       int(mf.cycles), int(system.nelectron), 0.0)  # fmt: skip
    spec = label_geometry(atoms, config, False)
    stored = labelled_atoms(atoms, spec.cell, False)
    grid = density_on_grid(result, stored, spec)
    assert abs(grid.electrons - result.electrons) < 1e-3 * result.electrons
    label = CompactDensity.from_scf(result, stored, spec, config.density_settings())
    path = out / f"{name}.before.dm.npz"
    arrays = {"dm_tril": _pack(label.dm)}  # what format 1 stored: float64, uncompressed
    label.save(path)
    with np.load(path) as npz:
        arrays = {**{k: npz[k] for k in npz.files}, **arrays, "format_version": np.int64(1)}
    np.savez(path, **arrays)
    return path, result.cycles


def label_after(name, atoms, out: Path):
    from rhograph.labels import LabelConfig, label_structure

    entry = label_structure(name, atoms, out, LabelConfig(write_grid=False, write_compact=True))
    assert entry["status"] == "done", entry.get("reason")
    return out / f"{name}.dm.npz", entry["cycles"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--molecules", type=int, default=10, help="molecules (default 10)")
    parser.add_argument("--structures", type=Path, default=ROOT / "data" / "qm9" / "structures")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads of PySCF (default 1)")
    args = parser.parse_args()

    from ase.io import read
    from pyscf import lib

    from rhograph.labels import CompactDensity

    lib.num_threads(args.threads)
    paths = sorted(args.structures.glob("*.xyz"))[: args.molecules]
    print(f"{len(paths)} QM9 molecules from {args.structures}, PySCF {args.threads} thread(s); CPU seconds\n")
    print(f"{'molecule':12s} {'atoms':>5s} {'before s':>9s} {'after s':>8s} {'ratio':>6s} {'cycles':>7s} "
          f"{'kB before':>9s} {'kB after':>8s} {'eps_mae %':>10s}")  # fmt: skip
    cpu = {"before": [], "after": []}
    wall = {"before": [], "after": []}
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for path in paths:
            atoms = read(path)
            name = path.stem
            files, cycles = {}, {}
            for kind, run in (("before", label_before), ("after", label_after)):
                start_cpu, start_wall = time.process_time(), time.perf_counter()
                files[kind], cycles[kind] = run(name, atoms, out)
                cpu[kind].append(time.process_time() - start_cpu)
                wall[kind].append(time.perf_counter() - start_wall)
            old, new = (CompactDensity.load(files[k]) for k in ("before", "after"))
            a, b = old.to_grid().values.astype(np.float64), new.to_grid().values.astype(np.float64)
            eps = 100.0 * np.abs(a - b).sum() / a.sum()
            worst = max(worst, eps)
            sizes = [files[k].stat().st_size / 1e3 for k in ("before", "after")]
            print(f"{name:12s} {len(atoms):5d} {cpu['before'][-1]:9.1f} {cpu['after'][-1]:8.1f} "
                  f"{cpu['before'][-1] / cpu['after'][-1]:5.1f}x {cycles['before']:3d}/{cycles['after']:<3d} "
                  f"{sizes[0]:9.0f} {sizes[1]:8.0f} {eps:10.5f}", flush=True)  # fmt: skip
    ratios = np.array(cpu["before"]) / np.array(cpu["after"])
    per_hour = {k: 3600.0 * len(v) / sum(v) for k, v in cpu.items()}
    print(
        f"\nmolecules/hour on one core (CPU time): before {per_hour['before']:.0f}, after {per_hour['after']:.0f} "
        f"-> {per_hour['after'] / per_hour['before']:.2f}x (per molecule {ratios.min():.2f}-{ratios.max():.2f}x)"
    )
    wall_ratio = sum(wall["before"]) / sum(wall["after"])
    print(
        f"wall time: before {sum(wall['before']):.0f} s, after {sum(wall['after']):.0f} s -> {wall_ratio:.2f}x "
        f"(load average {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())})"
    )
    print(f"largest eps_mae between before and after labels: {worst:.5f} % (required < 0.05 %)")


if __name__ == "__main__":
    main()
