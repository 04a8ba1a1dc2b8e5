"""``rhograph train``: train a DeepDFT model on a dataset of CHGCAR / cube files (the paper's recipe).

Examples::

    rhograph train qm9.txt --preset deepdft-painn --split datasplits.json --out runs/qm9_painn
    rhograph train --out runs/qm9_painn --resume                  # continue from last.pt
    rhograph train data/ --out runs/small --set model.hidden_size=64 --set val_every=1000
    torchrun --nproc_per_node=4 -m rhograph.cli.main train qm9.txt --out runs/ddp   # data-parallel
    rhograph train data/ --out runs/ens --ensemble 5                   # 5 members: runs/ens/member-0..4
    rhograph train mydata/ --out runs/ft --init-from qm9-painn-delta \
        --set model.hidden_size=64                                     # fine-tune the bundled model

Option precedence: defaults (the paper's setup) < ``RUN_DIR/config.yaml`` when resuming < ``--config``
< the dedicated flags < ``--set``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rhograph.errors import ConfigError, RhographError

if TYPE_CHECKING:
    from rhograph.train.config import TrainConfig

log = logging.getLogger(__name__)


def add_parser(subparsers: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description="Train a DeepDFT model on a dataset of CHGCAR / cube files (the paper's recipe).",
        epilog="Every TrainConfig field can be set with --set KEY=VALUE (or in the YAML given to --config); "
        "model preset fields with --set model.FIELD=VALUE. See docs/training.md.",
    )
    parser.add_argument("data", nargs="?", help="dataset: directory, .tar, or .txt list of tars")
    parser.add_argument("--out", required=True, type=Path, help="run directory (checkpoints, config, logs)")
    parser.add_argument("--preset", help="model preset (default rhograph-painn; `rhograph models` lists them)")
    parser.add_argument("--config", type=Path, help="YAML file of training options")
    parser.add_argument("--max-steps", type=int, help="number of gradient steps")
    parser.add_argument("--split", type=Path, help="JSON split file with train/validation/test index lists")
    parser.add_argument("--train-size", type=int, help="train on this many structures (nested subsets)")
    parser.add_argument("--seed", type=int, help="seed of split, data stream, probes and initialisation")
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--num-workers", type=int, help="data-loading worker processes per rank")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from last.pt (starts it if there is none yet)"
    )
    parser.add_argument(
        "--ensemble",
        type=int,
        metavar="K",
        help="train K members (seeds seed..seed+K-1) in OUT/member-0..K-1 on one split (ensemble_size)",
    )
    parser.add_argument(
        "--init-from",
        metavar="MODEL",
        help="fine-tune: start from the weights of a checkpoint, DeepDFT folder or bundled model name (init_from)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any training option (VALUE is parsed as YAML); repeatable",
    )
    parser.set_defaults(func=run)
    return parser


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["lr=0.001", "model.hidden_size=64"]`` → ``{"lr": 0.001, "model": {"hidden_size": 64}}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        value = yaml.safe_load(text) if text.strip() else None
        if key.startswith("model."):
            out.setdefault("model", {})[key.removeprefix("model.")] = value
        else:
            out[key] = value
    return out


def resolve_config(args: argparse.Namespace) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The TrainConfig of this invocation and, when resuming, the run's previous config as a dict."""
    from rhograph.train.config import load_train_config
    from rhograph.train.rundir import read_config

    flags = {
        "data": str(Path(args.data).resolve()) if args.data else None,
        "preset": args.preset,
        "max_steps": args.max_steps,
        "split_file": str(args.split.resolve()) if args.split else None,
        "train_size": args.train_size,
        "seed": args.seed,
        "device": args.device,
        "num_workers": args.num_workers,
        "ensemble_size": args.ensemble,
        "init_from": _model_source(args.init_from) if args.init_from else None,
    }
    overrides = {k: v for k, v in flags.items() if v is not None}
    extra = parse_overrides(args.overrides)
    overrides["model"] = extra.pop("model", {})
    overrides.update(extra)
    base = read_config(args.out).to_dict() if args.resume else None
    config = load_train_config(args.config, overrides, base=base)
    if not config.data:
        raise ConfigError("no dataset given: pass DATA (or `data:` in --config)")
    return config, base


def _model_source(text: str) -> str:
    """An existing path as an absolute path (recorded in config.yaml); anything else (a bundled name) as is."""
    return str(Path(text).resolve()) if Path(text).exists() else text


def _run_ensemble(config: TrainConfig, args: argparse.Namespace) -> int:
    from rhograph.train.ensemble import train_ensemble

    try:
        result = train_ensemble(config, args.out, resume=args.resume)
    except RhographError as exc:
        print(f"rhograph train: error: {exc}", file=sys.stderr)
        return 1
    for index, member in enumerate(result.members):
        if member is None:
            print(f"member {index}: already finished")
        elif member.best_val_mae is not None:
            print(
                f"member {index}: step {member.step} ({member.stop_reason}): best validation MAE "
                f"{member.best_val_mae:.4g} e/Å³ at step {member.best_step}"
            )
    print(f"ensemble of {config.ensemble_size} in {args.out} (load it with --model {args.out})")
    if result.signal_number is not None:
        print(f"interrupted; continue with: rhograph train --out {args.out} --resume")
        return 128 + result.signal_number
    return 0


def run(args: argparse.Namespace) -> int:
    from rhograph.train import rundir
    from rhograph.train.loop import train

    if args.resume and not any(Path(args.out).glob(f"**/{rundir.LAST_NAME}")):  # members of an ensemble too
        # Nothing saved yet (a first piece, or one stopped before its first checkpoint): `--resume` starts the run,
        # so that one command runs every piece of a long training.
        recorded = Path(args.out) / rundir.CONFIG_NAME
        if args.config is None and recorded.is_file():
            args.config = str(recorded)
        log.info("%s holds no checkpoint to resume from: starting the run", args.out)
        args.resume = False
    try:
        config, base = resolve_config(args)
    except RhographError as exc:
        print(f"rhograph train: error: {exc}", file=sys.stderr)
        return 2
    if base is not None:
        changed = sorted(k for k, v in config.to_dict().items() if base.get(k) != v)
        if changed:
            log.warning("resuming with changed options %s; the run will not match an uninterrupted one", changed)
    if config.ensemble_size > 1:
        return _run_ensemble(config, args)
    try:
        result = train(config, args.out, resume=args.resume)
    except RhographError as exc:
        print(f"rhograph train: error: {exc}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 reports
        return 128 + result.signal_number if result.signal_number is not None else 0
    if result.best_val_mae is not None:
        nmae = f"; latest NMAE {100 * result.last_metrics.nmae:.3f} %" if result.last_metrics else ""
        print(
            f"step {result.step} ({result.stop_reason}): best validation MAE {result.best_val_mae:.4g} e/Å³ "
            f"at step {result.best_step}{nmae}"
        )
    written = [args.out / name for name in ("best.pt", "last.pt") if (args.out / name).exists()]
    print(f"checkpoints: {', '.join(map(str, written)) or 'none'}")
    if not (args.out / "best.pt").exists():
        print(f"no best.pt: no validation ran in {result.step} step(s) (val_every={config.val_every})")
    if result.signal_number is not None:
        print(f"interrupted; continue with: rhograph train --out {args.out} --resume")
        return 128 + result.signal_number
    return 0
