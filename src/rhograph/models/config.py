"""Typed, validated hyper-parameters of a DeepDFT density model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rhograph.config import check_choice, check_positive, from_mapping
from rhograph.keys import DEFAULT_CUTOFF

#: architectures and their preset names
ARCHITECTURES = ("schnet", "painn")
#: rows of the atom-type embedding table (Z = 0..118), as in the released models
NUM_SPECIES = 119


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Architecture of a :class:`~rhograph.models.density_model.DensityModel`.

    Args:
        architecture: ``"schnet"`` (invariant DeepDFT) or ``"painn"`` (equivariant DeepDFT).
        num_interactions: ``T``, number of atom (and probe) message-passing layers.
        hidden_size: ``F``, width of the node states.
        cutoff: graph and model cutoff ``r_cut`` in Å.
        num_basis: number of sinc radial basis functions (``painn``; 30 in the released code, 20 in the
            paper text).
        gaussian_step: spacing and width in Å of the Gaussian distance expansion (``schnet``).
    """

    architecture: str
    num_interactions: int
    hidden_size: int = 128
    cutoff: float = DEFAULT_CUTOFF
    num_basis: int = 30
    gaussian_step: float = 0.1

    def __post_init__(self) -> None:
        check_choice("architecture", self.architecture, ARCHITECTURES)
        for name in ("num_interactions", "hidden_size", "num_basis"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            check_positive(name, value)
        for name in ("cutoff", "gaussian_step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, got {value!r}")
            check_positive(name, value)
        if self.gaussian_step >= self.cutoff:
            raise ValueError(f"gaussian_step={self.gaussian_step!r} must be smaller than cutoff={self.cutoff!r}")

    @property
    def preset(self) -> str:
        """Preset family name, ``deepdft-schnet`` or ``deepdft-painn``."""
        return f"deepdft-{self.architecture}"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON / checkpoint ready)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "model config") -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        return from_mapping(cls, data, where=where)

    def describe(self) -> str:
        """One line, e.g. ``deepdft-painn (T=3, F=128, cutoff 4.0 Å, 30 sinc functions)``."""
        if self.architecture == "painn":
            basis = f"{self.num_basis} sinc functions"
        else:
            basis = f"Gaussian step {self.gaussian_step} Å"
        return f"{self.preset} (T={self.num_interactions}, F={self.hidden_size}, cutoff {self.cutoff} Å, {basis})"
