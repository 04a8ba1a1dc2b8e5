"""``rhograph predict STRUCTURE… [--model M] -o OUT``: the predicted density on a full grid.

One structure → ``-o`` is the output file (format by name: ``.cube``, ``*CHGCAR*``, ``.npy``/``.npz``, plus
``.gz``/``.zz``/``.lz4``/``.zst``). Several structures → ``-o`` is a directory and each gets
``<stem>.<--format>``. The model is loaded once (without ``--model``: the bundled model that covers each
structure's elements). The density alone is streamed to cube, CHGCAR and ``.npy`` files chunk by chunk
(memory stays at a few chunks whatever the grid); derived fields, ``--uncertainty`` and ``.npz`` need the
whole grid in memory. Under ``torchrun`` (``WORLD_SIZE`` > 1) the grid is split
over the processes (gloo on CPU, NCCL on CUDA) and rank 0 writes.

An ensemble (``--model RUN_DIR`` of ``rhograph train --ensemble K``, or ``--model a.pt --model b.pt``)
predicts the member mean; ``--uncertainty`` also writes the member standard deviation as ``<name>.std.<ext>`` and
prints the expected ε_mae.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from rhograph.errors import ConfigError, RhographError

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
    p.add_argument(
        "-o",
        "--output",
        required=True,
        output_kind=None,  # a file or a folder: checked in run() once the structures are known
        help="output file (one structure) or directory (several)",
    )
    p.add_argument(
        "--model",
        action="append",
        default=None,
        help="bundled model name, rhograph checkpoint, or DeepDFT model folder (default: the bundled model that "
        "covers the structure's elements; `rhograph models` lists them); an ensemble "
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
    p.add_argument(
        "--index", type=parse_index, default="-1", help="frame(s) of multi-frame files: -1 (last), 0, ':' (all)"
    )
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
        "--overwrite",
        action="store_true",
        help="replace output files even when they are read-only (writable ones are always replaced)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list (one object per structure: output files, grid, ∫ρ dV, timings) instead of text",
    )
    p.add_argument(
        "--allow-unseen-elements",
        action="store_true",
        help="warn instead of failing when the structure has elements the model never saw",
    )
    p.set_defaults(func=run)
    return p


def parse_index(text: str) -> int | slice:
    """``--index``: a frame number (negative counts from the end) or a slice ``start:stop[:step]``."""
    try:
        if ":" not in text:
            return int(text)
        parts = [int(part) if part.strip() else None for part in text.split(":")]
        if len(parts) > 3:
            raise ValueError
        return slice(*parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a frame number (0, -1) or a slice (':', '0:10'), got {text!r}"
        ) from None


def _frames(path: str, index: int | slice):
    """The frames of ``path`` that ``index`` selects; an index past the end names the file and its frames."""
    from rhograph.inference.structures import read_structures

    frames = read_structures(path, index=":")
    if isinstance(index, slice):
        chosen = frames[index]
        if not chosen:
            raise ConfigError(f"{path}: --index selects no frame of the {len(frames)} the file holds")
        return chosen
    if not -len(frames) <= index < len(frames):
        raise ConfigError(
            f"{path}: --index {index} is out of range: the file holds {len(frames)} frame(s) "
            f"(0..{len(frames) - 1}, or -1 for the last)"
        )
    return [frames[index]]


def _check_output(target: Path, many: bool, fmt: str, overwrite: bool) -> None:
    """Before any work: the output format is known and the file (or folder) can be written."""
    from rhograph.io.atomic import check_writable
    from rhograph.io.formats import density_format

    if many:
        check_writable(target / f"probe{_FORMAT_SUFFIX[fmt]}", overwrite=overwrite)
        return
    try:
        density_format(target)
    except RhographError:
        raise ConfigError(
            f"-o {target}: unknown output format; name it *.cube, *CHGCAR*, *.npy or *.npz "
            "(optionally + .gz/.zz/.lz4/.zst), or give a folder (ending in /) for several structures"
        ) from None
    check_writable(target, overwrite=overwrite)


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
    from rhograph.inference.model_source import LoadedModel, choose_bundled, resolve_model
    from rhograph.inference.predict import (
        PredictOptions,
        device_of,
        expected_electrons,
        predict,
        predict_to_file,
        summary_line,
        summary_record,
        timed_progress,
        write_prediction,
    )
    from rhograph.io.formats import density_format, read_density
    from rhograph.io.stream import STREAMABLE_FORMATS

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
    output = Path(args.output)
    many_given = args.output.endswith(os.sep) or output.is_dir() or len(args.structures) > 1
    if rank == 0:
        _check_output(output, many_given, args.format, args.overwrite)
    loaded = None if args.model is None else resolve_model(args.model, device=device)
    if args.uncertainty and (loaded is None or not loaded.is_ensemble):
        raise ConfigError(
            f"--uncertainty needs an ensemble; {loaded.name if loaded else 'the bundled model'} is one model "
            "(pass an ensemble run folder or "
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
    many = len(jobs) > 1 or many_given
    targets = [output / f"{stem}{_FORMAT_SUFFIX[args.format]}" if many else output for _, stem, _ in jobs]
    if many and rank == 0:  # every file before the first prediction (read-only ones are refused)
        for target in targets:
            _check_output(target, False, args.format, args.overwrite)
    summaries = []
    bundled: dict[str, LoadedModel] = {}  # without --model: the bundled model covering each structure, loaded once
    for (label, _, atoms), target in zip(jobs, targets, strict=True):
        model = loaded
        if model is None:
            name = choose_bundled(atoms.numbers, allow_unseen=args.allow_unseen_elements, source=label)
            if name not in bundled and rank == 0:
                print(f"model: {name} (bundled, chosen by the elements of {label})")
            model = bundled[name] if name in bundled else bundled.setdefault(name, resolve_model(name, device=device))
        if world_size == 1 and not derived and not args.uncertainty and density_format(target) in STREAMABLE_FORMATS:
            # density only: streamed to the file chunk by chunk, so any grid fits in memory
            result = predict_to_file(
                atoms, target, model, like=like, options=options, device=device,
                progress=timed_progress(label), source=label,
            )  # fmt: skip
            written = [target]
        else:
            result = predict(
                atoms,
                model,
                like=like,
                options=options,
                device=device,
                rank=rank,
                world_size=world_size,
                progress=timed_progress(label),
                source=label,
            )
            if rank != 0:
                continue
            written = write_prediction(target, result)
        expected = expected_electrons(result.atoms, model)
        if args.json:
            summaries.append(summary_record(label, result, expected, written))
        else:
            print(summary_line(label, result, expected))
            for path in written:
                print(f"  wrote {path}")
    if args.json and rank == 0:
        print(json.dumps(summaries, indent=2))
    if world_size > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return 0
