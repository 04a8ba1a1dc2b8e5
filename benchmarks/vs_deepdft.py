"""rhograph against the released DeepDFT code, measured side by side in one run.

The original (``../shared/reference/deepdft``, or ``--reference``) runs in its own virtual environment (made
once under ``~/.cache/rhograph-bench/deepdft-venv`` with ``torch==2.13.0``, numpy, ase, lz4, asap3), driven
through ``drivers/deepdft_driver.py`` in a subprocess; it is never imported here. Steps:

1. Same weights: for each paper model (SchNet-like T = 6 and PaiNN-like T = 3, F = 128, cutoff 4 Å) the
   original's own model class, seeded, writes a run folder in its ``runner.py`` layout (``arguments.json`` +
   ``best_model.pth``), imported with ``rhograph convert-deepdft``.
2. Same grid: the original's ``predict_with_model.py`` grid (molecule: 1 Å vacuum, cell rounded up to the
   step; periodic: cell divided into round(length/step) points), the central slab of at most ``--points``
   points; rhograph predicts exactly those points. Outputs must agree to float32 rounding before any timing.
3. Prediction probes/s of both implementations, interleaved (the first to run alternates) and repeated
   ``--rounds`` times, with 1 and 2 threads each, for ethylene carbonate (0.15 Å) and a 48-atom Li₃Co₂NiO₆
   cell (0.3 Å). The original's time runs from its atom graph to its last slice (its 6 graph processes
   included); rhograph's is ``GridPredictor.predict_grid`` (graph, encode, decode). rhograph computes the
   probes that no atom reaches once (``skipped``); that share is printed beside the ratio.
4. Training steps/s at the paper presets (batch 2 × 1000 probes, F = 128) on a small synthetic CHGCAR set:
   the original's ``runner.py`` (it fixes 1 thread and 4 loader workers) against ``rhograph``'s training loop
   with 1 thread and 4 workers; warm-up steps are left out of both; rhograph's data-wait share is printed.
5. Everything twice: the machine as it is, then with one competing busy core (a busy-loop process of this
   script, killed at the end). ``os.getloadavg()`` is printed for each phase.

Run: python benchmarks/vs_deepdft.py [--quick] [--rounds 3] [--points 3000] [--train-steps 20]
                                     [--threads 1 2] [--phases quiet busy] [--no-train]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import venv
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

HERE = Path(__file__).resolve().parent
DEFAULT_REFERENCE = HERE.parent.parent / "shared" / "reference" / "deepdft"
DEFAULT_VENV = Path.home() / ".cache" / "rhograph-bench" / "deepdft-venv"
ORIGINAL_PACKAGES = ["torch==2.13.0", "numpy", "ase", "lz4", "asap3"]
MODELS = {  # name: (rhograph preset it matches, painn, interactions)
    "schnet": ("deepdft-schnet", False, 6),
    "painn": ("deepdft-painn", True, 3),
}
CASES = {"ethylene carbonate": 0.15, "Li3Co2NiO6 48 atoms": 0.3}  # structure: grid step (Å)


def ethylene_carbonate() -> Atoms:
    """C₃H₄O₃ (10 atoms), planar ring with the CH₂ hydrogens above and below it."""
    positions = [
        (0.0, 1.19, 0.0),  # carbonyl C
        (0.0, 2.39, 0.0),  # carbonyl O
        (-1.13, 0.37, 0.0),  # ring O
        (1.13, 0.37, 0.0),  # ring O
        (-0.76, -0.99, 0.0),  # CH2
        (0.76, -0.99, 0.0),  # CH2
        (-1.24, -1.45, 0.88),
        (-1.24, -1.45, -0.88),
        (1.24, -1.45, 0.88),
        (1.24, -1.45, -0.88),
    ]
    return Atoms("COOOCCHHHH", positions=positions)


def structures() -> dict[str, Atoms]:
    sys.path.insert(0, str(HERE))
    from scaling import li3co2nio6

    return {"ethylene carbonate": ethylene_carbonate(), "Li3Co2NiO6 48 atoms": li3co2nio6().repeat((2, 2, 1))}


# ---------------------------------------------------------------------------------------------- the original
def ensure_venv(path: Path) -> Path:
    """The original's interpreter, creating its virtual environment on first use."""
    python = path / "bin" / "python"
    check = [str(python), "-c", "import torch, numpy, ase, lz4, asap3"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"setting up the original's environment in {path} ({' '.join(ORIGINAL_PACKAGES)})", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *ORIGINAL_PACKAGES], check=True)
    subprocess.run(check, check=True)
    return python


