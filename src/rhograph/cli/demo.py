"""``rhograph demo``: predict the density of a bundled molecule with the bundled model.

Writes ``OUT/<molecule>.cube`` and a PNG of density slices; if the package ships a DFT reference density of
the same molecule, the prediction is made on the reference grid and its error ε_mae (paper eq. 1) is printed.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help=help_text, description=__doc__)
    p.add_argument("-o", "--output", default="demo-out", help="output directory (default demo-out)")
    p.add_argument("--molecule", default="water", help="bundled example molecule (default water)")
    p.add_argument("--model", default=None, help="model to use instead of the bundled default")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.set_defaults(func=run)
    return p


def example_path(name: str) -> Path:
    """Path of a file shipped in ``rhograph/examples``."""
    return Path(str(resources.files("rhograph") / "examples" / name))


def run(args: argparse.Namespace) -> int:
    from rhograph.analysis.metrics import nmae
    from rhograph.analysis.plots import plot_density_slices
    from rhograph.errors import StructureError
    from rhograph.inference.model_source import resolve_model
    from rhograph.inference.predict import (
        device_of,
        expected_electrons,
        predict,
        summary_line,
        timed_progress,
        write_prediction,
    )
    from rhograph.inference.structures import read_structures
    from rhograph.io.formats import read_density

    xyz = example_path(f"{args.molecule}.xyz")
    if not xyz.is_file():
        available = sorted(p.name for p in example_path("").glob("*.xyz"))
        raise StructureError(f"{xyz}: no bundled example molecule {args.molecule!r} (available: {available})")
    reference_path = example_path(f"{args.molecule}.cube.gz")
    reference = read_density(reference_path) if reference_path.is_file() else None

    device = device_of(args.device)
    loaded = resolve_model(args.model, device=device)
    atoms = read_structures(xyz)[0]
    grid = predict(
        atoms,
        loaded,
        like=reference,
        device=device,
        progress=timed_progress(args.molecule),
        source=str(xyz),
        grid_step=0.1,
    )
    out = Path(args.output)
    cube = out / f"{args.molecule}.cube"
    write_prediction(cube, grid)
    print(summary_line(args.molecule, grid, expected_electrons(grid.atoms, loaded)))
    print(f"  model: {loaded.name}")
    print(f"  wrote {cube}")
    if reference is not None:
        error = nmae(reference.values, grid.values, reference.voxel_volume)
        print(f"  ε_mae against the bundled DFT reference ({reference_path.name}): {error:.2f} %")
    png = plot_density_slices(out / f"{args.molecule}_slices.png", grid, reference=reference)
    print(f"  wrote {png}")
    return 0
