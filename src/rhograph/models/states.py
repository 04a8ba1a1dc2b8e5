"""Per-layer atom states: what an atom encoder hands to a probe decoder (encode once, decode many chunks)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class AtomStates:
    """Per-layer atom states of one batch (output of :meth:`DensityModel.encode_atoms`).

    Attributes:
        scalar: ``T`` scalar (invariant) states ``(num_atoms, F)``, after atom layers 1..T.
        vector: ``T`` equivariant states (``(num_atoms, 3, F)`` for PaiNN; an architecture may store any
            per-atom tensors here) or ``None`` for an invariant model.
        sender_features: per-atom factors of the probe messages of every probe layer, filled in by the
            decoder (:meth:`ProbeDecoder.prepare`) once per structure so that decoding a probe chunk costs only
            per-edge and per-probe work.
    """

    scalar: list[torch.Tensor]
    vector: list[torch.Tensor] | None = None
    sender_features: list[torch.Tensor] = field(default_factory=list)

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> AtomStates:
        """A new ``AtomStates`` with ``fn`` applied to every tensor."""
        return AtomStates(
            scalar=[fn(t) for t in self.scalar],
            vector=None if self.vector is None else [fn(t) for t in self.vector],
            sender_features=[fn(t) for t in self.sender_features],
        )

    def replace(self, **changes) -> AtomStates:
        return dataclasses.replace(self, **changes)

    def to(self, device: torch.device | str) -> AtomStates:
        """The states on ``device``."""
        return self.apply(lambda t: t.to(device))

    def detach(self) -> AtomStates:
        """The states cut from the autograd graph."""
        return self.apply(torch.Tensor.detach)