class Original:
    """The driver process in the original's environment (JSON lines over pipes)."""

    def __init__(self, python: Path, reference: Path) -> None:
        driver = HERE / "drivers" / "deepdft_driver.py"
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        self.proc = subprocess.Popen(
            [str(python), str(driver), "--reference", str(reference)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=str(reference),
            env=env,
        )

    def __call__(self, **command) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the original's driver died on {command['cmd']} (exit {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")  # type: ignore[union-attr]
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=30)


# ---------------------------------------------------------------------------------------------- load
@contextmanager
def competing_core(active: bool, limit_s: float):
    """One busy-looping process for the duration (at most ``limit_s`` seconds), killed on exit."""
    proc = None
    if active:
        code = f"import time\nend = time.monotonic() + {limit_s}\nwhile time.monotonic() < end:\n    pass\n"
        proc = subprocess.Popen([sys.executable, "-c", code])
        time.sleep(1.0)
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------------------------- prediction
def grid_of(reply: dict):
    """rhograph's GridSpec and atoms for the points the original predicted."""
    from rhograph.inference.grids import GridSpec

    cell = np.asarray(reply["cell"])
    rows, origin, shape = [], np.asarray(reply["origin"], dtype=float), []
    for axis, frac in enumerate(reply["axes"]):
        frac = np.asarray(frac)
        step = frac[1] - frac[0]
        assert np.allclose(np.diff(frac), step), "the original's grid is not uniform"
        rows.append(len(frac) * step * cell[axis])
        origin = origin + frac[0] * cell[axis]
        shape.append(len(frac))
    atoms = Atoms(numbers=reply["numbers"], positions=reply["positions"], cell=cell, pbc=reply["pbc"])
    return atoms, GridSpec(cell=np.array(rows), shape=tuple(shape), origin=origin)


def run_rhograph(predictor, atoms, spec, threads: int):
    torch.set_num_threads(threads)
    result = predictor.predict_grid(atoms, spec)
    s = result.stats
    return s.total_time, result.values.ravel(), 1.0 - s.num_decoded / s.num_points


def prediction_round(original, predictors, xyz, case, name, args, threads, out, first_original: bool):
    step = CASES[case]
    command = dict(cmd="predict", model_dir=str(out / name), xyz=str(xyz[case]), grid_step=step, vacuum=1.0)
    command.update(threads=threads, points=args.points, out=str(out / "original.npy"))
    results = {}
    for who in ("original", "rhograph") if first_original else ("rhograph", "original"):
        if who == "original":
            reply = original(**command)
            results[who] = reply["num_points"] / reply["seconds"]
            results["reply"] = reply
        else:
            atoms, spec = predictors["grids"][case]
            seconds, _, skipped = run_rhograph(predictors[name], atoms, spec, threads)
            results[who] = spec.num_points / seconds
            results["skipped"] = skipped
    return results


