"""DeepDFT density models composed from :mod:`rhograph.nn`, presets, checkpoints and converters."""

from rhograph.models.config import ModelConfig
from rhograph.models.density_model import AtomStates, DensityModel
from rhograph.models.presets import PRESETS, build_model, preset_config

__all__ = ["PRESETS", "AtomStates", "DensityModel", "ModelConfig", "build_model", "preset_config"]
