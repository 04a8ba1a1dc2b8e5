"""Where a prediction's model comes from: the bundled default, a bundled name, a file, a DeepDFT folder, or
an ensemble (a training run folder holding ``member-N`` folders, or a list of any of the former).

Bundled models live in the package folder ``rhograph/pretrained`` as ``<name>.pt`` (a rhograph checkpoint)
with a model card ``<name>.json`` beside it (training data, steps, metrics, elements covered).
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from rhograph.errors import CheckpointError

log = logging.getLogger(__name__)

#: name of the model used when none is given
DEFAULT_MODEL = "qm9-painn-delta3"


@dataclass
class LoadedModel:
    """A model ready for prediction and what is known about it.

    Attributes:
        model: the ``DensityModel`` in eval mode on its device.
        name: bundled name or file path.
        card: the model card (empty if none): ``elements`` (atomic numbers seen in training), metrics, data.
    """

    model: torch.nn.Module
    name: str
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def elements(self) -> set[int] | None:
        """Atomic numbers the model was trained on, if recorded."""
        elements = self.card.get("elements")
        return None if elements is None else {int(z) for z in elements}

    @property
    def is_ensemble(self) -> bool:
        """Whether the model is an :class:`~rhograph.models.ensemble.EnsembleModel` (mean and spread)."""
        return hasattr(self.model, "decode_probes_with_std")


def pretrained_dir() -> Path:
    """Folder of the bundled models inside the installed package."""
    return Path(str(resources.files("rhograph") / "pretrained"))


def available_models() -> list[str]:
    """Names of the bundled models."""
    folder = pretrained_dir()
    return sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []


def bundled_elements() -> dict[str, set[int] | None]:
    """Atomic numbers each bundled model covers (from its card; ``None`` where the card records none)."""
    covered: dict[str, set[int] | None] = {}
    for name in available_models():
        card_path = pretrained_dir() / f"{name}.json"
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
        elements = card.get("elements")
        covered[name] = None if elements is None else {int(z) for z in elements}
    return covered


def choose_bundled(numbers: Sequence[int], *, allow_unseen: bool = False, source: str = "<atoms>") -> str:
    """The bundled model for a structure of these atomic numbers: :data:`DEFAULT_MODEL` when it covers them,
    else the first bundled model (by name) that does.

    Args:
        numbers: the structure's atomic numbers.
        allow_unseen: when no bundled model covers them, return the default (the prediction then warns
            about the unseen elements) instead of raising.
        source: the structure's name for the message.

    Raises:
        StructureError: no bundled model covers the elements; the message says which model covers which.
    """
    from ase.data import chemical_symbols

    from rhograph.errors import StructureError

    present = {int(z) for z in numbers}
    covered = bundled_elements()
    order = sorted(covered, key=lambda name: (name != DEFAULT_MODEL, name))
    for name in order:
        elements = covered[name]
        if elements is not None and present <= elements:
            return name
    if allow_unseen and DEFAULT_MODEL in covered:
        return DEFAULT_MODEL

    def symbols(zs) -> str:
        return " ".join(chemical_symbols[z] for z in sorted(zs))

    coverage = "; ".join(
        f"{name}: {symbols(covered[name]) if covered[name] is not None else 'not recorded'}" for name in order
    )
    raise StructureError(
        f"{source}: no bundled model covers its elements {symbols(present)} (bundled: {coverage or 'none'}); "
        "pass --model with a model trained on them, or --allow-unseen-elements to use the default anyway"
    )


def _card_for(path: Path, checkpoint_metadata: dict[str, Any]) -> dict[str, Any]:
    card_path = path.with_suffix(".json")
    card: dict[str, Any] = dict(checkpoint_metadata)
    if card_path.is_file():
        with open(card_path, encoding="utf-8") as fh:
            card.update(json.load(fh))
    return card


def resolve_model(
    source: str | os.PathLike[str] | torch.nn.Module | Sequence[str | os.PathLike[str]] | None = None,
    *,
    device: torch.device | str = "cpu",
) -> LoadedModel:
    """Load the model a user asked for.

    Args:
        source: ``None`` (the bundled default), a bundled model name, a rhograph checkpoint file, a released
            DeepDFT model folder (``arguments.json`` + ``best_model.pth``), a model object, or an ensemble:
            a training run folder with ``member-0 … member-{K-1}`` (``rhograph train --ensemble K``) or a
            list of two or more of the former (see :func:`resolve_ensemble`).
        device: where to put it.

    Raises:
        CheckpointError: unknown name / unreadable file, naming what is available.
    """
    if isinstance(source, torch.nn.Module):
        return LoadedModel(model=source.to(device).eval(), name=type(source).__name__)
    if isinstance(source, list | tuple):
        if len(source) == 1:
            return resolve_model(source[0], device=device)
        return resolve_ensemble(source, device=device)
    from rhograph.models.checkpoint import load_checkpoint, load_model
    from rhograph.models.ensemble import is_ensemble_dir, member_checkpoints

    if source is not None and is_ensemble_dir(source):
        return resolve_ensemble(member_checkpoints(source), device=device, name=str(source))

    bundled = available_models()
    if source is None:
        if DEFAULT_MODEL not in bundled:
            raise CheckpointError(
                pretrained_dir() / f"{DEFAULT_MODEL}.pt",
                "no bundled default model is installed; pass --model with a rhograph checkpoint or a DeepDFT "
                f"model folder (bundled models: {bundled or 'none'})",
            )
        source = DEFAULT_MODEL
    path = Path(source)
    if not path.exists():
        if str(source) in bundled:
            path = pretrained_dir() / f"{source}.pt"
        else:
            raise CheckpointError(
                path,
                f"no such model file or folder, and not a bundled model name (bundled: {bundled or 'none'})",
            )
    model = load_model(path, map_location=device).eval()
    metadata: dict[str, Any] = {}
    if path.is_file():
        metadata = dict(load_checkpoint(path).get("metadata") or {})
    card = _card_for(path, metadata) if path.is_file() else {}
    return LoadedModel(model=model, name=str(source), card=card)


def load_model(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    map_location: torch.device | str = "cpu",
) -> torch.nn.Module:
    """Load a model by any name :func:`rhograph.predict` takes: a bundled name (``"qm9-painn-delta"``; ``None``
    for the default), a rhograph checkpoint, a released DeepDFT model folder, or an ensemble (a run folder
    with ``member-N`` folders or a list of models).

    Args:
        source: what to load (see above); :func:`available_models` lists the bundled names.
        map_location: device for the model.

    Returns:
        the model in eval mode on ``map_location`` (an ``EnsembleModel`` for an ensemble). Its model card is
        available through :func:`resolve_model` (``resolve_model(source).card``).

    Raises:
        FileNotFoundError: no such file or folder, and not a bundled name (the message lists the bundled ones).
        CheckpointError: corrupt file, unknown format, invalid config, or weights of another architecture.
    """
    if isinstance(source, str | os.PathLike) and not Path(source).exists() and str(source) not in available_models():
        bundled = ", ".join(available_models()) or "none"
        raise FileNotFoundError(
            errno.ENOENT,
            f"no such model file or folder, and not a bundled model name (bundled: {bundled})",
            str(source),
        )
    return resolve_model(source, device=map_location).model


def resolve_ensemble(
    sources: Sequence[str | os.PathLike[str]],
    *,
    device: torch.device | str = "cpu",
    name: str | None = None,
) -> LoadedModel:
    """Load several models (each as :func:`resolve_model` would) as one
    :class:`~rhograph.models.ensemble.EnsembleModel`.

    The card is the first member's, with ``elements`` the elements every member saw (unknown if a member
    records none), ``ensemble_size`` and ``members`` (the sources).

    Raises:
        CheckpointError: a member cannot be loaded, or the members' cutoffs differ.
    """
    from rhograph.models.ensemble import EnsembleModel

    loaded = [resolve_model(source, device=device) for source in sources]
    for member in loaded:
        if member.is_ensemble:
            raise CheckpointError(member.name, "is itself an ensemble; list the member checkpoints instead")
    try:
        model = EnsembleModel([m.model for m in loaded], names=[m.name for m in loaded])
    except ValueError as exc:
        raise CheckpointError(name or loaded[0].name, str(exc)) from exc
    card: dict[str, Any] = dict(loaded[0].card)
    element_sets = [m.elements for m in loaded]
    if any(e is None for e in element_sets):
        card.pop("elements", None)
    else:
        card["elements"] = sorted(set.intersection(*element_sets))  # type: ignore[arg-type]
    card["ensemble_size"] = len(loaded)
    card["members"] = [m.name for m in loaded]
    return LoadedModel(model=model.to(device).eval(), name=name or ", ".join(m.name for m in loaded), card=card)