def check_agreement(original, predictors, xyz, case, name, args, out) -> str:
    """Both implementations on the case's grid; the values must agree to float32 rounding."""
    command = dict(cmd="predict", model_dir=str(out / name), xyz=str(xyz[case]), grid_step=CASES[case])
    command.update(vacuum=1.0, threads=2, points=args.points, out=str(out / "original.npy"))
    reply = original(**command)
    atoms, spec = grid_of(reply)
    predictors["grids"][case] = (atoms, spec)
    reference = np.load(out / "original.npy")
    _, ours, _ = run_rhograph(predictors[name], atoms, spec, 2)
    scale = float(np.abs(reference).max())
    worst = float(np.abs(ours - reference).max())
    if ours.shape != reference.shape or not np.allclose(ours, reference, rtol=1e-4, atol=1e-5 * scale):
        raise SystemExit(f"{case} {name}: outputs differ (max |Δ| {worst:.3g}, max |ρ| {scale:.3g})")
    grid = f"grid {spec.shape} = {spec.num_points:,} points"
    return f"{case:20s} {name:6s} {grid}, max |Δρ| {worst:.2e} (max |ρ| {scale:.3g})"


# ---------------------------------------------------------------------------------------------- training
def original_training(python: Path, reference: Path, data: Path, name: str, steps: int, run_dir: Path):
    """Steps/s and data-wait share of the original's runner.py over steps 1..steps-1 (from its timer log)."""
    _, painn, interactions = MODELS[name]
    cmd = [str(python), str(reference / "runner.py"), "--dataset", str(data), "--cutoff", "4"]
    cmd += ["--num_interactions", str(interactions), "--node_size", "128", "--max_steps", str(steps)]
    cmd += ["--device", "cpu", "--output_dir", str(run_dir)] + (["--use_painn_model"] if painn else [])
    # runner.py never exits by itself (its data-pool process and thread loop forever): stop it at its
    # "Max steps reached" line, by its own process group.
    proc = subprocess.Popen(
        cmd, cwd=str(reference), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    timers = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            found = re.findall(r"(data_timer|transfer_timer|train_timer) ([0-9.e-]+) \(([0-9.e-]+)\)", line)
            if found:
                timers.append({k: (float(v), float(a)) for k, v, a in found})
            if "Max steps reached" in line or "Traceback" in line:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if len(timers) < 2:
        raise SystemExit(f"the original's runner.py did not finish {steps} steps (see {run_dir}/printlog.txt)")
    first, last = timers[0], timers[-1]
    total = {k: steps * last[k][1] - first[k][0] for k in last}  # seconds over steps 1..steps-1
    per_step = sum(total.values()) / (steps - 1)
    return 1.0 / per_step, total["data_timer"] / sum(total.values())


def rhograph_training(data: Path, preset: str, steps: int, run_dir: Path):
    sys.path.insert(0, str(HERE))
    from train_throughput import measure

    torch.set_num_threads(1)
    return measure(data, run_dir, preset, steps, workers=4, log_every=max(1, steps // 5))


# ---------------------------------------------------------------------------------------------- main
def span(values) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="released DeepDFT source")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="the original's virtual environment")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per case (default 3)")
    parser.add_argument("--points", type=int, default=3_000, help="grid points per prediction (central slab)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--phases", nargs="+", choices=("quiet", "busy"), default=["quiet", "busy"])
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--quick", action="store_true", help="2 rounds, 2,000 points, 8 training steps")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.points, args.train_steps = 2, 2_000, 8
    import logging

    logging.basicConfig(level=logging.WARNING)
    from rhograph.cli.main import main as rhograph_main
    from rhograph.inference.engine import GridPredictor
    from rhograph.models.checkpoint import load_model

    if not (args.reference / "predict_with_model.py").is_file():
        raise SystemExit(f"no released DeepDFT source in {args.reference}; pass --reference DIR")
    python = ensure_venv(args.venv)
    print(f"original: {args.reference} with {python}; rhograph with {sys.executable}, torch {torch.__version__}")
    print(f"{os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.2f}", flush=True)
    original = Original(python, args.reference)
    rows, train_rows = [], []
    with tempfile.TemporaryDirectory(prefix="vs-deepdft-") as tmp:
        out = Path(tmp)
        xyz = {}
        for case, atoms in structures().items():
            xyz[case] = out / f"{case.split()[0]}.xyz"
            atoms.write(xyz[case], format="extxyz")
        predictors: dict = {"grids": {}}
        for name, (_preset, painn, interactions) in MODELS.items():
            original(
                cmd="write_model",
                dir=str(out / name),
                painn=painn,
                num_interactions=interactions,
                node_size=128,
                cutoff=4.0,
                seed=0,
            )
            with contextlib.redirect_stdout(io.StringIO()):
                assert rhograph_main(["-q", "convert-deepdft", str(out / name), "-o", str(out / f"{name}.pt")]) == 0
            predictors[name] = GridPredictor(load_model(out / f"{name}.pt"))
        print("same weights, same grid (original vs rhograph, 2 threads):")
        for case in CASES:
            for name in MODELS:
                print("  " + check_agreement(original, predictors, xyz, case, name, args, out), flush=True)
        data = out / "train-data"
        if not args.no_train:
            make_training_data(data)
        for phase in args.phases:
            with competing_core(phase == "busy", limit_s=1800):
                loads = [os.getloadavg()[0]]
                for threads in args.threads:
                    for case in CASES:
                        for name in MODELS:
                            per_round = []
                            for r in range(args.rounds):
                                per_round.append(
                                    prediction_round(
                                        original, predictors, xyz, case, name, args, threads, out, r % 2 == 0
                                    )
                                )
                                loads.append(os.getloadavg()[0])
                            rows.append((case, name, threads, phase, per_round, float(np.mean(loads))))
                            print("  " + table_row(rows[-1]), flush=True)
                if not args.no_train:
                    for name, (preset, *_) in MODELS.items():
                        o_rate, o_wait = original_training(
                            python, args.reference, data, name, args.train_steps, out / f"orig-{name}-{phase}"
                        )
                        r_rate, r_wait = rhograph_training(data, preset, args.train_steps, out / f"rg-{name}-{phase}")
                        train_rows.append((name, phase, o_rate, o_wait, r_rate, r_wait, os.getloadavg()[0]))
                        print(
                            f"  training {name:6s} {phase:5s}: original {o_rate:.2f} steps/s (data wait "
                            f"{o_wait:.0%}), rhograph {r_rate:.2f} steps/s (data wait {r_wait:.1%}), "
                            f"{r_rate / o_rate:.2f}x",
                            flush=True,
                        )
        original.close()
    print_table(rows, train_rows)


def make_training_data(data: Path, count: int = 16) -> None:
    sys.path.insert(0, str(HERE))
    from train_throughput import synthetic_structure

    from rhograph.io.formats import write_density

    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        write_density(data / f"molecule_{i:03d}.CHGCAR", synthetic_structure(rng, "molecule"))


def table_row(row) -> str:
    case, name, threads, phase, rounds, load = row
    ratios = [r["rhograph"] / r["original"] for r in rounds]
    label = "as is" if phase == "quiet" else "+1 busy core"
    return (
        f"| {case} | {name} | {threads} | {label} ({load:.1f}) | {span([r['original'] for r in rounds])} | "
        f"{span([r['rhograph'] for r in rounds])} | {min(ratios):.1f}-{max(ratios):.1f}x | {rounds[0]['skipped']:.1%} |"
    )


def print_table(rows, train_rows) -> None:
    print()
    print("| case | model | threads | load (1-min avg) | original probes/s | rhograph probes/s | ratio | skipped |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(table_row(row))
    if train_rows:
        print()
        print("| training | load | original steps/s | rhograph steps/s (data wait) | ratio |")
        print("|---|---|---|---|---|")
        for name, phase, o_rate, _o_wait, r_rate, r_wait, load in train_rows:
            label = "as is" if phase == "quiet" else "+1 busy core"
            rates = f"{o_rate:.2f} | {r_rate:.2f} ({r_wait:.1%}) | {r_rate / o_rate:.2f}x"
            print(f"| {name} | {label} ({load:.1f}) | {rates} |")


if __name__ == "__main__":
    main()
