"""Fine-tuning: start a training run from the weights of an existing model (``TrainConfig.init_from``).

The source is anything :func:`rhograph.inference.model_source.resolve_model` loads as one model: a rhograph
checkpoint (``best.pt`` of an earlier run), a released DeepDFT model folder, or a bundled model name such as
``qm9-painn-small``. Only weights are taken; the optimiser, learning-rate schedule and step start fresh.

* **Same architecture.** The new model's config (preset + ``model`` overrides) must describe the checkpoint's
  network: same architecture and the same value of every architecture field (``num_interactions``,
  ``hidden_size``, ``cutoff``, ...), and a baseline in both or in neither. Otherwise the error names every
  field that differs, e.g. ``hidden_size: checkpoint 64, config 128``. ``nonnegative`` (a clamp, no weights)
  may differ.
* **New elements get fresh embeddings.** The atom-type embedding tables have a row for every Z = 0..118, but
  a checkpoint has only trained the rows of the elements it saw (its card / metadata ``elements``). Rows of
  the other elements keep the new model's random initialisation instead of the checkpoint's untrained ones
  (which would be the *checkpoint's* random initialisation — equally untrained, but not reproducible from the
  new run's seed). If the checkpoint records no elements (e.g. a DeepDFT folder) every row is taken.
* **Baseline tables** (atomic-density baseline) stay those of the new model, made from the new data's label
  settings; the network weights learnt on top of the checkpoint's baseline are taken over.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from rhograph.errors import CheckpointError
from rhograph.models.config import NUM_SPECIES

log = logging.getLogger(__name__)

__all__ = ["config_differences", "embedding_keys", "init_from_pretrained"]

#: model options that do not change the weights and may differ between a checkpoint and a fine-tuned model
_FREE_OPTIONS = ("nonnegative",)
_BASELINE_PREFIX = "baseline."


def config_differences(checkpoint: dict[str, Any], config: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(field, checkpoint value, config value)`` for the fields of two flat model-config dicts
    (:meth:`ModelConfig.to_dict`) that must agree but do not. A different architecture is the only difference
    reported then; the baseline is compared as present / absent."""
    if checkpoint.get("architecture") != config.get("architecture"):
        return [("architecture", checkpoint.get("architecture"), config.get("architecture"))]
    out = [
        (key, checkpoint.get(key), config.get(key))
        for key in sorted(set(checkpoint) | set(config))
        if key not in (*_FREE_OPTIONS, "baseline") and checkpoint.get(key) != config.get(key)
    ]
    with_baseline = [data.get("baseline") is not None for data in (checkpoint, config)]
    if with_baseline[0] != with_baseline[1]:
        names = ["atomic baseline" if b else "none" for b in with_baseline]
        out.append(("baseline", names[0], names[1]))
    return out


def _mismatch_message(differences: list[tuple[str, Any, Any]]) -> str:
    text = "; ".join(f"{key}: checkpoint {ours}, config {theirs}" for key, ours, theirs in differences)
    if differences[0][0] == "architecture":
        hint = "choose a preset of that architecture"
    else:
        settable = [f"model.{key}={ours}" for key, ours, _ in differences if key != "baseline"]
        hint = "set " + ", ".join(settable) if settable else "choose a preset with (or without) a baseline"
    return f"cannot initialise from it: the model config differs from the checkpoint's architecture ({text}); {hint}"


def embedding_keys(model: nn.Module) -> list[str]:
    """State-dict keys of the model's atom-type embedding tables (``nn.Embedding`` with one row per Z)."""
    return [
        f"{name}.weight"
        for name, module in model.named_modules()
        if isinstance(module, nn.Embedding) and module.num_embeddings == NUM_SPECIES
    ]


def init_from_pretrained(model: Any, source: str) -> set[int] | None:
    """Load the weights of ``source`` into ``model`` (in place) for fine-tuning.

    Args:
        model: the freshly built :class:`~rhograph.models.density_model.DensityModel` of the run.
        source: checkpoint path, DeepDFT folder or bundled model name.

    Returns:
        the elements (Z) the source was trained on, or ``None`` if it records none.

    Raises:
        CheckpointError: the source cannot be found or read, is an ensemble, or its architecture differs from
            the model's config (the message names each differing field and how to set it).
    """
    from rhograph.inference.model_source import resolve_model

    loaded = resolve_model(source, device="cpu")
    if loaded.is_ensemble:
        raise CheckpointError(source, "init_from needs one model, this is an ensemble; pass one member's best.pt")
    pretrained: Any = loaded.model  # a DensityModel (an ensemble was refused above)
    differences = config_differences(pretrained.config.to_dict(), model.config.to_dict())
    if differences:
        raise CheckpointError(source, _mismatch_message(differences))
    elements = loaded.elements
    target = model.state_dict()
    source_state = pretrained.state_dict()
    merged = {}
    for key, value in target.items():
        if key.startswith(_BASELINE_PREFIX):
            merged[key] = value  # the new model's free-atom tables (new data's label settings)
        elif key not in source_state or tuple(source_state[key].shape) != tuple(value.shape):
            raise CheckpointError(source, f"weights do not fit the model: {key} is missing or of another shape")
        else:
            merged[key] = source_state[key].to(value.dtype)
    fresh: list[int] = []
    if elements is not None:
        seen = torch.tensor(sorted(elements), dtype=torch.long)
        for key in embedding_keys(model):
            table = target[key].clone()  # the new model's initialisation
            table[seen] = source_state[key][seen].to(table.dtype)
            merged[key] = table
        fresh = sorted(set(range(1, NUM_SPECIES)) - elements)
    else:
        log.warning("%s records no training elements: taking its embedding rows of every element", source)
    model.load_state_dict(merged, strict=True)
    log.info(
        "initialised from %s (%s); embeddings of %s, fresh for the other %d elements",
        loaded.name,
        pretrained.config.describe(),
        "every element" if elements is None else sorted(elements),
        len(fresh),
    )
    return elements
