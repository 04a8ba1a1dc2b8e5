"""Neighbour-list throughput: grid-aware probe edges vs the generic KD-tree path, atom graph vs ASE.

Structure: a 100-atom triclinic cell at 0.1 atoms/Å³ (a jittered 5×5×4 lattice in a ~10 Å cell), cutoff 4 Å.
Probes: every point of an N×N×N grid of the cell (N = 100 → 10⁶ probes, ≈ 27 edges per probe).

Prints, from one run: edges/s of ``grid_probe_graph`` (streamed in chunks of consecutive flat indices) and of
``probe_graph`` (KD-tree over atom images) on the same points and their ratio (both must give the same number
of edges), then ``atom_graph`` (vesin) against ``ase.neighborlist.primitive_neighbor_list`` for the cell and a
2×2×2 supercell.

Run: python benchmarks/neighbors.py [--grid 100] [--chunk 32768] [--cutoff 4.0] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from ase.neighborlist import primitive_neighbor_list

from rhograph.data import atom_graph, grid_points, grid_probe_graph, probe_graph


def structure(repeat: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Positions (Å) and cell (Å) of the 100-atom cell repeated ``repeat`` times along each axis."""
    rng = np.random.default_rng(0)
    cell = np.array([[10.0, 0.0, 0.0], [0.8, 10.0, 0.0], [-0.5, 0.6, 10.0]])
    sites = np.stack(np.meshgrid(np.arange(5) / 5, np.arange(5) / 5, np.arange(4) / 4, indexing="ij"), -1)
    frac = sites.reshape(-1, 3) + rng.normal(0.0, 0.02, (100, 3))
    shifts = np.stack(np.meshgrid(*[np.arange(repeat)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    positions = ((frac[None] + shifts) @ cell).reshape(-1, 3)
    return positions, cell * repeat


def best_time(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=100, help="grid points per cell vector")
    parser.add_argument("--chunk", type=int, default=1 << 15, help="grid points per grid_probe_graph call")
    parser.add_argument("--cutoff", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3, help="timings are the best of this many runs")
    args = parser.parse_args()

    positions, cell = structure()
    pbc = np.array([True, True, True])
    shape = (args.grid,) * 3
    total = args.grid**3
    origin = np.zeros(3)
    print(f"100 atoms, {100 / abs(np.linalg.det(cell)):.3f} atoms/Å³, cutoff {args.cutoff} Å, {total} probes")

    def grid_path() -> int:
        edges = 0
        for start in range(0, total, args.chunk):
            chunk = range(start, min(start + args.chunk, total))
            edges += grid_probe_graph(positions, cell, pbc, cell, shape, origin, args.cutoff, chunk)[0].shape[1]
        return edges

    num_grid = grid_path()
    t_grid = best_time(grid_path, args.repeats)
    points = grid_points(cell, shape, origin)
    start = time.perf_counter()
    num_tree = probe_graph(positions, cell, pbc, points, args.cutoff)[0].shape[1]
    t_tree = time.perf_counter() - start
    assert num_grid == num_tree, (num_grid, num_tree)
    print(f"probe edges: {num_grid} ({num_grid / total:.1f} per probe)")
    for label, seconds in ((f"grid path (chunks of {args.chunk})", t_grid), ("KD-tree path", t_tree)):
        print(f"  {label:<32} {seconds:8.3f} s {num_grid / seconds / 1e6:8.2f} M edges/s")
    print(f"  grid path / KD-tree speed-up: {t_tree / t_grid:.1f}x")

    for repeat in (1, 2):
        positions_r, cell_r = structure(repeat)
        num = atom_graph(positions_r, cell_r, pbc, args.cutoff)[0].shape[1]
        t_ours = best_time(lambda p=positions_r, c=cell_r: atom_graph(p, c, pbc, args.cutoff), args.repeats)
        t_ase = best_time(
            lambda p=positions_r, c=cell_r: primitive_neighbor_list(
                "ijS", pbc, c, p, args.cutoff, self_interaction=False
            ),
            args.repeats,
        )
        print(
            f"atom graph, {len(positions_r)} atoms, {num} edges: atom_graph {t_ours * 1e3:.2f} ms, "
            f"ASE {t_ase * 1e3:.2f} ms, speed-up {t_ase / t_ours:.1f}x"
        )


if __name__ == "__main__":
    main()
