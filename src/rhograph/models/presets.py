"""Models by preset name, read from the registry (:mod:`rhograph.models.registry`).

``deepdft-schnet`` / ``deepdft-painn`` are the paper's models exactly as released (no baseline, no clamp);
``rhograph-schnet`` / ``rhograph-painn`` are the same networks with an atomic-density baseline and ρ ≥ 0.
:func:`list_presets` gives every preset with its parameter count (``rhograph models``).
"""

from __future__ import annotations

from typing import Any

from rhograph.errors import ConfigError
from rhograph.models.baseline import AtomicDensityTables
from rhograph.models.config import BaselineConfig, ModelConfig
from rhograph.models.density_model import DensityModel
from rhograph.models.registry import PRESETS, get_preset

__all__ = ["PRESETS", "build_model", "list_presets", "preset_config"]


def preset_config(
    preset: str = "deepdft-painn",
    *,
    baseline: AtomicDensityTables | BaselineConfig | bool | None = None,
    **overrides: Any,
) -> ModelConfig:
    """The :class:`ModelConfig` of ``preset`` with ``overrides`` applied (validated).

    Args:
        preset: a name in :data:`PRESETS`.
        baseline: ``None`` (the preset's choice: a preset with a baseline then needs tables), ``False`` (no
            baseline), or the tables / baseline config to use (also for presets without one).
        **overrides: encoder fields (``hidden_size=64``) or ``nonnegative``.

    Raises:
        ValueError: unknown preset name or override key, an invalid value, a changed architecture, or a
            baseline preset without tables.
    """
    spec = get_preset(preset)
    if "architecture" in overrides and overrides["architecture"] != spec.architecture:
        raise ConfigError(
            f"preset {preset!r} has architecture {spec.architecture!r}; choose a preset of "
            f"{overrides['architecture']!r} instead of overriding architecture"
        )
    if "baseline" in overrides:
        raise ConfigError("set the atomic baseline with baseline=<tables>, not as a config field")
    fields: dict[str, Any] = {"architecture": spec.architecture, **spec.fields, "nonnegative": spec.nonnegative}
    fields.update(overrides)
    if isinstance(baseline, AtomicDensityTables):
        fields["baseline"] = {"elements": list(baseline.elements), "settings": dict(baseline.settings)}
    elif isinstance(baseline, BaselineConfig):
        fields["baseline"] = baseline.to_dict()
    elif baseline is None and spec.baseline:
        raise ConfigError(
            f"preset {preset!r} adds an atomic-density baseline: pass its free-atom tables "
            "(rhograph.labels.atoms.free_atom_tables, AtomicDensityTables.load) or baseline=False"
        )
    return ModelConfig.from_dict(fields, where=f"model preset {preset!r}")


def build_model(
    preset: str = "deepdft-painn",
    *,
    baseline: AtomicDensityTables | bool | None = None,
    **overrides: Any,
) -> DensityModel:
    """A freshly initialised :class:`DensityModel` of ``preset`` (float32, CPU).

    Example: ``build_model("deepdft-painn", hidden_size=64, num_basis=20)``;
    ``build_model("rhograph-painn", baseline=free_atom_tables((1, 6, 7, 8, 9), LabelConfig()))``.

    Raises:
        ValueError: see :func:`preset_config`.
    """
    model = DensityModel(preset_config(preset, baseline=baseline, **overrides))
    if isinstance(baseline, AtomicDensityTables):
        model.set_baseline_tables(baseline.radii, baseline.values)
    return model


def list_presets() -> list[dict[str, Any]]:
    """Every preset: name, architecture, options, parameter count and summary (for ``rhograph models``)."""
    from rhograph.models.baseline import gaussian_tables

    rows = []
    for name, spec in PRESETS.items():
        tables = gaussian_tables((1,), float(spec.fields.get("cutoff", 4.0))) if spec.baseline else None
        model = build_model(name, baseline=tables if spec.baseline else None)
        rows.append(
            {
                "preset": name,
                "architecture": spec.architecture,
                "parameters": model.num_parameters(),
                "baseline": spec.baseline,
                "nonnegative": spec.nonnegative,
                "config": model.config.encoder.describe(),
                "summary": spec.summary,
            }
        )
    return rows
