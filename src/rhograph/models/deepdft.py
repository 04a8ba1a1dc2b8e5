"""Import of the released DeepDFT model folders (``arguments.json`` + ``best_model.pth``).

The released code's parameter names are rhograph's own (see :mod:`rhograph.models.schnet` and
:mod:`rhograph.models.painn`), so import is a validated load: the folder's hyper-parameters come from
``arguments.json`` (``num_interactions``, ``node_size``, ``cutoff``, ``use_painn_model``, ``ignore_pbc``,
``force_pbc``); the number of sinc functions (30 in the released code) is not recorded there and is read
from the shape of ``filter_layer.weight``; keys and shapes are checked before loading.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rhograph.errors import CheckpointError
from rhograph.models.checkpoint import (
    describe_state_dict,
    load_state_dict_checked,
    save_checkpoint,
    torch_load_safely,
)
from rhograph.models.config import ModelConfig
from rhograph.models.density_model import DensityModel
from rhograph.nn.radial import num_gaussians

log = logging.getLogger(__name__)

ARGUMENTS_FILE = "arguments.json"
WEIGHTS_FILE = "best_model.pth"
#: Gaussian spacing of the released invariant model (not configurable there)
RELEASED_GAUSSIAN_STEP = 0.1


@dataclass
class DeepDFTFolder:
    """A loaded DeepDFT model folder.

    Attributes:
        path: the folder.
        model: the model (float32, CPU, eval mode) with the folder's weights.
        metadata: ``source``, ``source_folder``, ``ignore_pbc``, ``force_pbc``, ``step``, ``best_val_mae``
            and the raw ``arguments`` of the training run.
    """

    path: Path
    model: DensityModel
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> ModelConfig:
        return self.model.config


def is_deepdft_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding ``arguments.json`` and ``best_model.pth``."""
    folder = Path(path)
    return folder.is_dir() and (folder / ARGUMENTS_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()


def _read_arguments(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            arguments = json.load(fh)
    except json.JSONDecodeError as exc:
        raise CheckpointError(path, f"is not valid JSON ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise CheckpointError(path, f"is not a text file ({exc})") from exc
    if not isinstance(arguments, dict):
        raise CheckpointError(path, f"must hold a JSON object, got {type(arguments).__name__}")
    return arguments


def _argument(arguments: Mapping[str, Any], name: str, kind: type, path: Path) -> Any:
    if name not in arguments:
        raise CheckpointError(path, f"lacks {name!r}, needed to rebuild the model")
    value = arguments[name]
    ok = isinstance(value, int | float) and not isinstance(value, bool) if kind is float else isinstance(value, kind)
    if kind is int and isinstance(value, bool):
        ok = False
    if not ok:
        raise CheckpointError(path, f"{name}={value!r} should be of type {kind.__name__}")
    return value


def _state_dict(data: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(data, Mapping) and isinstance(data.get("model"), Mapping):
        state = dict(data["model"])
    elif isinstance(data, Mapping) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
        state = dict(data)  # a bare state dict
    else:
        fields = sorted(map(str, data))[:8] if isinstance(data, Mapping) else type(data).__name__
        raise CheckpointError(path, f"holds no model state dict under 'model' (found {fields})")
    if state and all(key.startswith("module.") for key in state):  # saved from a DataParallel wrapper
        state = {key[len("module.") :]: value for key, value in state.items()}
    return state


def _architecture(state: Mapping[str, Any], path: Path) -> str:
    description = describe_state_dict(state)
    if description.startswith("a deepdft-painn"):
        return "painn"
    if description.startswith("a deepdft-schnet"):
        return "schnet"
    raise CheckpointError(path, f"holds no DeepDFT weights (keys such as {list(state)[:3]})")


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


def load_deepdft_folder(path: str | os.PathLike[str]) -> DeepDFTFolder:
    """Load a released DeepDFT model folder into a rhograph :class:`DensityModel`.

    Raises:
        FileNotFoundError: no such folder.
        CheckpointError: a file is missing, unreadable or inconsistent (e.g. ``arguments.json describes a
            deepdft-painn model but best_model.pth holds a deepdft-schnet model``), or keys/shapes do not
            match the architecture.
    """
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(2, "no such DeepDFT model folder", str(folder))
    if not folder.is_dir():
        raise CheckpointError(
            folder, "is not a folder (a DeepDFT model folder holds arguments.json and best_model.pth)"
        )
    missing = [name for name in (ARGUMENTS_FILE, WEIGHTS_FILE) if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(
            folder,
            f"is not a DeepDFT model folder: {' and '.join(missing)} missing "
            f"(needs {ARGUMENTS_FILE} and {WEIGHTS_FILE})",
        )
    arguments_path, weights_path = folder / ARGUMENTS_FILE, folder / WEIGHTS_FILE
    arguments = _read_arguments(arguments_path)
    num_interactions = _argument(arguments, "num_interactions", int, arguments_path)
    node_size = _argument(arguments, "node_size", int, arguments_path)
    cutoff = float(_argument(arguments, "cutoff", float, arguments_path))
    use_painn = arguments.get("use_painn_model")  # absent in the first releases (invariant model only)
    if use_painn is not None and not isinstance(use_painn, bool):
        raise CheckpointError(arguments_path, f"use_painn_model={use_painn!r} should be true or false")

    data = torch_load_safely(weights_path, map_location="cpu")
    state = _state_dict(data, weights_path)
    architecture = _architecture(state, weights_path)
    declared = "painn" if use_painn else "schnet"
    if use_painn is not None and declared != architecture:
        raise CheckpointError(
            weights_path,
            f"{ARGUMENTS_FILE} describes a deepdft-{declared} model (use_painn_model={use_painn}) but "
            f"{WEIGHTS_FILE} holds {describe_state_dict(state)}",
        )

    fields: dict[str, Any] = {
        "architecture": architecture,
        "nonnegative": False,  # the released models, exactly
        "num_interactions": num_interactions,
        "hidden_size": node_size,
        "cutoff": cutoff,
    }
    if architecture == "painn":
        filter_weight = state.get("atom_model.interactions.0.filter_layer.weight")
        if not isinstance(filter_weight, torch.Tensor) or filter_weight.ndim != 2:
            raise CheckpointError(weights_path, "lacks atom_model.interactions.0.filter_layer.weight (2-D)")
        fields["num_basis"] = int(filter_weight.shape[1])
    else:
        key = "atom_model.interactions.0.message_sum_module.message_function.msg_function_edge.0.weight"
        edge_weight = state.get(key)
        if not isinstance(edge_weight, torch.Tensor) or edge_weight.ndim != 2:
            raise CheckpointError(weights_path, f"lacks {key} (2-D)")
        expected = num_gaussians(cutoff, RELEASED_GAUSSIAN_STEP)
        if edge_weight.shape[1] != expected:
            raise CheckpointError(
                weights_path,
                f"the Gaussian expansion has {edge_weight.shape[1]} functions but cutoff {cutoff} Å with the "
                f"released spacing {RELEASED_GAUSSIAN_STEP} Å gives {expected}; is arguments.json from this run?",
            )
        fields["gaussian_step"] = RELEASED_GAUSSIAN_STEP
    try:
        config = ModelConfig.from_dict(fields)
    except ValueError as exc:
        raise CheckpointError(arguments_path, f"describes an invalid model: {exc}") from exc
    model = DensityModel(config)
    load_state_dict_checked(model, state, weights_path)

    metadata: dict[str, Any] = {
        "source": "DeepDFT",
        "source_folder": str(folder),
        "ignore_pbc": bool(arguments.get("ignore_pbc", False)),
        "force_pbc": bool(arguments.get("force_pbc", False)),
        "arguments": {str(k): _json_safe(v) for k, v in arguments.items()},
    }
    if isinstance(data, Mapping):
        for name in ("step", "best_val_mae"):
            value = data.get(name)
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                value = value.item()
            if hasattr(value, "item") and not isinstance(value, torch.Tensor):
                value = value.item()  # numpy scalar
            if isinstance(value, int | float) and not isinstance(value, bool):
                metadata[name] = value
    log.info("loaded DeepDFT folder %s: %s, %d parameters", folder, config.describe(), model.num_parameters())
    return DeepDFTFolder(path=folder, model=model.eval(), metadata=metadata)


def convert_deepdft(
    model_dir: str | os.PathLike[str], output: str | os.PathLike[str], *, overwrite: bool = False
) -> DeepDFTFolder:
    """Convert a DeepDFT model folder to a rhograph checkpoint (the folder's metadata under ``metadata``).

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false.
        CheckpointError: see :func:`load_deepdft_folder`.
    """
    target = Path(output)
    if target.exists() and not overwrite:
        raise FileExistsError(17, "output exists (use overwrite / --force to replace it)", str(target))
    loaded = load_deepdft_folder(model_dir)
    save_checkpoint(target, loaded.model, metadata=loaded.metadata)
    return loaded
