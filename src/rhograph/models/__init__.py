"""Density models composed from :mod:`rhograph.nn`: the architecture registry, presets, checkpoints and converters."""

from rhograph.models.baseline import AtomicDensityTables
from rhograph.models.config import BaselineConfig, EncoderConfig, ModelConfig
from rhograph.models.density_model import DensityModel
from rhograph.models.presets import build_model, list_presets, preset_config
from rhograph.models.registry import ARCHITECTURES, PRESETS, get_architecture
from rhograph.models.states import AtomStates

__all__ = [
    "ARCHITECTURES",
    "PRESETS",
    "AtomStates",
    "AtomicDensityTables",
    "BaselineConfig",
    "DensityModel",
    "EncoderConfig",
    "ModelConfig",
    "build_model",
    "get_architecture",
    "list_presets",
    "preset_config",
]
