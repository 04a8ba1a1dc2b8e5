"""Training checkpoints: normal rhograph model checkpoints with the training state in an extra field.

``best.pt`` and ``last.pt`` are written with :func:`rhograph.models.checkpoint.save_checkpoint`, so
``load_model`` reads both. The extra field ``"training"`` holds what a resumed run needs::

    step, best_val_mae, best_step, val_metrics,
    optimizer (Adam state_dict), scheduler (LambdaLR state_dict),
    rng (torch CPU / CUDA and Python generator states), config (the resolved TrainConfig)

All values are tensors, numbers, strings, lists and dicts, so checkpoints load with
``torch.load(weights_only=True)``. Writes are atomic (write to a temporary file, then rename).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rhograph.errors import CheckpointError
from rhograph.models.checkpoint import load_checkpoint, save_checkpoint

TRAINING_KEY = "training"


def capture_rng() -> dict[str, Any]:
    """States of the torch (CPU and CUDA) and Python random generators. (The data stream draws from
    numpy generators seeded by step, see :mod:`rhograph.data.pool`, so it has no state to save.)"""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng` (CUDA states only if this process has the same GPUs)."""
    torch.set_rng_state(state["torch"].cpu())
    random.setstate(_to_tuples(state["python"]))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def _to_lists(value: Any) -> Any:
    return [_to_lists(v) for v in value] if isinstance(value, tuple | list) else value


def _to_tuples(value: Any) -> Any:
    return tuple(_to_tuples(v) for v in value) if isinstance(value, list) else value


@dataclass
class TrainingState:
    """The training part of a checkpoint.

    Args:
        step: gradient steps done.
        best_val_mae: lowest validation MAE so far (e/Å³), ``None`` before the first validation.
        best_step: step of that validation.
        optimizer, scheduler: state dicts; rng: generator states; config: the TrainConfig as a dict.
        val_metrics: metrics of the latest validation (``val_mae``, ``val_rmse``, ``val_nmae``).
        bad_validations: validations since the last improvement (early stopping).
        scaler: GradScaler state (fp16 runs), else empty.
    """

    step: int
    best_val_mae: float | None
    best_step: int | None
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng: dict[str, Any]
    config: dict[str, Any]
    val_metrics: dict[str, float]
    bad_validations: int = 0
    scaler: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def save_training_checkpoint(path: Path, model: torch.nn.Module, state: TrainingState | None, **extra: Any) -> None:
    """Write a rhograph checkpoint of ``model`` (atomically), with ``state`` under ``"training"``."""
    fields = dict(extra)
    if state is not None:
        fields[TRAINING_KEY] = state.to_dict()
    save_checkpoint(path, model, **fields)


def load_training_state(path: Path) -> tuple[dict[str, Any], TrainingState]:
    """Read a checkpoint written by :func:`save_training_checkpoint`: ``(checkpoint dict, state)``.

    Raises:
        CheckpointError: the file has no training state (e.g. ``best.pt`` or a converted model).
    """
    checkpoint = load_checkpoint(path)
    training = checkpoint.get(TRAINING_KEY)
    if not isinstance(training, dict):
        raise CheckpointError(path, "checkpoint holds no training state (resume needs last.pt of a training run)")
    try:
        state = TrainingState(**training)
    except TypeError as exc:
        raise CheckpointError(path, f"training state has unexpected fields ({exc})") from exc
    return checkpoint, state
