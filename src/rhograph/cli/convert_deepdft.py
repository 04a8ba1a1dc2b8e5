"""``rhograph convert-deepdft MODEL_DIR -o model.pt``: import a released DeepDFT model folder.

MODEL_DIR holds ``arguments.json`` and ``best_model.pth`` from the original DeepDFT code (e.g. the
pretrained ``qm9_painn`` or ``nmc_schnet`` folders). The weights are checked against the architecture
described by ``arguments.json`` and written as a rhograph checkpoint, which loads with
``rhograph.load_model`` and is accepted by ``--model`` everywhere. (Folders are also accepted directly
wherever a model is; converting once avoids re-validating and keeps the folder's metadata in one file.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model_dir", help="DeepDFT model folder (arguments.json + best_model.pth)")
    parser.add_argument(
        "-o",
        "--output",
        output_kind="file",
        help="rhograph checkpoint to write (default: MODEL_DIR name + .pt beside the folder)",
    )
    parser.add_argument("-f", "--force", action="store_true", help="overwrite an existing output file")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from rhograph.models.deepdft import convert_deepdft

    model_dir = Path(args.model_dir)
    output = Path(args.output) if args.output else model_dir.resolve().with_suffix(".pt")
    if output.exists() and not args.force:
        print(f"rhograph convert-deepdft: error: {output} exists; pass --force to replace it", file=sys.stderr)
        return 1
    loaded = convert_deepdft(model_dir, output, overwrite=True)
    pbc = (
        "ignored" if loaded.metadata["ignore_pbc"] else ("forced" if loaded.metadata["force_pbc"] else "from structure")
    )
    print(f"converted {model_dir} -> {output}")
    print(f"  model:      {loaded.config.describe()}")
    print(f"  parameters: {loaded.model.num_parameters():,}")
    print(f"  trained with periodic boundaries {pbc}")
    for name in ("step", "best_val_mae"):
        if name in loaded.metadata:
            print(f"  {name}: {loaded.metadata[name]}")
    return 0
