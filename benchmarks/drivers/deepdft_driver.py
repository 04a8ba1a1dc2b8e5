"""Driver for the released DeepDFT code, run by ``vs_deepdft.py`` with the original's own Python.

Not part of rhograph and never imported by it: this file runs in the original's virtual environment with the
original's source folder on ``sys.path`` (``--reference``) and answers JSON commands, one per line, on stdin:

- ``{"cmd": "write_model", "dir", "painn", "num_interactions", "node_size", "cutoff", "seed"}``: a run folder as
  the original's ``runner.py`` writes it (``arguments.json`` from its own argument parser, ``best_model.pth``
  holding the ``state_dict`` of its own model class, initialised with ``torch.manual_seed(seed)``).
- ``{"cmd": "predict", "model_dir", "xyz", "grid_step", "vacuum", "threads", "points", "out"}``: full-grid
  prediction exactly as ``predict_with_model.py``'s ``main`` does it (its model loader, grid, atom graph,
  ``DensityGridIterator`` with its 6 graph-building processes, ``probe_model`` on slices of 5,000 probes), on the
  central slab of at most ``points`` grid points (whole planes along the first axis; all of them if 0). The
  time runs from the atom graph to the last slice's densities (not model loading, not writing the cube file,
  not the 1 s the iterator's workers idle before they exit). Densities go to ``out`` (.npy); the reply holds
  the seconds, the atoms as the script placed them and the fractional grid coordinates of each axis.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reference", required=True, help="folder of the released DeepDFT source")
    args = parser.parse_args()
    sys.path.insert(0, args.reference)
    reply = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # anything the original prints must not mix with the replies
    models: dict[str, tuple] = {}
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "quit":
            break
        handler = {"write_model": write_model, "predict": predict}[command["cmd"]]
        result = handler(command, models)
        reply.write(json.dumps(result) + "\n")
        reply.flush()


def write_model(command: dict, models: dict) -> dict:
    import densitymodel
    import runner
    import torch

    argv = ["--cutoff", str(command["cutoff"]), "--num_interactions", str(command["num_interactions"])]
    argv += ["--node_size", str(command["node_size"]), "--output_dir", command["dir"], "--device", "cpu"]
    if command["painn"]:
        argv.append("--use_painn_model")
    run_args = runner.get_arguments(argv)
    os.makedirs(command["dir"], exist_ok=True)
    with open(os.path.join(command["dir"], "arguments.json"), "w") as fh:
        json.dump(vars(run_args), fh)
    torch.manual_seed(command["seed"])
    cls = densitymodel.PainnDensityModel if command["painn"] else densitymodel.DensityModel
    net = cls(run_args.num_interactions, run_args.node_size, run_args.cutoff)
    state = {"model": net.state_dict(), "step": 0, "best_val_mae": float("inf")}
    torch.save(state, os.path.join(command["dir"], "best_model.pth"))
    return {"parameters": sum(p.numel() for p in net.parameters())}


def predict(command: dict, models: dict) -> dict:
    import dataset
    import densitymodel
    import numpy as np
    import predict_with_model as pwm
    import torch

    torch.set_num_threads(command["threads"])
    if command["model_dir"] not in models:
        models[command["model_dir"]] = pwm.load_model(command["model_dir"], "cpu")
    model, cutoff = models[command["model_dir"]]
    model.eval()
    density_dict = pwm.load_atoms(command["xyz"], command["vacuum"], command["grid_step"])
    grid = density_dict["grid_position"]
    n0, plane = int(grid.shape[0]), int(grid.shape[1] * grid.shape[2])
    keep = min(n0, max(2, command["points"] // plane)) if command["points"] else n0
    first = (n0 - keep) // 2
    grid.scaled_grid_vectors[0] = grid.scaled_grid_vectors[0][first : first + keep]
    grid.shape[0] = keep

    painn = isinstance(model, densitymodel.PainnDensityModel)
    values = []
    t0 = time.perf_counter()
    with torch.no_grad():
        graph_dict = dataset.CollateFuncAtoms(cutoff=cutoff, pin_memory=False, set_pbc_to=None)([density_dict])
        batch = dict(graph_dict)
        atom_rep = model.atom_model(batch)
        iterator = iter(dataset.DensityGridIterator(density_dict, 5000, cutoff, set_pbc_to=None))
        for _ in range(iterator.num_slices):
            probe_dict = dataset.collate_list_of_dicts([next(iterator)])
            for key in ("probe_edges", "probe_edges_displacement", "probe_xyz", "num_probe_edges", "num_probes"):
                batch[key] = probe_dict[key]
            density = model.probe_model(batch, *atom_rep) if painn else model.probe_model(batch, atom_rep)
            values.append(density.cpu().numpy().ravel())
    seconds = time.perf_counter() - t0
    for worker in iterator.workers:
        worker.join()
    np.save(command["out"], np.concatenate(values).astype(np.float32))
    atoms = density_dict["atoms"]
    return {
        "seconds": seconds,
        "num_points": int(np.prod(grid.shape[:3])),
        "axes": [np.asarray(v, dtype=float).tolist() for v in grid.scaled_grid_vectors],
        "cell": atoms.cell.array.tolist(),
        "origin": np.asarray(density_dict["origin"], dtype=float).ravel().tolist(),
        "positions": atoms.positions.tolist(),
        "numbers": atoms.numbers.tolist(),
        "pbc": atoms.pbc.tolist(),
    }


if __name__ == "__main__":
    main()
