"""PaiNN interaction and update blocks of the equivariant DeepDFT model (paper eqs. 4–7).

Vector states have shape ``(num_nodes, 3, F)`` (spatial axis first), scalar states ``(num_nodes, F)``.
Module and parameter names follow the released checkpoints (``filter_layer``, ``scalar_message_mlp``,
``linearU``, ``linearV``, ``combined_mlp``).
"""

from __future__ import annotations

import torch
from torch import nn

from rhograph.nn.mlp import two_layer_mlp
from rhograph.nn.ops import addcmul_into, mul_into, spatial_norm
from rhograph.nn.scatter import scatter_sum


class PaiNNInteraction(nn.Module):
    """Equivariant messages from sender atoms (eqs. 4–5, as in the released code), residual update.

    .. math::
        x_{ij} = W(d_{ij}) f_\\mathrm{cut}(d_{ij}) \\odot \\phi(s_j) = [x^{sv}, x^{ev}, x^{s}],\\qquad
        \\Delta s_i = \\sum_j s_j \\odot x^{s}_{ij},\\qquad
        \\Delta \\vec v_i = \\sum_j \\vec v_j \\odot x^{sv}_{ij} + x^{ev}_{ij}\\, \\hat r_{ij}

    with ``W = Linear(K, 3F)`` over the radial basis and ``φ = Linear(F, F) → SiLU → Linear(F, 3F)``; the
    scalar message carries the sender's scalar state ``s_j`` (the released code's factor, not in the paper's
    eq. 4). Per-sender quantities are computed once per node by :meth:`sender_features`
    (``[φ_sv(s), φ_ev(s), s ⊙ φ_s(s)]``) and reused for every edge.

    Args:
        node_size: ``F``.
        num_basis: ``K``, number of radial basis functions.

    The cutoff is folded into the filter product: ``W(d) f_cut(d) = [b(d) f_cut(d), f_cut(d)] · [Wᵀ; bias]``,
    with the radial features ``[b(d) f_cut(d), f_cut(d)]`` built once per graph by :meth:`radial_features`.

    Shapes:
        sender_features: ``(num_senders, 3F)``; sender_vector: ``(num_senders, 3, F)`` or ``None`` (all zero);
        edges: ``(2, num_edges)`` row 0 sender, row 1 receiver; radial: ``(num_edges, K + 1)`` from
        :meth:`radial_features` of the basis ``(num_edges, K)`` in 1/Å and ``f_cut(d)`` ``(num_edges,)``;
        unit_vectors: ``(num_edges, 3)`` ``r̂_ij``; message sums: ``(num_receivers, F)`` and
        ``(num_receivers, 3, F)``.
    """

    def __init__(self, node_size: int, num_basis: int) -> None:
        super().__init__()
        self.node_size = node_size
        self.num_basis = num_basis
        self.filter_layer = nn.Linear(num_basis, 3 * node_size)
        self.scalar_message_mlp = two_layer_mlp(node_size, node_size, 3 * node_size, nn.SiLU())

    def sender_features(self, scalar: torch.Tensor) -> torch.Tensor:
        """``[φ_sv(s), φ_ev(s), s ⊙ φ_s(s)]`` per node: ``(num_nodes, F) → (num_nodes, 3F)``."""
        phi = self.scalar_message_mlp(scalar)  # (num_nodes, 3F)
        size = self.node_size
        return torch.cat((phi[:, : 2 * size], phi[:, 2 * size :] * scalar), dim=1)

    @staticmethod
    def radial_features(edge_basis: torch.Tensor, cutoff_weight: torch.Tensor) -> torch.Tensor:
        """``[b(d) f_cut(d), f_cut(d)]``: ``(num_edges, K)``, ``(num_edges,)`` → ``(num_edges, K + 1)``."""
        weight = cutoff_weight.unsqueeze(1)
        return torch.cat((edge_basis * weight, weight), dim=1)

    def filters(self, radial: torch.Tensor) -> torch.Tensor:
        """``W(d) f_cut(d)`` ``(num_edges, 3F)`` from :meth:`radial_features` (one matrix product)."""
        layer = self.filter_layer
        return radial @ torch.cat((layer.weight, layer.bias.unsqueeze(1)), dim=1).t()

    def message_sums(
        self,
        sender_features: torch.Tensor,
        sender_vector: torch.Tensor | None,
        edges: torch.Tensor,
        radial: torch.Tensor,
        unit_vectors: torch.Tensor,
        num_receivers: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sums of scalar and vector messages at every receiver."""
        senders = edges[0]
        x = mul_into(self.filters(radial), sender_features.index_select(0, senders))  # (num_edges, 3F)
        gate_state_vector, gate_edge_vector, message_scalar = torch.split(x, self.node_size, dim=1)
        edge_term = (gate_edge_vector.unsqueeze(1), unit_vectors.unsqueeze(2))  # (E, 1, F), (E, 3, 1)
        if sender_vector is None:
            message_vector = edge_term[0] * edge_term[1]  # (num_edges, 3, F)
        else:
            gathered = sender_vector.index_select(0, senders)  # (num_edges, 3, F)
            message_vector = addcmul_into(mul_into(gathered, gate_state_vector.unsqueeze(1)), *edge_term)
        return (
            scatter_sum(message_scalar, edges[1], num_receivers),
            scatter_sum(message_vector, edges[1], num_receivers),
        )

    def forward(
        self,
        scalar: torch.Tensor,
        vector: torch.Tensor | None,
        edges: torch.Tensor,
        radial: torch.Tensor,
        unit_vectors: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual atom–atom update; ``vector=None`` means zero vector states (the first layer)."""
        delta_s, delta_v = self.message_sums(
            self.sender_features(scalar), vector, edges, radial, unit_vectors, scalar.shape[0]
        )
        return scalar + delta_s, delta_v if vector is None else vector + delta_v

    def extra_repr(self) -> str:
        return f"node_size={self.node_size}, num_basis={self.num_basis}"


class PaiNNUpdate(nn.Module):
    """Node-wise mixing of scalar and vector features (eqs. 6–7), residual.

    .. math::
        [a_{ss}, a_{sv}, a_{vv}] = \\mathrm{MLP}([s, \\|V\\vec v\\|]),\\qquad
        s \\leftarrow s + a_{ss} + a_{sv} \\odot \\langle U\\vec v, V\\vec v\\rangle,\\qquad
        \\vec v \\leftarrow \\vec v + a_{vv} \\odot U\\vec v

    ``U, V = Linear(F, F, bias=False)`` act on the feature axis; the norm is the plain Euclidean norm over
    the 3 spatial components (no epsilon, as released); ``MLP = Linear(2F, F) → SiLU → Linear(F, 3F)``.

    Args:
        node_size: ``F``.

    Shapes:
        scalar: ``(num_nodes, F)``; vector: ``(num_nodes, 3, F)``; outputs: the same shapes.
    """

    def __init__(self, node_size: int) -> None:
        super().__init__()
        self.node_size = node_size
        self.linearU = nn.Linear(node_size, node_size, bias=False)  # released name
        self.linearV = nn.Linear(node_size, node_size, bias=False)  # released name
        self.combined_mlp = two_layer_mlp(2 * node_size, node_size, 3 * node_size, nn.SiLU())

    def forward(self, scalar: torch.Tensor, vector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weight = torch.cat((self.linearU.weight, self.linearV.weight), dim=0)  # (2F, F)
        uv, vv = torch.split(nn.functional.linear(vector, weight), self.node_size, dim=2)  # (num_nodes, 3, F) each
        vv_norm = spatial_norm(vv)  # (num_nodes, F)
        a = self.combined_mlp(torch.cat((scalar, vv_norm), dim=1))  # (num_nodes, 3F)
        a_ss, a_sv, a_vv = torch.split(a, self.node_size, dim=1)
        inner = (uv * vv).sum(dim=1)  # (num_nodes, F)
        return scalar + a_ss + a_sv * inner, vector + a_vv.unsqueeze(1) * uv

    def extra_repr(self) -> str:
        return f"node_size={self.node_size}"
