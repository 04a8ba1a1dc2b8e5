"""rhograph model checkpoints: ``{format, format_version, rhograph_version, model_config, state_dict, extra}``.

Files are written atomically and read with ``torch.load(weights_only=True)`` — never a pickled module.
``extra`` holds anything else a caller stores (training state, metadata); :func:`load_checkpoint` also
exposes each extra field at the top level of the returned dict.

:func:`load_model` accepts a rhograph checkpoint or a released DeepDFT model folder
(``arguments.json`` + ``best_model.pth``, see :mod:`rhograph.models.deepdft`).
"""

from __future__ import annotations

import errno
import io
import logging
import os
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rhograph.errors import CheckpointError
from rhograph.io.atomic import atomic_path
from rhograph.models.config import ModelConfig
from rhograph.models.density_model import DensityModel
from rhograph.models.registry import get_architecture

log = logging.getLogger(__name__)

#: value of the ``format`` field
FORMAT_NAME = "rhograph-density-model"
#: newest checkpoint layout this version writes and reads (2: model options ``nonnegative`` and ``baseline``
#: in the model config; version-1 models had neither)
FORMAT_VERSION = 2
_RESERVED = ("format", "format_version", "rhograph_version", "model_config", "state_dict", "extra")


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, torch.nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


def save_checkpoint(path: str | os.PathLike[str], model: torch.nn.Module, **extra: Any) -> Path:
    """Write ``model`` (its config and CPU state dict) and ``extra`` fields to ``path`` atomically.

    Args:
        path: output file (``.pt``).
        model: a :class:`DensityModel` (DDP / compiled wrappers are unwrapped).
        **extra: further fields (plain data: tensors, numbers, strings, lists, dicts), e.g.
            ``training={...}`` or ``metadata={...}``; names of the layout fields are not allowed.

    Returns:
        the path written.
    """
    from rhograph import __version__

    inner = _unwrap(model)
    if not isinstance(inner, DensityModel):
        raise TypeError(f"save_checkpoint needs a DensityModel, got {type(inner).__name__}")
    clash = sorted(set(extra) & set(_RESERVED))
    if clash:
        raise ValueError(f"extra field name(s) {clash} are reserved by the checkpoint layout")
    checkpoint = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "rhograph_version": __version__,
        "model_config": inner.config.to_dict(),
        "state_dict": {key: value.detach().cpu() for key, value in inner.state_dict().items()},
        "extra": dict(extra),
    }
    target = Path(path)
    # serialise in memory first: torch.save reports a full disk or a file-size limit as a cryptic RuntimeError
    # ("unexpected pos"), a plain write as the OSError that atomic_path turns into "cannot write X: ..."
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    with atomic_path(target) as tmp:
        tmp.write_bytes(buffer.getbuffer())
    return target


