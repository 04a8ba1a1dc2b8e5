"""Peak memory of full-grid prediction against grid size: streamed to the file vs the whole grid in memory.

``rhograph predict`` streams the density to cube, CHGCAR and ``.npy`` files chunk by chunk
(:func:`rhograph.inference.predict.predict_to_file`); ``.npz`` outputs (and derived fields, ensembles'
uncertainty) hold the whole grid. Each case runs in a fresh process, which reports its own peak resident memory
(``VmHWM``) and the resident memory after loading the model (before the grid), so that the difference is what
the grid costs.

Cases (the bundled model, 0.1 Å grids):
* water in growing vacuum boxes, 10⁶ … 10⁸ points (``--points``), streamed to ``.npy``, and the whole-grid path
  (``.npz``) up to ``--whole-max`` points. Most of these points are vacuum: probes that no atom reaches share
  one decoded value (see docs/prediction.md), so the large boxes run at ~0.5·10⁶ probes/s and the case measures
  memory, not model speed;
* a periodic crystal (a 2×2×2 diamond-Si supercell of 64 atoms, every point within reach of atoms) streamed to a
  CHGCAR (first index fastest), with a model of the paper's PaiNN preset (random weights: memory and speed
  do not depend on them), to show the bound where every probe is decoded.

Run: python benchmarks/large_grid.py [--points 1e6 1e7 1e8] [--whole-max 2e7] [--dir /tmp] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, sys, time, warnings
import numpy as np, torch
from ase.build import bulk, molecule
from rhograph.inference.model_source import resolve_model
from rhograph.inference.predict import predict, predict_to_file, write_prediction

def vm(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0

case = json.loads(sys.argv[1])
torch.set_num_threads(case["threads"])
warnings.simplefilter("ignore")
if case["structure"] == "crystal":
    from rhograph.models.presets import build_model
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(2)
    model = resolve_model(build_model("deepdft-painn").float())
    options = dict(grid_step=case["step"], unseen_elements="warn")
else:
    atoms = molecule("H2O")
    model = resolve_model(None)
    options = dict(grid_step=case["step"], vacuum=case["vacuum"])
before = vm("VmRSS")
t0 = time.perf_counter()
if case["path"] == "stream":
    result = predict_to_file(atoms, case["out"], model, **options)
    points, electrons = result.num_points, result.electrons
else:
    grid = predict(atoms, model, **options)
    write_prediction(case["out"], grid)
    points, electrons = grid.num_points, grid.electrons
seconds = time.perf_counter() - t0
size = os.path.getsize(case["out"])
os.unlink(case["out"])
print(json.dumps(dict(points=points, seconds=seconds, electrons=electrons, rss_model=before,
                      peak=vm("VmHWM"), size=size)))
"""


def vacuum_for(points: float, step: float = 0.1) -> float:
    """The smallest vacuum (Å, in 0.05 Å steps) around water whose box has at least ``points`` grid points."""
    from ase.build import molecule

    from rhograph.inference.grids import make_grid

    vacuum = max(1.0, (points ** (1 / 3) * step - 1.5) / 2)
    while make_grid(molecule("H2O"), grid_step=step, vacuum=vacuum)[1].num_points < points:
        vacuum += 0.05
    return vacuum


def run_case(case: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(case)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=float, nargs="+", default=[1e6, 1e7, 1e8], help="water grid sizes")
    parser.add_argument("--whole-max", type=float, default=2e7, help="largest grid also run whole (in memory)")
    parser.add_argument("--crystal-step", type=float, default=0.15, help="grid step of the Si supercell (Å)")
    parser.add_argument("--no-crystal", action="store_true", help="skip the periodic crystal case")
    parser.add_argument("--dir", default=None, help="folder for the (deleted) outputs (default: a temp dir)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="rhograph-large-grid-"))
    rows = []
    for points in args.points:
        for path in ("stream", "whole"):
            if path == "whole" and points > args.whole_max:
                continue
            name = "w.npy" if path == "stream" else "w.npz"
            case = dict(structure="water", step=0.1, vacuum=vacuum_for(points), path=path,
                        out=str(folder / name), threads=args.threads)  # fmt: skip
            rows.append(("water, .npy" if path == "stream" else "water, .npz (whole)", path, run_case(case)))
            print(_row(*rows[-1]), flush=True)
    if not args.no_crystal:
        case = dict(structure="crystal", step=args.crystal_step, path="stream", out=str(folder / "si_CHGCAR"),
                    threads=args.threads)  # fmt: skip
        rows.append(("Si64 crystal, CHGCAR", "stream", run_case(case)))
        print(_row(*rows[-1]), flush=True)
    streamed = [r for r in rows if r[1] == "stream" and r[0].startswith("water")]
    if len(streamed) >= 2:
        small, large = streamed[0][2], streamed[-1][2]
        print(
            f"\nstreamed: {large['points'] / small['points']:.0f}x the points, peak RSS "
            f"{large['peak'] / 2**20:.0f} vs {small['peak'] / 2**20:.0f} MiB "
            f"({large['peak'] / small['peak']:.2f}x); grid cost above the loaded model "
            f"{(large['peak'] - large['rss_model']) / 2**20:.0f} vs "
            f"{(small['peak'] - small['rss_model']) / 2**20:.0f} MiB"
        )
    whole = {r[2]["points"]: r[2] for r in rows if r[1] == "whole"}
    for r in streamed:
        if r[2]["points"] in whole:
            w, s = whole[r[2]["points"]], r[2]
            print(
                f"{s['points']:,} points: whole-grid path peak {w['peak'] / 2**20:.0f} MiB, streamed "
                f"{s['peak'] / 2**20:.0f} MiB ({w['peak'] / s['peak']:.2f}x)"
            )


def _row(label: str, path: str, r: dict) -> str:
    return (
        f"{label:24s} {r['points']:>13,} points  {r['seconds']:8.1f} s  {r['points'] / r['seconds']:>10,.0f} probes/s  "
        f"RSS after model {r['rss_model'] / 2**20:6.0f} MiB  peak {r['peak'] / 2**20:6.0f} MiB  "
        f"file {r['size'] / 2**20:8.1f} MiB  ∫ρ {r['electrons']:.3f} e"
    )


if __name__ == "__main__":
    main()
