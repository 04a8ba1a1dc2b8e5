"""Full-grid prediction throughput (probes/s) of both presets, split into graph-building and model time.

Structures: a 10-atom molecule (default 4 Å vacuum, 0.1 Å grid subsampled to the point budget) and a 48-atom
periodic cell (2x2x1 Li3Co2NiO6 layered oxide, as dense as the NMC cells of the paper: ~33 atoms within 4 Å of a
grid point). Models are the paper presets at full size (random weights: throughput does not depend on the
weights). For the speed against the released DeepDFT code, measured side by side, see ``vs_deepdft.py``.

Each case runs the default engine (eager) and the engine with ``compile=True`` (torch.compile of the probe
decoder; its one-off compilation time is printed separately and not counted in probes/s). Both are checked
against a plain one-chunk-at-a-time eager decode of every probe (same values to float32 rounding), and the
ratio of that naive path's time to the engine's is printed.

Run: python benchmarks/predict_throughput.py [--threads 2] [--points 200000] [--no-compile]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.build import molecule

import rhograph
from rhograph.inference.engine import GridPredictor
from rhograph.inference.grids import GridSpec, make_grid
from rhograph.models.baseline import gaussian_tables
from rhograph.models.registry import get_preset

sys.path.insert(0, str(Path(__file__).parent))
from scaling import li3co2nio6


def structures() -> dict[str, Atoms]:
    mol = molecule("CH3CH2OH")  # 9 atoms
    mol += Atoms("H", positions=[[0.0, 0.0, 3.0]])  # 10 atoms
    cell = li3co2nio6().repeat((2, 2, 1))  # 48 atoms
    rng = np.random.default_rng(0)
    cell.positions += rng.normal(scale=0.05, size=cell.positions.shape)
    return {"molecule": mol, "periodic": cell}


def limited_spec(spec: GridSpec, max_points: int) -> GridSpec:
    """The leading slabs of a grid (whole planes along axis 0) with at most ``max_points`` points."""
    n1 = max(1, min(spec.shape[0], max_points // (spec.shape[1] * spec.shape[2])))
    return GridSpec(
        cell=spec.cell * np.array([[n1 / spec.shape[0]], [1], [1]]),
        shape=(n1, spec.shape[1], spec.shape[2]),
        origin=spec.origin,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--points", type=int, default=200_000, help="grid points per measurement")
    parser.add_argument("--no-compile", action="store_true", help="skip the compile=True runs")
    parser.add_argument(
        "--presets",
        nargs="+",
        default=["deepdft-painn", "deepdft-schnet"],
        help="presets to measure (`rhograph models`); baseline presets get stand-in tables of the same cost",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads, up to {args.points:,} points per run")
    print(
        f"{'preset':15s} {'structure':10s} {'engine':9s} {'atoms':>5s} {'points':>9s} {'edges/pt':>8s} "
        f"{'probes/s':>10s} {'graph s':>8s} {'model s':>8s} {'encode s':>8s} {'skipped':>8s} {'vs naive':>9s}"
    )
    engines = ("eager",) if args.no_compile else ("eager", "compiled")
    for preset in args.presets:
        tables = gaussian_tables(tuple(range(1, 87)), 4.0) if get_preset(preset).baseline else None
        model = rhograph.build_model(preset, baseline=tables).eval()
        for kind, atoms in structures().items():
            atoms, spec = make_grid(atoms, grid_step=0.1, vacuum=4.0)
            if kind == "molecule":
                # The molecule's whole box, subsampled to the point budget by a coarser step.
                step = 0.1 * max(1.0, (spec.num_points / args.points) ** (1 / 3))
                atoms, spec = make_grid(atoms, grid_step=step, vacuum=4.0)
            else:
                spec = limited_spec(spec, args.points)
            plain = None
            for engine in engines:
                fast = GridPredictor(model, chunk_size=None, overlap=True, compile=engine == "compiled")
                t0 = time.perf_counter()
                fast.predict_grid(*make_grid(atoms, grid_step=0.5))  # warm-up (and compilation) over all atoms
                warm_up = time.perf_counter() - t0
                result = fast.predict_grid(atoms, spec)
                s = result.stats
                if plain is None:  # naive path: every probe through the eager decoder, graph built inline
                    naive = GridPredictor(model, chunk_size=s.chunk_size, overlap=False)
                    t0 = time.perf_counter()
                    plain = _plain_decode(naive, atoms, spec)
                    t_naive = time.perf_counter() - t0
                np.testing.assert_allclose(result.values.ravel(), plain, rtol=2e-5, atol=2e-7)
                pps = s.probes_per_second
                skipped = 1 - s.num_decoded / s.num_points
                print(
                    f"{preset:15s} {kind:10s} {engine:9s} {len(atoms):5d} {s.num_points:9,d} "
                    f"{s.num_edges / max(s.num_decoded, 1):8.1f} {pps:10,.0f} {s.graph_time:8.2f} "
                    f"{s.model_time:8.2f} {s.encode_time:8.3f} {skipped:8.1%} {t_naive / s.total_time:8.2f}x",
                    flush=True,
                )
                if engine == "compiled":
                    print(f"{'':26s} (one-off warm-up with compilation: {warm_up:.1f} s)", flush=True)


def _plain_decode(predictor: GridPredictor, atoms: Atoms, spec: GridSpec) -> np.ndarray:
    from rhograph import keys

    atom_batch, states = predictor.encode(atoms)
    out = np.empty(spec.num_points, dtype=np.float32)
    for start in range(0, spec.num_points, predictor.chunk_size):
        stop = min(start + predictor.chunk_size, spec.num_points)
        positions, edges, offsets, _ = predictor._chunk_graph(atoms, spec, start, stop)
        batch = predictor._probe_batch(atom_batch, positions, edges, offsets)
        assert batch[keys.PROBE_POSITIONS].shape[0] == stop - start
        with torch.inference_mode():
            out[start:stop] = predictor.model.decode_probes(states, batch).numpy()
    return out


if __name__ == "__main__":
    main()
