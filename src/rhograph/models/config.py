"""Typed, validated hyper-parameters of a density model: an architecture's own config plus model options.

A :class:`ModelConfig` is ``architecture`` (a name in :mod:`rhograph.models.registry`), ``encoder`` (that
architecture's typed config, a subclass of :class:`EncoderConfig`), and the options every architecture has:
``nonnegative`` (ρ ≥ 0) and ``baseline`` (an atomic-density baseline, :class:`BaselineConfig`).

Its dict form (checkpoints, ``--set model.FIELD=VALUE``) is flat: ``{"architecture": "painn",
"num_interactions": 3, "hidden_size": 128, ..., "nonnegative": false, "baseline": null}``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rhograph.config import check_positive
from rhograph.errors import ConfigError
from rhograph.keys import DEFAULT_CUTOFF, MAX_CUTOFF

#: rows of the atom-type embedding table (Z = 0..118), as in the released models
NUM_SPECIES = 119
#: the fields of a ModelConfig that are not the encoder's
MODEL_OPTIONS = ("architecture", "nonnegative", "baseline")


def check_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    check_positive(name, value)


def check_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    check_positive(name, value)


@dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    """Fields every architecture has; each architecture subclasses it with its own.

    Args:
        num_interactions: ``T``, number of atom (and probe) message-passing layers.
        hidden_size: ``F``, width of the node states.
        cutoff: graph and model cutoff ``r_cut`` in Å.
    """

    num_interactions: int
    hidden_size: int = 128
    cutoff: float = DEFAULT_CUTOFF

    def __post_init__(self) -> None:
        check_int("num_interactions", self.num_interactions)
        check_int("hidden_size", self.hidden_size)
        check_number("cutoff", self.cutoff)
        if self.cutoff > MAX_CUTOFF:
            raise ConfigError(f"cutoff={self.cutoff!r} Å is absurd; a model cutoff must be in (0, {MAX_CUTOFF}] Å")

    def describe(self) -> str:
        return f"T={self.num_interactions}, F={self.hidden_size}, cutoff {self.cutoff} Å"


@dataclass(frozen=True, kw_only=True)
class BaselineConfig:
    """An atomic-density baseline: ``ρ(r) = Σ_atoms ρ_Z(|r − R|) + network(r)`` (delta learning).

    The radial tables themselves are buffers of the model (in its state dict, so in every checkpoint); this
    records what they are.

    Args:
        elements: atomic numbers with a table, ascending.
        num_points: knots of the cubic spline on ``[0, cutoff]`` (uniform).
        settings: the label settings the free atoms were computed with (functional, basis, pseudopotential),
            for the model card.
    """

    elements: tuple[int, ...]
    num_points: int = 801
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        elements = tuple(int(z) for z in self.elements)
        if not elements or any(not 1 <= z < NUM_SPECIES for z in elements) or len(set(elements)) != len(elements):
            raise ConfigError(f"baseline elements must be distinct atomic numbers in 1..118, got {self.elements!r}")
        object.__setattr__(self, "elements", tuple(sorted(elements)))
        check_int("baseline num_points", self.num_points)
        if self.num_points < 4:
            raise ConfigError(f"baseline num_points must be >= 4, got {self.num_points}")
        if not isinstance(self.settings, dict):
            raise ConfigError(f"baseline settings must be a mapping, got {self.settings!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"elements": list(self.elements), "num_points": self.num_points, "settings": dict(self.settings)}

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "baseline") -> BaselineConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping with 'elements', got {data!r}")
        unknown = sorted(set(data) - {"elements", "num_points", "settings"})
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: ['elements', 'num_points', 'settings']")
        return cls(**{**data, "elements": tuple(data.get("elements") or ())})


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Architecture and options of a :class:`~rhograph.models.density_model.DensityModel`.

    Args:
        architecture: a registered architecture (:data:`rhograph.models.registry.ARCHITECTURES`).
        encoder: its typed config (checked to be the architecture's config class).
        nonnegative: clamp the predicted density at zero, ``ρ = max(ρ_raw, 0)``. Any target density is ≥ 0,
            so the clamp never increases an error; training uses the raw output. Off in the DeepDFT presets
            (which reproduce the released models exactly), on in the rhograph presets.
        baseline: atomic-density baseline, or ``None``.

    Fields of the encoder config are also readable here (``config.cutoff``, ``config.hidden_size``, …).
    """

    architecture: str
    encoder: EncoderConfig
    nonnegative: bool = True
    baseline: BaselineConfig | None = None

    def __post_init__(self) -> None:
        from rhograph.models.registry import get_architecture

        spec = get_architecture(self.architecture)
        if type(self.encoder) is not spec.config:
            raise ConfigError(
                f"architecture {self.architecture!r} needs a {spec.config.__name__}, got {type(self.encoder).__name__}"
            )
        if not isinstance(self.nonnegative, bool):
            raise ConfigError(f"nonnegative must be true or false, got {self.nonnegative!r}")
        if self.baseline is not None and not isinstance(self.baseline, BaselineConfig):
            raise ConfigError(f"baseline must be a BaselineConfig or None, got {self.baseline!r}")

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: expose the encoder's fields (config.cutoff, config.num_basis)
        if name.startswith("__") or name == "encoder":
            raise AttributeError(name)
        encoder = self.__dict__.get("encoder")
        if encoder is not None and name in {f.name for f in dataclasses.fields(encoder)}:
            return getattr(encoder, name)
        raise AttributeError(f"{type(self).__name__} of {self.__dict__.get('architecture')!r} has no field {name!r}")

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with flat field changes (encoder fields or model options), validated."""
        return ModelConfig.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Flat plain dict (JSON / checkpoint ready)."""
        return {
            "architecture": self.architecture,
            **dataclasses.asdict(self.encoder),
            "nonnegative": self.nonnegative,
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "model config") -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming the allowed ones."""
        from rhograph.models.registry import get_architecture

        data = dict(data)
        if "architecture" not in data:
            raise ConfigError(f"{where}: no 'architecture' given")
        try:
            spec = get_architecture(data["architecture"])
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        names = {f.name for f in dataclasses.fields(spec.config)}
        unknown = sorted(set(data) - names - set(MODEL_OPTIONS))
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {unknown} for architecture {spec.name!r}; "
                f"allowed: {sorted(names | set(MODEL_OPTIONS))}"
            )
        encoder = spec.config(**{k: v for k, v in data.items() if k in names})
        baseline = data.get("baseline")
        options: dict[str, Any] = {}
        if "nonnegative" in data:
            options["nonnegative"] = data["nonnegative"]
        return cls(
            architecture=spec.name,
            encoder=encoder,
            baseline=None if baseline is None else BaselineConfig.from_dict(baseline, where=f"{where}: baseline"),
            **options,
        )

    def describe(self) -> str:
        """One line, e.g. ``painn (T=3, F=128, cutoff 4.0 Å, 30 sinc functions), ρ ≥ 0, atomic baseline H C``."""
        text = f"{self.architecture} ({self.encoder.describe()})"
        if self.nonnegative:
            text += ", ρ ≥ 0"
        if self.baseline is not None:
            from ase.data import chemical_symbols

            text += ", atomic baseline " + " ".join(chemical_symbols[z] for z in self.baseline.elements)
        return text
