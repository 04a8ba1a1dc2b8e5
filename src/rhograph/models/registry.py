"""The model registry: every architecture rhograph can build, and every named preset.

An architecture is an atom encoder and a probe decoder behind one small interface (below), with its own
typed config (a subclass of :class:`~rhograph.models.config.EncoderConfig`) and its presets. Presets, the
``rhograph train --preset`` choices, checkpoint loading, :func:`rhograph.build_model` and the model test
suite (:mod:`rhograph.testing.model_suite`) all read from :data:`ARCHITECTURES`.

**Adding an architecture** = one module that defines its config, encoder, decoder and an
:class:`Architecture` named ``ARCHITECTURE``, plus one line in :data:`ARCHITECTURES` below.

The interface (duck-typed ``nn.Module`` s; see :mod:`rhograph.models.painn` for a full example):

* encoder ``encode(atomic_numbers (N,), edge_vectors (E, 3) Å, edges (2, E)) -> AtomStates``: message passing
  on the atom graph, once per structure;
* decoder ``prepare(states) -> AtomStates``: per-atom work shared by every probe (sender features), once
  per structure; ``decoder_args(states) -> tuple``: the leading arguments of ``forward``;
  ``forward(*decoder_args, edge_vectors (P, 3) Å, edges (2, P), num_probes) -> (num_probes,)`` the network's
  density in e/Å³ (before the model's atomic baseline and clamp). ``forward`` takes only tensors and ints so
  that ``torch.compile`` can take it as it is.
"""

from __future__ import annotations

from rhograph.errors import ConfigError
from rhograph.models import e3, painn, schnet
from rhograph.models.architecture import Architecture, Preset

__all__ = ["ARCHITECTURES", "PRESETS", "Architecture", "Preset", "get_architecture", "get_preset"]


#: the registered architectures (one line each)
ARCHITECTURES: dict[str, Architecture] = {
    spec.name: spec
    for spec in (
        schnet.ARCHITECTURE,
        painn.ARCHITECTURE,
        e3.ARCHITECTURE,
    )
}

#: every preset of every architecture, by name
PRESETS: dict[str, Preset] = {name: preset for spec in ARCHITECTURES.values() for name, preset in spec.presets.items()}


def get_architecture(name: str) -> Architecture:
    """The registered architecture ``name``.

    Raises:
        ValueError: unknown name (the message lists the registered ones).
    """
    if name not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {name!r}; registered: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def get_preset(name: str) -> Preset:
    """The preset ``name``.

    Raises:
        ValueError: unknown name (the message lists the presets).
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]
