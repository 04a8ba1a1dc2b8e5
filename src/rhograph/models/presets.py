"""The paper models by name: ``deepdft-schnet`` (invariant) and ``deepdft-painn`` (equivariant)."""

from __future__ import annotations

from typing import Any

from rhograph.models.config import ModelConfig
from rhograph.models.density_model import DensityModel

#: preset name -> ModelConfig fields (the released/paper models: F = 128, cutoff 4 Å)
PRESETS: dict[str, dict[str, Any]] = {
    # T = 6 → 2,071,681 parameters
    "deepdft-schnet": {"architecture": "schnet", "num_interactions": 6, "hidden_size": 128, "cutoff": 4.0},
    # T = 3, 30 sinc functions (released code; the paper text says 20) → 1,487,233 parameters
    "deepdft-painn": {"architecture": "painn", "num_interactions": 3, "hidden_size": 128, "cutoff": 4.0},
}


def preset_config(preset: str = "deepdft-painn", **overrides: Any) -> ModelConfig:
    """The :class:`ModelConfig` of ``preset`` with ``overrides`` applied (validated).

    Raises:
        ValueError: unknown preset name or override key, or an invalid value.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {sorted(PRESETS)}")
    fields = dict(PRESETS[preset])
    if "architecture" in overrides and overrides["architecture"] != fields["architecture"]:
        raise ValueError(
            f"preset {preset!r} has architecture {fields['architecture']!r}; "
            f"choose the preset deepdft-{overrides['architecture']} instead of overriding architecture"
        )
    fields.update(overrides)
    return ModelConfig.from_dict(fields, where=f"model preset {preset!r}")


def build_model(preset: str = "deepdft-painn", **overrides: Any) -> DensityModel:
    """A freshly initialised :class:`DensityModel` of ``preset`` (float32, CPU).

    Example: ``build_model("deepdft-painn", hidden_size=64, num_basis=20)``.

    Raises:
        ValueError: unknown preset (the message lists them), unknown override key or invalid value.
    """
    return DensityModel(preset_config(preset, **overrides))
