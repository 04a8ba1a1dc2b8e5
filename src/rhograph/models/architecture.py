"""What an architecture registers: :class:`Architecture` (config, encoder, decoder, presets) and :class:`Preset`.

See :mod:`rhograph.models.registry` for the interface an encoder and a decoder implement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from rhograph.models.config import EncoderConfig


@dataclass(frozen=True)
class Preset:
    """A named model: an architecture, its config fields, and the model options.

    Args:
        architecture: registered architecture name.
        fields: encoder config fields (the rest take the config class defaults).
        nonnegative: clamp ρ at zero.
        baseline: the model adds an atomic-density baseline (its tables come from the training data's label
            settings, or are passed to :func:`~rhograph.models.presets.build_model`).
        summary: one line for listings.
    """

    architecture: str
    fields: Mapping[str, Any]
    nonnegative: bool
    baseline: bool
    summary: str


@dataclass(frozen=True)
class Architecture:
    """One registered architecture.

    Args:
        name: registry key (``schnet``, ``painn``, ...), stored in checkpoints.
        config: its typed config class.
        encoder: ``config -> atom encoder module``.
        decoder: ``config -> probe decoder module``.
        summary: one line for listings.
        presets: its named presets.
        ignored_legacy_fields: config keys that older checkpoints stored for this architecture but it does
            not use (dropped when reading).
        tiny: config fields of a tiny instance for fast tests (:func:`rhograph.testing.tiny_model`, the
            model test suite).
    """

    name: str
    config: type[EncoderConfig]
    encoder: Callable[[Any], nn.Module]
    decoder: Callable[[Any], nn.Module]
    summary: str
    presets: Mapping[str, Preset] = field(default_factory=dict)
    ignored_legacy_fields: tuple[str, ...] = ()
    tiny: Mapping[str, Any] = field(default_factory=dict)


def delta_preset(architecture: str, fields: Mapping[str, Any], summary: str) -> Preset:
    """A preset with the atomic-density baseline and ρ ≥ 0 (the summary says so)."""
    return Preset(
        architecture,
        dict(fields),
        nonnegative=True,
        baseline=True,
        summary=f"{summary} + atomic-density baseline + ρ ≥ 0",
    )


def paper_presets(architecture: str, fields: Mapping[str, Any], summary: str) -> dict[str, Preset]:
    """The two presets of a DeepDFT architecture: ``deepdft-<name>`` (the released model exactly: no baseline,
    no clamp) and ``rhograph-<name>`` (the same network with the atomic-density baseline and ρ ≥ 0)."""
    paper = f"deepdft-{architecture}"
    return {
        paper: Preset(architecture, dict(fields), nonnegative=False, baseline=False, summary=summary),
        f"rhograph-{architecture}": delta_preset(architecture, fields, paper),
    }
