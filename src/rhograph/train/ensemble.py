"""Ensembles: K models trained with different seeds in one run directory (``TrainConfig.ensemble_size``).

Layout of an ensemble run::

    RUN/config.yaml        the ensemble's TrainConfig (ensemble_size K; read back by --resume)
    RUN/split.json         one split for every member (so that their test sets agree)
    RUN/member-k/          member k = 0..K-1: a normal run directory (config, checkpoints, logs), trained
                           with seed + k on RUN/split.json

Members differ in the seed of the model initialisation, the data stream and the validation probes; they
share the split. They are trained one after the other; ``resume=True`` skips finished members (step ≥
``max_steps``), resumes an interrupted one from its ``last.pt`` and starts the others. A member stopped by
a signal stops the ensemble.

The trained ensemble loads as one model from the run folder (``rhograph predict --model RUN``, see
:mod:`rhograph.models.ensemble`): each member's ``best.pt``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from rhograph.data.pool import TargetSource
from rhograph.errors import ConfigError
from rhograph.models.ensemble import member_dir
from rhograph.train import rundir
from rhograph.train.checkpoints import load_training_state
from rhograph.train.config import TrainConfig
from rhograph.train.loop import TrainResult, train
from rhograph.train.model_setup import open_source

log = logging.getLogger(__name__)

__all__ = ["EnsembleResult", "member_config", "train_ensemble"]


@dataclass
class EnsembleResult:
    """Outcome of :func:`train_ensemble`.

    Args:
        run_dir: the ensemble's directory.
        members: the result of every member trained or resumed in this call (finished members that were
            skipped have ``None``), in member order; members not reached (after a signal) are absent.
    """

    run_dir: Path
    members: list[TrainResult | None]

    @property
    def signal_number(self) -> int | None:
        """The signal that stopped the last member trained, if any."""
        last = next((m for m in reversed(self.members) if m is not None), None)
        return None if last is None else last.signal_number

    @property
    def complete(self) -> bool:
        return self.signal_number is None


def member_config(config: TrainConfig, index: int, split_file: Path) -> TrainConfig:
    """The config of member ``index``: one model, seed ``seed + index``, the ensemble's split (already
    reduced to ``train_size``)."""
    return config.replace(ensemble_size=1, seed=config.seed + index, split_file=str(split_file), train_size=None)


def _member_step(directory: Path) -> int | None:
    """Step of ``directory/last.pt``, or ``None`` if the member has no checkpoint yet."""
    last = directory / rundir.LAST_NAME
    if not last.exists():
        return None
    _, state = load_training_state(last)
    return state.step


def train_ensemble(
    config: TrainConfig,
    run_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    source: TargetSource | None = None,
) -> EnsembleResult:
    """Train ``config.ensemble_size`` members in ``run_dir`` (see the module docstring).

    Args:
        config: the ensemble's config (``ensemble_size`` ≥ 1).
        run_dir: the ensemble's directory.
        resume: continue an ensemble run (finished members are skipped); without it ``run_dir`` must not
            hold one.
        source: target source (default: the dataset at ``config.data``).

    Raises:
        ValueError: a new run in a directory holding a run, or no dataset.
        FileNotFoundError: resuming a directory without an ensemble run.
        RunDirLockedError: another process is training into ``run_dir``.
    """
    run_dir = Path(run_dir)
    held = (run_dir / rundir.LAST_NAME).exists() or any(
        (member_dir(run_dir, k) / rundir.LAST_NAME).exists() for k in range(max(config.ensemble_size, 1))
    )
    if resume and not (run_dir / rundir.CONFIG_NAME).exists():
        raise FileNotFoundError(2, "no ensemble run to resume (no config.yaml)", str(run_dir / rundir.CONFIG_NAME))
    if resume and (run_dir / rundir.LAST_NAME).exists():
        raise ConfigError(
            f"{run_dir} holds a single-model run (last.pt), not an ensemble; resume it without ensemble_size"
        )
    if not resume and held:
        raise ConfigError(
            f"{run_dir} already holds a training run; pass --resume to continue it or choose another output directory"
        )
    if source is None:
        if not config.data:
            raise ConfigError("no dataset: set TrainConfig.data (or pass a target source)")
        source = open_source(config.data, pbc=config.pbc)
    run_dir.mkdir(parents=True, exist_ok=True)
    with rundir.RunLock(run_dir):  # the members lock their own folders
        return _train_members(config, run_dir, source)


def _train_members(config: TrainConfig, run_dir: Path, source: TargetSource) -> EnsembleResult:
    split_path = run_dir / rundir.SPLIT_NAME
    rundir.write_config(run_dir, config)
    if not split_path.exists():
        rundir.resolve_split(config, len(source), run_dir, resume=False)  # writes split.json

    results: list[TrainResult | None] = []
    for index in range(config.ensemble_size):
        directory = member_dir(run_dir, index)
        member = member_config(config, index, split_path.resolve())
        step = _member_step(directory)
        if step is not None and step >= member.max_steps:
            log.info("ensemble member %d/%d: done (step %d)", index + 1, config.ensemble_size, step)
            results.append(None)
            continue
        log.info(
            "ensemble member %d/%d (seed %d): %s",
            index + 1,
            config.ensemble_size,
            member.seed,
            "starting" if step is None else f"resuming at step {step}",
        )
        result = train(member, directory, resume=step is not None, source=source)
        results.append(result)
        if result.signal_number is not None:
            break
    return EnsembleResult(run_dir=run_dir, members=results)