def _numpy_safe_globals() -> list[Any]:
    """numpy scalar/array reconstruction (checkpoints of other codes often store numpy floats)."""
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray

    return [
        multiarray.scalar,
        (multiarray.scalar, "numpy.core.multiarray.scalar"),
        multiarray._reconstruct,
        (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        *{type(np.dtype(code)) for code in "?bhilqBHILQefdgFDG"},
    ]


#: First bytes of a ``torch.save`` file: a zip archive (since torch 1.6) or a pickle (protocol 2-5).
_CHECKPOINT_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def torch_load_safely(path: str | os.PathLike[str], map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with numpy scalars/arrays allowed; errors name the file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: unreadable, truncated or corrupt file, or one holding pickled code/objects.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such checkpoint file", str(path))
    if path.is_dir():
        raise CheckpointError(path, "is a folder, expected a checkpoint file")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if not magic.startswith(_CHECKPOINT_MAGIC):
        raise CheckpointError(path, "is not a checkpoint (neither a PyTorch zip archive nor a pickle)")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()), warnings.catch_warnings():
            # raised for any non-torch pickle before it is rejected; the error below says what is wrong
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" in text:
            detail = next((line.strip() for line in text.splitlines() if "Unsupported" in line), "")
            raise CheckpointError(
                path,
                "holds pickled Python objects other than plain data (e.g. a whole model object); rhograph "
                f"loads checkpoints with weights_only=True and never unpickles code. {detail}".strip(),
            ) from exc
        raise CheckpointError(path, f"is corrupt and cannot be unpickled ({exc})") from exc
    except MemoryError:
        raise
    except Exception as exc:  # torch.load fails in many ways on damaged files (IndexError, RuntimeError, ...)
        raise CheckpointError(
            path, f"is not a readable PyTorch checkpoint (corrupt or truncated?): {type(exc).__name__}: {exc}"
        ) from exc


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Read and validate a rhograph checkpoint.

    Returns:
        dict with ``format``, ``format_version``, ``rhograph_version``, ``model_config`` (dict),
        ``state_dict``, ``extra`` (dict), and every extra field also at the top level.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: corrupt file, not a rhograph checkpoint, or an unknown format version.
    """
    data = torch_load_safely(path, map_location)
    if not isinstance(data, Mapping):
        raise CheckpointError(path, f"is not a rhograph checkpoint (holds a {type(data).__name__}, not a dict)")
    if data.get("format") != FORMAT_NAME:
        if "model" in data and ("optimizer" in data or "best_val_mae" in data):
            raise CheckpointError(
                path,
                "is a DeepDFT best_model.pth; pass the folder that holds it and arguments.json "
                "(or convert it with `rhograph convert-deepdft FOLDER -o model.pt`)",
            )
        if data and all(isinstance(v, torch.Tensor) for v in data.values()):
            raise CheckpointError(
                path, "holds a bare state_dict without a model config; save models with save_checkpoint"
            )
        raise CheckpointError(path, f"is not a rhograph checkpoint (fields: {sorted(map(str, data))[:8]})")
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(path, f"has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            path,
            f"has checkpoint format version {version}, newer than this rhograph supports ({FORMAT_VERSION}); "
            "upgrade rhograph",
        )
    missing = [key for key in ("model_config", "state_dict") if not isinstance(data.get(key), Mapping)]
    if missing:
        raise CheckpointError(path, f"lacks the field(s) {missing}")
    extra = data.get("extra")
    extra = dict(extra) if isinstance(extra, Mapping) else {}
    checkpoint: dict[str, Any] = {**extra, **{key: data.get(key) for key in _RESERVED}}
    checkpoint["extra"] = extra
    return checkpoint


def describe_state_dict(state_dict: Mapping[str, Any]) -> str:
    """What a DeepDFT-style state dict holds, e.g. ``a deepdft-painn model (T=3, F=128, 30 sinc functions)``."""

    def shape(key: str) -> tuple[int, ...] | None:
        value = state_dict.get(key)
        return tuple(value.shape) if isinstance(value, torch.Tensor) else None

    keys = list(state_dict)
    embedding = shape("atom_model.atom_embeddings.weight")
    hidden = f"F={embedding[1]}" if embedding and len(embedding) == 2 else "F=?"
    layers = {k.split(".")[2] for k in keys if k.startswith("atom_model.interactions.") and len(k.split(".")) > 3}
    count = f"T={len(layers)}"
    if any(".scalar_vector_update." in k or ".filter_layer." in k for k in keys):
        filt = shape("atom_model.interactions.0.filter_layer.weight")
        basis = f", {filt[1]} sinc functions" if filt and len(filt) == 2 else ""
        return f"a deepdft-painn model ({count}, {hidden}{basis})"
    if any("message_function.msg_function_" in k for k in keys):
        edge = shape("atom_model.interactions.0.message_sum_module.message_function.msg_function_edge.0.weight")
        basis = f", {edge[1]} Gaussians" if edge and len(edge) == 2 else ""
        return f"a deepdft-schnet model ({count}, {hidden}{basis})"
    return "not a DeepDFT density model"


def load_state_dict_checked(model: DensityModel, state_dict: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Load ``state_dict`` into ``model`` after checking keys and shapes.

    Raises:
        CheckpointError: missing or unexpected keys or shape mismatches, with a description of what the
            checkpoint holds and what the model expects (e.g. ``checkpoint is a deepdft-schnet model (...)
            but the model is deepdft-painn (...)``).
    """
    expected = model.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    mismatched = [
        f"{key}: checkpoint {tuple(state_dict[key].shape)} vs model {tuple(expected[key].shape)}"
        for key in expected
        if key in state_dict
        and isinstance(state_dict[key], torch.Tensor)
        and tuple(state_dict[key].shape) != tuple(expected[key].shape)
    ]
    not_tensors = [key for key in expected if key in state_dict and not isinstance(state_dict[key], torch.Tensor)]
    if missing or unexpected or mismatched or not_tensors:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing key(s) (e.g. {missing[:3]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected key(s) (e.g. {unexpected[:3]})")
        if mismatched:
            problems.append(f"{len(mismatched)} shape mismatch(es) (e.g. {mismatched[:3]})")
        if not_tensors:
            problems.append(f"non-tensor value(s) for {not_tensors[:3]}")
        raise CheckpointError(
            path,
            f"checkpoint is {describe_state_dict(state_dict)} but the model is {model.config.describe()}: "
            + "; ".join(problems),
        )
    with torch.no_grad():
        model.load_state_dict({key: state_dict[key] for key in expected}, strict=True)


def model_from_checkpoint(checkpoint: Mapping[str, Any], path: str | os.PathLike[str]) -> DensityModel:
    """Build the model described by a loaded checkpoint dict and load its weights (float32, CPU).

    Raises:
        CheckpointError: invalid model config or weights that do not fit it.
    """
    fields = dict(checkpoint["model_config"])
    if checkpoint.get("format_version", FORMAT_VERSION) < 2:
        # format 1 predates the clamp (those models never had it) and stored the sinc and Gaussian fields of
        # both DeepDFT architectures in every config
        fields.setdefault("nonnegative", False)
        try:
            for legacy in get_architecture(str(fields.get("architecture"))).ignored_legacy_fields:
                fields.pop(legacy, None)
        except ValueError as exc:
            raise CheckpointError(path, f"has an invalid model config: {exc}") from exc
    try:
        config = ModelConfig.from_dict(fields, where="model_config")
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"has an invalid model config: {exc}") from exc
    model = DensityModel(config)
    load_state_dict_checked(model, checkpoint["state_dict"], path)
    return model


def load_model(path_or_dir: str | os.PathLike[str], map_location: Any = "cpu") -> DensityModel:
    """Load a model from a rhograph checkpoint file or a released DeepDFT model folder.

    Args:
        path_or_dir: ``model.pt`` (rhograph) or a folder with ``arguments.json`` and ``best_model.pth``.
        map_location: device for the model (e.g. ``"cuda"``).

    Returns:
        the model in eval mode (float32) on ``map_location``.

    Raises:
        FileNotFoundError: nothing at ``path_or_dir``.
        CheckpointError: corrupt file, unknown format, invalid config, or weights of another architecture.
    """
    path = Path(path_or_dir)
    if path.is_dir():
        from rhograph.models.deepdft import load_deepdft_folder

        model = load_deepdft_folder(path).model
    else:
        model = model_from_checkpoint(load_checkpoint(path), path)
    return model.to(map_location).eval()
