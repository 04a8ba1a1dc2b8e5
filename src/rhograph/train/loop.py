"""The training loop: the paper's recipe, resumable, with timing of data wait vs compute.

One gradient step: take the next batch of the rotating-pool stream (2 structures × 1000 probes, built in
DataLoader workers), predict the probe densities, MSE loss in (e/Å³)², Adam step, learning-rate decay
``lr · 0.96^(step / 1e5)``. Every ``val_every`` steps: MAE / RMSE / NMAE on the fixed validation probes,
``best.pt`` on a new lowest MAE, ``last.pt`` always. SIGINT / SIGTERM finish the current step, write
``last.pt`` and return; ``--resume`` continues from ``last.pt`` with the same optimiser, schedule, step and
generator states, and — because the batch of step ``s`` depends only on the seed and ``s`` (see
:mod:`rhograph.data.pool`) — reproduces the uninterrupted run step for step.

Time spent blocked on the data loader is measured around ``next(batches)`` and logged as the data-wait
fraction of wall time (the first batch, which includes worker start-up, is reported separately).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from rhograph import keys
from rhograph.data import batch_to
from rhograph.data.pool import ProbeBatchStream, StreamSpec, TargetSource
from rhograph.data.splits import Split
from rhograph.errors import ConfigError
from rhograph.models import build_model, preset_config
from rhograph.models.checkpoint import load_state_dict_checked
from rhograph.models.compiling import compile_module
from rhograph.models.registry import get_preset
from rhograph.train import rundir
from rhograph.train.checkpoints import (
    TrainingState,
    capture_rng,
    load_training_state,
    restore_rng,
    save_training_checkpoint,
)
from rhograph.train.config import TrainConfig
from rhograph.train.distributed import (
    DistContext,
    all_reduce_sum,
    any_rank,
    barrier,
    broadcast_object,
    init_distributed,
    shutdown,
)
from rhograph.train.finetune import init_from_pretrained
from rhograph.train.model_setup import baseline_tables, open_source
from rhograph.train.runlog import Progress, RunLogs
from rhograph.train.schedule import make_scheduler
from rhograph.train.signals import STOP_SIGNALS, StopRequest
from rhograph.train.validation import ValidationItem, ValidationMetrics, build_validation_set, evaluate

log = logging.getLogger(__name__)

_AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
#: under DDP, ranks agree on stopping every this many steps (an all-reduce; every step would sync the GPU)
_STOP_CHECK_EVERY = 10


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Args:
        run_dir: the run directory; step: gradient steps done.
        stop_reason: ``max_steps``, ``early_stop`` or ``signal:<NAME>`` (``signal:peer`` on a rank that
            stopped because another rank was signalled).
        signal_number: the signal that stopped this process, if any.
        best_val_mae, best_step: lowest validation MAE (e/Å³) and its step (``None`` if never validated).
        last_metrics: the latest validation.
        steps_per_s: mean training rate of this session; data_wait_frac: fraction of its wall time spent
            waiting for batches (after the first batch); startup_s: wait for the first batch.
    """

    run_dir: Path
    step: int
    stop_reason: str
    signal_number: int | None
    best_val_mae: float | None
    best_step: int | None
    last_metrics: ValidationMetrics | None
    steps_per_s: float
    data_wait_frac: float
    startup_s: float


def _worker_init(stopping: multiprocessing.synchronize.Event, _: int) -> None:
    """Signal handling of a DataLoader worker (runs in the worker, signals still blocked: see ``_batches``).

    Ctrl-C and SIGTERM (``kill``, a batch scheduler's time limit) reach the workers as well as the training
    process: the training process finishes its step, writes ``last.pt`` and shuts the workers down. So a
    worker ignores SIGINT, and SIGTERM until that shutdown has begun (``stopping`` set); after that, SIGTERM
    (which the DataLoader sends to a worker that does not stop in time) ends it.
    """

    def on_sigterm(signum: int, _frame: object) -> None:
        if stopping.is_set():
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


