"""Package a trained run as a bundled model: weights + model card (JSON) in src/rhograph/pretrained/.

Usage:
    python examples/bundle_model.py RUN_DIR EVAL_DIR DATA_DIR --name qm9-painn-small

RUN_DIR is a `rhograph train` run (best.pt, config.yaml, val_log.csv, train_log.csv), EVAL_DIR the output of
`rhograph evaluate` of RUN_DIR/best.pt on the test split, DATA_DIR the `rhograph data qm9` or
`rhograph data nmc` folder. The
checkpoint is re-saved without optimiser state (only config + state_dict + metadata), and the card records
data, training steps and time, validation and test metrics, the elements covered and the electron count per
element of the (valence) labels, so that `rhograph predict` can check ∫ρ dV.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
from pathlib import Path

import yaml
from ase.data import atomic_numbers

import rhograph
from rhograph.io.atomic import atomic_open
from rhograph.models.checkpoint import load_checkpoint, load_model, save_checkpoint

#: valence electrons of the GTH-PBE pseudopotentials (rhograph label's default valence density)
GTH_VALENCE = {1: 1, 6: 4, 7: 5, 8: 6, 9: 7}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--name", default="qm9-painn-small")
    parser.add_argument(
        "--earlier",
        type=Path,
        action="append",
        default=[],
        help="run folders of earlier stages, oldest first (RUN_DIR was initialised from the last one's checkpoint)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "src" / "rhograph" / "pretrained")
    args = parser.parse_args()

    checkpoint = load_checkpoint(args.run_dir / "best.pt")
    model = load_model(args.run_dir / "best.pt")
    elements = sorted(int(z) for z in checkpoint["metadata"]["elements"])
    weights = args.out / f"{args.name}.pt"
    save_checkpoint(weights, model, metadata={"elements": elements})

    config = yaml.safe_load((args.run_dir / "config.yaml").read_text())
    for key in ("data", "split_file"):  # machine-specific paths → relative to the data folder's parent
        if config.get(key):
            path = Path(config[key]).resolve()
            root = args.data_dir.resolve().parent
            config[key] = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
    with open(args.run_dir / "val_log.csv", newline="") as fh:
        validations = list(csv.DictReader(fh))
    with open(args.run_dir / "train_log.csv", newline="") as fh:
        train_rows = list(csv.DictReader(fh))
    best = min(validations, key=lambda r: float(r["val_mae"]))
    summary = json.loads((args.eval_dir / "summary.json").read_text())
    split = json.loads((args.data_dir / "split.json").read_text())
    manifest = json.loads((args.data_dir / "densities" / "manifest.json").read_text())
    settings = manifest.get("settings", {})
    stages = [_stage(run) for run in [*args.earlier, args.run_dir]]
    plot = Path(__file__).parents[1] / "docs" / "img" / f"{args.name}_learning_curve.png"
    if (args.run_dir / "learning_curve.png").is_file():
        plot.write_bytes((args.run_dir / "learning_curve.png").read_bytes())
    nmc = (args.data_dir / "nmc_set.json").is_file()
    count = sum(len(v) for v in split.values())
    if nmc:
        valence = {}
        for entry in manifest["structures"].values():
            for symbol, electrons in (entry.get("setup_valence") or {}).items():
                valence[str(atomic_numbers[symbol])] = electrons
        density = "GPAW pseudo (valence) density with the PAW compensation charges, as a VASP CHGCAR, e/Å³"
        source = "layered Li(Ni,Co,Mn)O2 cells of `rhograph data nmc --seed 0`, labelled with GPAW (PBE, PAW)"
        recipe = f"rhograph data nmc --count {count} --seed 0 -o DIR --all-electron"
        grid = "the label's own grid (0.2 Å)"
    else:
        valence = {str(z): GTH_VALENCE[z] for z in elements if z in GTH_VALENCE}
        density = "valence (GTH-PBE pseudopotential), e/Å³"
        source = "QM9 geometries (qm9pack), labelled with PySCF by `rhograph data qm9`"
        growing = json.loads((args.data_dir / "qm9_subset.json").read_text()).get("order")
        recipe = f"rhograph data qm9 --count {count} --seed 0 " + ("--growing " if growing else "")
        recipe += "-o DIR --compact --no-grid"
        grid = "the full 0.15 Å grid"
    baseline_settings = {} if model.config.baseline is None else dict(model.config.baseline.settings)
    fitted = str(baseline_settings.get("source", "")).startswith("fitted")
    card = {
        "name": args.name,
        "model": model.config.describe(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "elements": elements,
        "density": density,
        "electrons_per_element": valence,
        "data": {
            "source": source,
            "recipe": recipe,
            "label_settings": settings,
            "train": len(split["train"]),
            "validation": len(split["validation"]),
            "test": len(split["test"]),
        },
        "training": {
            "config": config,
            "steps": int(train_rows[-1]["step"]) if train_rows else 0,
            "best_step": int(best["step"]),
            "best_val_mae": float(best["val_mae"]),
            "best_val_nmae_percent": 100 * float(best["val_nmae"]),
            "wall_time_s": float(train_rows[-1].get("elapsed_s", "nan")) if train_rows else None,
            "stages": stages,
            "steps_all_stages": sum(stage["steps"] for stage in stages),
            "wall_time_all_stages_s": sum(stage["wall_time_s"] for stage in stages),
            "learning_curve": f"docs/img/{plot.name}" if plot.is_file() else None,
        },
        "test": {k: summary[k] for k in ("count", "mean", "median", "p95", "max") if k in summary},
        "test_metric": f"ε_mae = ∫|ρ−ρ̂| dV / ∫|ρ| dV in percent over {grid} (paper eq. 1)",
        "nonnegative": model.config.nonnegative,
        "atomic_baseline": None
        if model.config.baseline is None
        else {
            "elements": list(model.config.baseline.elements),
            "spline_knots": model.config.baseline.num_points,
            "what": "per-element radial densities fitted to the training densities (baseline: fit)"
            if fitted
            else "spherically averaged free-atom densities (PySCF, the label settings, lowest-energy spin)",
            **baseline_settings,
        },
        "rhograph_version": rhograph.__version__,
        "created": datetime.date.today().isoformat(),
    }
    with atomic_open(args.out / f"{args.name}.json", "w") as fh:
        json.dump(card, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    print(json.dumps(card, indent=2, ensure_ascii=False))
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB)")


def _stage(run_dir: Path) -> dict:
    """Steps, wall time, initialisation and training-set size of one training run (a stage of the model)."""
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    with open(run_dir / "train_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    split = json.loads((run_dir / "split.json").read_text())
    return {
        "run": run_dir.name,
        "init_from": config.get("init_from"),
        "train_structures": len(split["train"]),
        "validation_structures": len(split["validation"]),
        "steps": int(rows[-1]["step"]) if rows else 0,
        "wall_time_s": float(rows[-1]["elapsed_s"]) if rows else 0.0,
        "lr": config.get("lr"),
        "lr_decay": config.get("lr_decay"),
        "lr_decay_steps": config.get("lr_decay_steps"),
    }


if __name__ == "__main__":
    main()
