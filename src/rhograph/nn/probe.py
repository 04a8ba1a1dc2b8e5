"""Probe message blocks: probes only receive messages and mix them into their state through gates.

* Invariant model: the gate is computed from the *current probe state*,
  ``g = σ(MLP_gate(p))``, ``p ← g ⊙ p + (1 − g) ⊙ MLP_state(Σ m)`` (see :func:`gate_mlp`, :func:`gated_update`).
* Equivariant model (paper eqs. 8–9): the gates are computed from the *scalar message sum*
  (:class:`PaiNNProbeMessage`).
"""

from __future__ import annotations

import torch
from torch import nn

from rhograph.nn.mlp import two_layer_mlp
from rhograph.nn.painn import PaiNNInteraction


def gate_mlp(in_features: int, hidden_features: int, out_features: int, activation: nn.Module) -> nn.Sequential:
    """``Linear → activation → Linear → sigmoid`` (gate values in (0, 1))."""
    return two_layer_mlp(in_features, hidden_features, out_features, activation, nn.Sigmoid())


def gated_update(state: torch.Tensor | None, gate: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
    """``g ⊙ state + (1 − g) ⊙ candidate``; ``state=None`` stands for a zero state.

    Shapes:
        state and candidate: ``(num_probes, F)`` or ``(num_probes, 3, F)``; gate broadcastable to them.
    """
    if state is None:
        return (1.0 - gate) * candidate
    return gate * state + (1.0 - gate) * candidate


class PaiNNProbeMessage(PaiNNInteraction):
    """Atom → probe messages of the equivariant model with gated state updates (eqs. 8–9).

    Messages are those of :class:`~rhograph.nn.painn.PaiNNInteraction` (sender = atom, receiver = probe);
    the gates come from the scalar message sum:

    .. math::
        [G_s, G_v] = \\sigma(\\mathrm{MLP}(\\Delta s^m)),\\qquad
        s \\leftarrow G_s \\odot s + (1 - G_s) \\odot \\Delta s^m,\\qquad
        \\vec v \\leftarrow G_v \\odot \\vec v + (1 - G_v) \\odot \\Delta \\vec v^m

    with ``MLP = Linear(F, 2F) → SiLU → Linear(2F, 2F)``.

    Args:
        node_size: ``F``.
        num_basis: ``K``.

    Shapes:
        sender_features: ``(num_atoms, 3F)`` (:meth:`sender_features` of the atom states);
        sender_vector: ``(num_atoms, 3, F)``; probe_scalar: ``(num_probes, F)`` or ``None`` (zero);
        probe_vector: ``(num_probes, 3, F)`` or ``None``; edges: ``(2, num_edges)`` row 0 atom, row 1 probe;
        radial: ``(num_edges, K + 1)`` (:meth:`radial_features`); unit_vectors: ``(num_edges, 3)``;
        outputs: ``(num_probes, F)`` and ``(num_probes, 3, F)``.
    """

    def __init__(self, node_size: int, num_basis: int) -> None:
        super().__init__(node_size, num_basis)
        self.update_gate_mlp = gate_mlp(node_size, 2 * node_size, 2 * node_size, nn.SiLU())

    def forward(  # type: ignore[override]
        self,
        sender_features: torch.Tensor,
        sender_vector: torch.Tensor,
        probe_scalar: torch.Tensor | None,
        probe_vector: torch.Tensor | None,
        edges: torch.Tensor,
        radial: torch.Tensor,
        unit_vectors: torch.Tensor,
        num_probes: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sum_s, sum_v = self.message_sums(sender_features, sender_vector, edges, radial, unit_vectors, num_probes)
        gate_s, gate_v = torch.split(self.update_gate_mlp(sum_s), self.node_size, dim=1)
        return gated_update(probe_scalar, gate_s, sum_s), gated_update(probe_vector, gate_v.unsqueeze(1), sum_v)