class Trainer:
    """One training run in ``run_dir`` (see :mod:`rhograph.train.rundir` for the files).

    Args:
        config: resolved training config.
        run_dir: output directory.
        resume: continue from ``run_dir/last.pt`` (the directory must hold a run); without it the
            directory must not hold one.
        source: target source to train on (default: the density dataset at ``config.data``).
        ctx: distributed context (default: from the ``torchrun`` environment).
        on_step: called as ``on_step(step, trainer)`` after every gradient step.

    The run directory is locked (:class:`~rhograph.train.rundir.RunLock`) from construction until :meth:`run`
    ends (or :meth:`close`): another process training into it raises :class:`~rhograph.errors.RunDirLockedError`.
    """

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | os.PathLike[str],
        *,
        resume: bool = False,
        source: TargetSource | None = None,
        ctx: DistContext | None = None,
        on_step: Callable[[int, Trainer], None] | None = None,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.ctx = ctx or init_distributed(config.device)
        self.on_step = on_step
        rundir.check_run_dir(self.run_dir, resume=resume, create=self.ctx.is_main)
        # One process per run directory: a second run (e.g. a duplicate --resume) is refused.
        self.lock = rundir.RunLock(self.run_dir).acquire() if self.ctx.is_main else None
        try:
            self._setup(resume, source)
        except BaseException:
            self.close()
            raise

    def _setup(self, resume: bool, source: TargetSource | None) -> None:
        config = self.config
        barrier(self.ctx)
        if self.ctx.device.type != "cuda" and config.precision != "fp32":
            raise ConfigError(f"precision={config.precision!r} needs a CUDA device; use precision=fp32 on CPU")
        if source is None and not config.data:
            raise ConfigError("no dataset: set TrainConfig.data (or pass a target source)")
        self.source = source if source is not None else open_source(config.data, pbc=config.pbc)
        split = (
            rundir.resolve_split(config, len(self.source), self.run_dir, resume=resume) if self.ctx.is_main else None
        )
        shared = broadcast_object(split, self.ctx)
        assert isinstance(shared, Split)
        self.split = shared

        torch.manual_seed(config.seed)
        self.model = self._build_model().to(self.ctx.device)
        self.cutoff = float(self.model.config.cutoff)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.scheduler = make_scheduler(self.optimizer, config.lr_decay, config.lr_decay_steps)
        self.autocast_dtype = _AUTOCAST[config.precision]
        self.scaler = torch.amp.GradScaler("cuda") if config.precision == "fp16" else None
        self.step = 0
        self.best_val_mae: float | None = None
        self.best_step: int | None = None
        self.bad_validations = 0
        self.elements: set[int] = set()
        self.last_metrics: ValidationMetrics | None = None
        self.stop = StopRequest()
        self.logs: RunLogs | None = None  # rank 0 only
        self._saved_step = -1  # step of the newest last.pt
        self._val_items: list[ValidationItem] = []
        self._workers_stopping = multiprocessing.Event()  # set when the loop shuts the DataLoader workers down
        self.resumed = resume
        if resume:
            self._load_last()
        elif config.init_from is not None:  # fine-tuning: weights only; optimiser, schedule and step start fresh
            self.elements.update(init_from_pretrained(self.model, config.init_from) or ())
        self.train_model = self._wrap_model()

    def close(self) -> None:
        """Release the run directory's lock (done by :meth:`run` when it returns or raises)."""
        if self.lock is not None:
            self.lock.release()

    # ------------------------------------------------------------------ set-up
    def _build_model(self) -> torch.nn.Module:
        """The preset with its overrides and the atomic baseline the config asks for."""
        cfg = self.config
        preset = get_preset(cfg.preset)
        wants_baseline = cfg.baseline not in ("none", "auto") or (cfg.baseline == "auto" and preset.baseline)
        if not wants_baseline:
            return build_model(cfg.preset, baseline=False, **cfg.model)
        cutoff = float(preset_config(cfg.preset, baseline=False, **cfg.model).cutoff)
        tables = (
            baseline_tables(cfg.baseline, cfg.data, self.run_dir, cutoff, self.source, self.split.train)
            if self.ctx.is_main
            else None
        )
        shared = broadcast_object(tables, self.ctx)
        if shared is None:
            log.warning(
                "preset %s has an atomic baseline but %s holds no labelling manifest to compute it with: "
                "training without a baseline (pass --set baseline=fit or --set baseline=TABLES.npz to add one)",
                cfg.preset,
                cfg.data,
            )
        return build_model(cfg.preset, baseline=shared if shared is not None else False, **cfg.model)

    def _load_last(self) -> None:
        path = self.run_dir / rundir.LAST_NAME
        checkpoint, state = load_training_state(path)
        load_state_dict_checked(self.model, checkpoint["state_dict"], path)
        self.optimizer.load_state_dict(state.optimizer)
        self.scheduler.load_state_dict(state.scheduler)
        if self.scaler is not None and state.scaler:
            self.scaler.load_state_dict(state.scaler)
        restore_rng(state.rng)
        self.step = state.step
        self.best_val_mae, self.best_step = state.best_val_mae, state.best_step
        self.bad_validations = state.bad_validations
        self.elements.update(int(z) for z in (checkpoint.get("metadata") or {}).get("elements", []))
        self._saved_step = self.step
        log.info("resuming from %s at step %d", path, self.step)

    def _wrap_model(self) -> torch.nn.Module:
        model: torch.nn.Module = self.model
        if self.ctx.distributed:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=device_ids)
        if self.config.compile:
            model = compile_module(model, self.ctx.device)
        return model

    def _batches(self) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
        """The batch stream; its workers (if any) start with SIGINT / SIGTERM blocked until they have
        installed their handlers (see :func:`_worker_init`), so that a stop signal cannot kill one."""
        if self.config.num_workers == 0 or threading.current_thread() is not threading.main_thread():
            return iter(self._loader())
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            return iter(self._loader())
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a signal that came meanwhile is handled now

    def _loader(self) -> DataLoader:
        cfg = self.config
        self._workers_stopping = multiprocessing.Event()  # fresh for each loader's workers
        spec = StreamSpec(
            indices=self.split.train,
            pool_size=cfg.pool_size,
            replace_every=cfg.pool_replace_every,
            structures_per_batch=cfg.structures_per_batch,
            probes_per_structure=cfg.probes_per_structure,
            cutoff=self.cutoff,
            seed=cfg.seed,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
            num_workers=cfg.num_workers,
            start_step=self.step,
        )
        return DataLoader(
            ProbeBatchStream(self.source, spec),
            batch_size=None,
            num_workers=cfg.num_workers,
            pin_memory=self.ctx.device.type == "cuda",
            prefetch_factor=cfg.prefetch_factor if cfg.num_workers > 0 else None,
            worker_init_fn=functools.partial(_worker_init, self._workers_stopping) if cfg.num_workers > 0 else None,
        )

    # ------------------------------------------------------------------ pieces of a step
    def _loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = pred.float() - target.float()
        return diff.square().mean() if self.config.loss == "mse" else diff.abs().mean()

    def train_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """One gradient step on ``batch`` (on the device); returns the detached loss."""
        enabled = self.autocast_dtype is not None
        with torch.autocast(self.ctx.device.type, dtype=self.autocast_dtype, enabled=enabled):
            pred = self.train_model(batch, raw=True)  # the loss sees negative predictions before any clamp
        loss = self._loss(pred, batch[keys.DENSITY])
        # Elements seen in training are recorded in the checkpoints (model card: unseen-element checks).
        self.elements.update(int(z) for z in torch.unique(batch[keys.ATOMIC_NUMBERS]).tolist())
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        return loss.detach()

    def validate(self) -> ValidationMetrics:
        return evaluate(
            self.model,
            self._val_items,
            cutoff=self.cutoff,
            ctx=self.ctx,
            structures_per_batch=self.config.val_structures_per_batch,
            autocast_dtype=self.autocast_dtype,
        )

    def _state(self) -> TrainingState:
        return TrainingState(
            step=self.step,
            best_val_mae=self.best_val_mae,
            best_step=self.best_step,
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            rng=capture_rng(),
            config=self.config.to_dict(),
            val_metrics=self.last_metrics.as_dict() if self.last_metrics else {},
            bad_validations=self.bad_validations,
            scaler=self.scaler.state_dict() if self.scaler is not None else {},
        )

    def _metadata(self) -> dict[str, list[int]]:
        """What a model card needs from training: the elements (Z) seen in the training batches so far."""
        return {"elements": sorted(self.elements)}

    def save_last(self) -> None:
        """Write ``last.pt`` (rank 0) unless it already holds the current step."""
        if self.ctx.is_main and self._saved_step != self.step:
            save_training_checkpoint(
                self.run_dir / rundir.LAST_NAME, self.model, self._state(), metadata=self._metadata()
            )
            self._saved_step = self.step

    # ------------------------------------------------------------------ the loop
    def run(self) -> TrainResult:
        """Train until ``max_steps``, early stopping or a stop signal; returns the outcome."""
        cfg = self.config
        try:
            with self.stop, rundir.file_log(self.run_dir) if self.ctx.is_main else contextlib.nullcontext():
                self._start_logs()
                self._val_items = build_validation_set(
                    self.source,
                    self.split.validation,
                    num_probes=cfg.val_probes_per_structure,
                    seed=cfg.seed,
                    ctx=self.ctx,
                )
                return self._loop()
        finally:
            if self.logs is not None:
                self.logs.close()
            self.close()

    def _start_logs(self) -> None:
        if not self.ctx.is_main:
            return
        rundir.write_config(self.run_dir, self.config)
        rundir.write_run_info(self.run_dir, rundir.run_info(self.ctx.world_size), resumed=self.resumed)
        cfg = self.config
        self.logs = RunLogs(
            self.run_dir,
            max_steps=cfg.max_steps,
            tensorboard=cfg.tensorboard,
            resume_step=self.step if self.resumed else None,
            wait_hint=f"raise num_workers (now {cfg.num_workers}) or pool_replace_every (now {cfg.pool_replace_every})",
        )
        log.info(
            "model %s (%d parameters, cutoff %.2f Å) on %s, %d rank(s); %s",
            cfg.preset,
            sum(p.numel() for p in self.model.parameters()),
            self.cutoff,
            self.ctx.device,
            self.ctx.world_size,
            f"resuming at step {self.step}" if self.resumed else "starting",
        )

    def _loop(self) -> TrainResult:
        cfg = self.config
        start_step = self.step
        progress = Progress(self.step, cfg.max_steps)
        session_start = time.perf_counter()
        wait_total, startup = 0.0, 0.0
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.ctx.device)
        loss_count = 0
        stop_reason = "max_steps"
        batches: Iterator[tuple[int, dict[str, torch.Tensor]]]
        batches = self._batches() if self.step < cfg.max_steps else iter(())
        try:
            while self.step < cfg.max_steps:
                t0 = time.perf_counter()
                data_step, batch = next(batches)
                waited = time.perf_counter() - t0
                if self.step == start_step:
                    startup = waited
                    progress.restart()
                    session_start = time.perf_counter()
                else:
                    wait_total += waited
                    progress.add_wait(waited)
                if data_step != self.step:
                    raise RuntimeError(f"data stream out of order: got the batch of step {data_step} at {self.step}")
                loss = self.train_step(batch_to(batch, self.ctx.device))
                self.step += 1
                loss_sum += loss.double()
                loss_count += 1
                if self.on_step is not None:
                    self.on_step(self.step, self)
                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    self._log_train(loss_sum, loss_count, progress)
                    loss_sum.zero_()
                    loss_count = 0
                if self.step % cfg.val_every == 0 or self.step == cfg.max_steps:
                    improved = self._validate_and_save()
                    if not improved and cfg.early_stop_patience is not None:
                        if self.bad_validations >= cfg.early_stop_patience:
                            stop_reason = "early_stop"
                            break
                elif cfg.checkpoint_every is not None and self.step % cfg.checkpoint_every == 0:
                    self.save_last()
                check_stop = not self.ctx.distributed or self.step % _STOP_CHECK_EVERY == 0
                if check_stop and any_rank(self.stop.requested, self.ctx):
                    stop_reason = f"signal:{self.stop.name or 'peer'}"
                    break
        finally:
            self._workers_stopping.set()  # from now on SIGTERM ends a worker
            del batches  # shuts the workers down
        elapsed = max(time.perf_counter() - session_start, 1e-9)
        self.save_last()
        if self.logs is not None:
            self.logs.plot()
        barrier(self.ctx)
        done = self.step - start_step
        result = TrainResult(
            run_dir=self.run_dir,
            step=self.step,
            stop_reason=stop_reason,
            signal_number=self.stop.signal_number,
            best_val_mae=self.best_val_mae,
            best_step=self.best_step,
            last_metrics=self.last_metrics,
            steps_per_s=done / elapsed if done > 1 else 0.0,
            data_wait_frac=wait_total / elapsed if done > 1 else 0.0,
            startup_s=startup,
        )
        if self.ctx.is_main:
            log.info(
                "stopped (%s) at step %d: %.2f steps/s, data wait %.1f %% (first batch %.1f s); best MAE %s at step %s",
                stop_reason,
                self.step,
                result.steps_per_s,
                100 * result.data_wait_frac,
                startup,
                f"{self.best_val_mae:.4g}" if self.best_val_mae is not None else "-",
                self.best_step,
            )
        return result

    def _log_train(self, loss_sum: torch.Tensor, count: int, progress: Progress) -> None:
        totals = all_reduce_sum(
            torch.stack([loss_sum.cpu(), torch.tensor(float(count), dtype=torch.float64)]), self.ctx
        )
        loss = float(totals[0] / totals[1])
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"training loss is {loss} at step {self.step}; the last good state is {self.run_dir / rundir.LAST_NAME}"
            )
        stats = progress.report(self.step)
        if self.logs is not None:
            self.logs.train_row(self.step, loss, float(self.scheduler.get_last_lr()[0]), stats)

    def _validate_and_save(self) -> bool:
        start = time.perf_counter()
        metrics = self.validate()
        self.last_metrics = metrics
        improved = self.best_val_mae is None or metrics.mae < self.best_val_mae
        if improved:
            self.best_val_mae, self.best_step, self.bad_validations = metrics.mae, self.step, 0
        else:
            self.bad_validations += 1
        if self.ctx.is_main and improved:
            save_training_checkpoint(
                self.run_dir / rundir.BEST_NAME,
                self.model,
                None,
                validation={"step": self.step, **metrics.as_dict(), "config": self.config.to_dict()},
                metadata=self._metadata(),
            )
        self.save_last()
        if self.logs is not None:
            assert self.best_val_mae is not None
            seconds = time.perf_counter() - start
            self.logs.val_row(self.step, metrics.as_dict(), self.best_val_mae, improved, seconds)
        return improved


def train(
    config: TrainConfig,
    run_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    source: TargetSource | None = None,
    on_step: Callable[[int, Trainer], None] | None = None,
) -> TrainResult:
    """Train a model as configured, writing checkpoints and logs to ``run_dir``.

    Under ``torchrun`` every rank calls this; the process group is started and shut down here.
    An ensemble (``config.ensemble_size > 1``) is trained by :func:`rhograph.train.ensemble.train_ensemble`.
    """
    if config.ensemble_size != 1:
        raise ConfigError(
            f"ensemble_size={config.ensemble_size}: train ensembles with rhograph.train.ensemble.train_ensemble"
        )
    ctx = init_distributed(config.device)
    try:
        trainer = Trainer(config, run_dir, resume=resume, source=source, ctx=ctx, on_step=on_step)
        return trainer.run()
    finally:
        shutdown(ctx)


__all__ = ["TrainResult", "Trainer", "train"]
