"""Typed training configuration. Every default is the paper's setup (Jørgensen & Bhowmik, Methods).

A :class:`TrainConfig` is built from YAML and command-line overrides with :func:`load_train_config`;
the resolved config is written to the run directory as ``config.yaml``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from rhograph.config import check_choice, check_positive, check_types, from_mapping, load_yaml
from rhograph.errors import ConfigError

PBC_MODES = ("file", "none", "all")
LOSSES = ("mse", "mae")
PRECISIONS = ("fp32", "bf16", "fp16")


#: The periodicity words of ``rhograph predict --pbc`` (one vocabulary) → the stored training values.
PBC_ALIASES = {"auto": "file", "off": "none", "on": "all"}


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Settings of one training run.

    Data:
        data: dataset path (directory, ``.tar``, ``.txt`` list of tars) of CHGCAR / cube files.
        pbc: periodicity of the structures: ``file`` (as read), ``none`` (molecules in vacuum boxes,
            DeepDFT's ``--ignore_pbc``) or ``all`` (periodic in the grid cell). The words of ``rhograph
            predict --pbc`` are accepted too and stored as these: ``auto`` = ``file``, ``off`` = ``none``,
            ``on`` = ``all``.
        split_file: JSON with ``train`` / ``validation`` / ``test`` index lists (QM9 ``datasplits.json``
            format); if ``None``, a seeded random split with ``val_size`` / ``test_size`` is made and
            written to the run directory as ``split.json``.
        val_size, test_size: sizes of the random split, counts (int) or fractions (float < 1).
        train_size: keep this many training structures (nested subsets for one ``seed``), all if ``None``.
        pool_size: structures held in memory per data stream (one stream per DataLoader worker).
        pool_replace_every: batches of a stream between loading one new structure into its pool;
            ``None``: replace as soon as a load finishes (never waits for disk, but not reproducible).
        structures_per_batch, probes_per_structure: batch shape (2 × 1000 in the paper).
        val_probes_per_structure: fixed validation probes per structure (5000 in the paper).
        num_workers: DataLoader worker processes per rank (0: build batches in the training process).
        prefetch_factor: batches prefetched per worker.

    Model:
        preset: a preset of the model registry (``rhograph models`` lists them): ``rhograph-painn`` (default:
            equivariant DeepDFT with an atomic-density baseline and ρ ≥ 0), ``deepdft-painn`` /
            ``deepdft-schnet`` (the paper's models exactly), ...
        model: overrides of preset fields (e.g. ``{hidden_size: 16, num_interactions: 2, nonnegative: false}``).
        baseline: free-atom tables of the atomic baseline: ``auto`` (presets with a baseline: computed with
            PySCF from the label settings in the dataset's ``manifest.json``; fitted for GPAW labels), ``fit``
            (tables fitted to the training densities, any data), ``none`` (no baseline) or a ``.npz`` of tables
            (``rhograph atom-densities``; also adds a baseline to a preset without one).

    Optimisation:
        loss: ``mse`` (the paper) or ``mae``, over probe densities in e/Å³.
        lr: initial Adam learning rate; the rate at step s is ``lr · lr_decay^(s / lr_decay_steps)``.
        max_steps: gradient steps to train for (the paper does not state a number).
        grad_clip: clip the global gradient norm to this value (off if ``None``; not in the paper).
        val_every: steps between validations (and ``last.pt`` checkpoints).
        checkpoint_every: steps between extra ``last.pt`` checkpoints (``None``: only at validations).
        early_stop_patience: stop after this many validations without improvement (``None``: never).

    Runtime:
        seed: seed of the split, the data stream, the validation probes and the model initialisation.
        device: ``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N`` (DDP uses ``cuda:LOCAL_RANK``).
        precision: ``fp32``, or ``bf16`` / ``fp16`` autocast (CUDA only).
        compile: wrap the model in ``torch.compile`` (CUDA recommended).
        log_every: steps between progress lines and ``train_log.csv`` rows.
        tensorboard: also write TensorBoard logs when the ``tensorboard`` package is installed.

    Ensembles and fine-tuning:
        ensemble_size: train this many members (seeds ``seed``, ``seed + 1``, ...) one after the other in
            ``RUN/member-0 … member-{K-1}``, on one shared split (see :mod:`rhograph.train.ensemble`).
        init_from: start from the weights of this model (a checkpoint, a released DeepDFT folder or a bundled
            model name); the optimiser and the step start fresh (see :mod:`rhograph.train.finetune`).
    """

    data: str = ""
    pbc: str = "file"
    split_file: str | None = None
    val_size: int | float = 50
    test_size: int | float = 0.1
    train_size: int | None = None
    pool_size: int = 20
    pool_replace_every: int | None = 1
    structures_per_batch: int = 2
    probes_per_structure: int = 1000
    val_probes_per_structure: int = 5000
    val_structures_per_batch: int = 2
    num_workers: int = 4
    prefetch_factor: int = 4

    preset: str = "rhograph-painn"
    model: dict[str, Any] = field(default_factory=dict)
    baseline: str = "auto"

    loss: str = "mse"
    lr: float = 1e-4
    lr_decay: float = 0.96
    lr_decay_steps: int = 100_000
    max_steps: int = 10_000_000
    grad_clip: float | None = None
    val_every: int = 5000
    checkpoint_every: int | None = None
    early_stop_patience: int | None = None

    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    compile: bool = False
    log_every: int = 100
    tensorboard: bool = True

    ensemble_size: int = 1
    init_from: str | None = None

    def __post_init__(self) -> None:
        from rhograph.models.registry import PRESETS

        # Types first (from the annotations), so that the range checks below compare numbers with numbers.
        check_types(TrainConfig, {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, where="TrainConfig")
        check_choice("preset", self.preset, sorted(PRESETS))
        if not isinstance(self.baseline, str) or not (
            self.baseline in ("auto", "fit", "none") or self.baseline.endswith(".npz")
        ):
            choices = "auto, fit, none or a tables file .npz"
            raise ConfigError(f"baseline={self.baseline!r} is not allowed; choose {choices}")
        check_choice("loss", self.loss, LOSSES)
        object.__setattr__(self, "pbc", PBC_ALIASES.get(self.pbc, self.pbc))
        check_choice("pbc", self.pbc, [*PBC_MODES, *PBC_ALIASES])
        check_choice("precision", self.precision, PRECISIONS)
        if not isinstance(self.model, dict):
            raise ConfigError(f"model must be a mapping of preset overrides, got {self.model!r}")
        for name in (
            "pool_size",
            "structures_per_batch",
            "probes_per_structure",
            "val_probes_per_structure",
            "val_structures_per_batch",
            "prefetch_factor",
            "lr_decay_steps",
            "val_every",
            "log_every",
        ):
            check_positive(name, getattr(self, name))
        check_positive("num_workers", self.num_workers, strict=False)
        check_positive("max_steps", self.max_steps, strict=False)
        check_positive("lr", self.lr)
        check_positive("lr_decay", self.lr_decay)
        for name in ("train_size", "pool_replace_every", "checkpoint_every", "early_stop_patience", "grad_clip"):
            value = getattr(self, name)
            if value is not None:
                check_positive(name, value)
        for name in ("val_size", "test_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{name} must be a count (int >= 0) or a fraction (float < 1), got {value!r}")
            if isinstance(value, float) and value >= 1.0:
                raise ConfigError(f"{name} as a fraction must be < 1, got {value!r}; write a count as an integer")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device={self.device!r} is not allowed; choose auto, cpu, cuda or cuda:N")
        if isinstance(self.ensemble_size, bool) or not isinstance(self.ensemble_size, int) or self.ensemble_size < 1:
            raise ConfigError(f"ensemble_size must be an integer >= 1, got {self.ensemble_size!r}")
        if self.init_from is not None and (not isinstance(self.init_from, str) or not self.init_from.strip()):
            raise ConfigError(f"init_from must be a checkpoint path or bundled model name, got {self.init_from!r}")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["model"] = dict(self.model)
        return out


def field_names() -> list[str]:
    """Names of all :class:`TrainConfig` fields (for ``--set KEY=VALUE`` help and checks)."""
    return [f.name for f in dataclasses.fields(TrainConfig)]


def _coerce_number(name: str, value: Any) -> Any:
    """YAML 1.1 reads ``3e-4`` (no dot) as a string; accept it for float fields."""
    types = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}
    if isinstance(value, str) and "float" in types.get(name, ""):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_train_config(
    path: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    base: dict[str, Any] | None = None,
) -> TrainConfig:
    """Resolve a config: ``base`` mapping, then the YAML file ``path``, then ``overrides`` (later wins).

    A ``model`` mapping is merged key by key rather than replaced. Unknown keys, values of the wrong type
    (checked against the field annotations) and values out of range raise ``ValueError`` naming the field,
    the value and the file (or ``command line``).
    """
    merged: dict[str, Any] = dict(base or {})
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((str(path), load_yaml(path)))
    if overrides:
        layers.append(("command line", overrides))
    for where, layer in layers:
        unknown = sorted(set(layer) - set(field_names()))
        if unknown:
            raise ConfigError(f"{where}: unknown training option(s) {unknown}; allowed: {field_names()}")
        layer = {key: _coerce_number(key, value) for key, value in layer.items()}
        check_types(TrainConfig, layer, where=where)  # names the file (or the command line) of a bad value
        for key, value in layer.items():
            if key == "model" and isinstance(value, dict):
                merged["model"] = {**merged.get("model", {}), **value}
            else:
                merged[key] = value
        try:  # range checks, with the layer that set the bad value named
            TrainConfig(**merged)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return from_mapping(TrainConfig, merged, where="training config")
