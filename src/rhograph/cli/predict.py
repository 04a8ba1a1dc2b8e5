"""``rhograph predict STRUCTURE… [--model M] -o OUT``: the predicted density on a full grid.

One structure → ``-o`` is the output file (format by name: ``.cube``, ``*CHGCAR*``, ``.npy``/``.npz``, plus
``.gz``/``.zz``/``.lz4``/``.zst``). Several structures → ``-o`` is a directory and each gets
``<stem>.<--format>``. The model is loaded once. Under ``torchrun`` (``WORLD_SIZE`` > 1) the grid is split
over the processes (gloo on CPU, NCCL on CUDA) and rank 0 writes.

An ensemble (``--model RUN_DIR`` of ``rhograph train --ensemble K``, or ``--model a.pt --model b.pt``)
predicts the member mean; ``--uncertainty`` also writes the member standard deviation as ``<name>.std.<ext>`` and
prints the expected ε_mae.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

_FORMAT_SUFFIX = {
    "cube": ".cube",
    "cube.gz": ".cube.gz",
    "chgcar": "_CHGCAR",
    "chgcar.gz": "_CHGCAR.gz",
    "npy": ".npy",
    "npz": ".npz",
}


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("structures", nargs="+", help="structure files (xyz, extxyz, cif, POSCAR, CHGCAR, cube, ...)")
    p.add_argument("-o", "--output", required=True, help="output file (one structure) or directory (several)")
    p.add_argument(
        "--model",
        action="append",
        default=None,
        help="bundled model name, rhograph checkpoint, or DeepDFT model folder (default: bundled); an ensemble "
        "run folder (member-0, member-1, ...) or a repeated --model makes an ensemble (the mean is predicted)",
    )
    p.add_argument(
        "--uncertainty",
        action="store_true",
        help="with an ensemble: also write the member standard deviation per voxel (<name>.std.<ext>) and "
        "print the expected ε_mae",
    )
    p.add_argument("--grid-step", type=float, default=0.1, help="grid spacing in Å (default 0.1)")
    p.add_argument("--grid", type=int, nargs=3, metavar=("N1", "N2", "N3"), help="explicit grid shape")
    p.add_argument("--like", help="predict on the grid of this reference CHGCAR/cube file")
    p.add_argument("--vacuum", type=float, default=4.0, help="Å of vacuum around molecules (default 4)")
    p.add_argument("--pbc", choices=["auto", "on", "off"], default="auto", help="override periodicity")
    p.add_argument("--index", default="-1", help="frame(s) of multi-frame files: -1 (last), 0, ':' (all)")
    p.add_argument(
        "--format",
        choices=sorted(_FORMAT_SUFFIX),
        default="cube",
        help="output format when -o is a directory (default cube)",
    )
    p.add_argument("--gradient", action="store_true", help="also write ∇ρ (e/Å⁴)")
    p.add_argument("--hessian-eigenvalues", action="store_true", help="also write the Hessian eigenvalues")
    p.add_argument("--iri", action="store_true", help="also write IRI = |∇ρ|/ρ^1.1")
    p.add_argument("--dori", action="store_true", help="also write DORI")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--chunk-size", type=int, default=None, help="probes per decoder call (default: from memory)")
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the probe decoder (one-off ~30-60 s compilation; pays with one thread per process)",
    )
    p.add_argument(
        "--allow-unseen-elements",
        action="store_true",
        help="warn instead of failing when the structure has elements the model never saw",
    )
    p.set_defaults(func=run)
    return p


def _frames(path: str, index: str):
    from rhograph.inference.structures import read_structures

    idx: str | int = index if ":" in index else int(index)
    return read_structures(path, index=idx)


def _distributed():
    """(rank, world_size, device) from torchrun's environment; initialises the process group."""
    import torch
    import torch.distributed as dist

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return 0, 1, None
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    device = f"cuda:{local_rank}" if use_cuda else "cpu"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    return rank, world_size, device


def run(args: argparse.Namespace) -> int:
    from rhograph.inference.model_source import resolve_model
    from rhograph.inference.predict import (
        PredictOptions,
        device_of,
        expected_electrons,
        predict,
        summary_line,
        timed_progress,
        write_prediction,
    )
    from rhograph.io.formats import read_density

    derived = tuple(
        name
        for name, flag in (
            ("gradient", args.gradient),
            ("hessian_eigenvalues", args.hessian_eigenvalues),
            ("iri", args.iri),
            ("dori", args.dori),
        )
        if flag
    )
    options = PredictOptions(
        grid_step=args.grid_step,
        vacuum=args.vacuum,
        grid_shape=tuple(args.grid) if args.grid else None,
        pbc=args.pbc,
        derived=derived,
        chunk_size=args.chunk_size,
        compile=args.compile,
        unseen_elements="warn" if args.allow_unseen_elements else "error",
        uncertainty=args.uncertainty,
    )
    rank, world_size, dist_device = _distributed()
    device = device_of(dist_device or args.device)
    loaded = resolve_model(args.model, device=device)
    if args.uncertainty and not loaded.is_ensemble:
        raise ValueError(
            f"--uncertainty needs an ensemble; {loaded.name} is one model (pass an ensemble run folder or "
            "several --model checkpoints)"
        )
    like = read_density(args.like) if args.like else None

    jobs = []
    for path in args.structures:
        frames = _frames(path, args.index)
        for i, atoms in enumerate(frames):
            label = Path(path).name if len(frames) == 1 else f"{Path(path).name}[{i}]"
            stem = Path(path).name.split(".")[0] + ("" if len(frames) == 1 else f"_{i}")
            jobs.append((label, stem, atoms))
    output = Path(args.output)
    many = len(jobs) > 1 or args.output.endswith(os.sep) or output.is_dir()
    if many:
        output.mkdir(parents=True, exist_ok=True)
    for label, stem, atoms in jobs:
        target = output / f"{stem}{_FORMAT_SUFFIX[args.format]}" if many else output
        grid = predict(
            atoms,
            loaded,
            like=like,
            options=options,
            device=device,
            rank=rank,
            world_size=world_size,
            progress=timed_progress(label),
            source=label,
        )
        if rank == 0:
            written = write_prediction(target, grid)
            print(summary_line(label, grid, expected_electrons(grid.atoms, loaded)))
            for path in written:
                print(f"  wrote {path}")
    if world_size > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return 0
