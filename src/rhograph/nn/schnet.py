"""SchNet-style continuous-filter messages and interaction of the invariant DeepDFT model.

Module and parameter names follow the released checkpoints (``message_sum_module.message_function.
msg_function_edge.0.weight`` …), so their state dicts load without renaming.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rhograph.nn.activations import ShiftedSoftplus
from rhograph.nn.cutoff import SoftCutoff
from rhograph.nn.mlp import two_layer_mlp
from rhograph.nn.ops import add_into, mul_into
from rhograph.nn.scatter import scatter_sum

_LN2 = math.log(2.0)


def ssp_linear(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``linear(ssp(x))`` computed as ``softplus(x) · Wᵀ + (b − ln 2 · W 1)`` (one elementwise pass fewer)."""
    bias = linear.bias - _LN2 * linear.weight.sum(dim=1)
    return nn.functional.linear(nn.functional.softplus(x), linear.weight, bias)


def two_layer_ssp(mlp: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``Linear → ssp → Linear`` of a :func:`~rhograph.nn.mlp.two_layer_mlp` via :func:`ssp_linear`."""
    return ssp_linear(mlp[2], mlp[0](x))


class SchNetMessageFunction(nn.Module):
    """Message of an edge ``j → i`` from the sender and receiver states and the edge length.

    .. math:: m_{ij} = \\mathrm{MLP}_\\mathrm{node}([h_j \\,\\|\\, h_i]) \\odot
        \\mathrm{MLP}_\\mathrm{edge}(g(d_{ij})) \\cdot f_\\mathrm{soft}(d_{ij})

    with ``MLP = Linear → ssp → Linear`` (node MLP ``2F → 2F → F``, edge MLP ``K → F → F``). The first
    node Linear is split into a sender and a receiver half, so it runs once per node rather than once per
    edge: :meth:`project_senders` / :meth:`project_receivers` give the per-node halves, :meth:`forward`
    finishes the messages per edge.

    Args:
        node_size: ``F``.
        edge_size: ``K``, number of edge basis functions.
        cutoff: ``r_cut`` in Å of the soft cutoff.

    Shapes:
        sender_projection: ``(num_senders, 2F)``; receiver_projection: ``(num_receivers, 2F)`` or ``None``
        (receiver states all zero); edges: ``(2, num_edges)``, row 0 sender, row 1 receiver;
        edge_basis: ``(num_edges, K)``; distance: ``(num_edges,)`` Å; output: ``(num_edges, F)``.
    """

    def __init__(self, node_size: int, edge_size: int, cutoff: float) -> None:
        super().__init__()
        self.node_size = node_size
        self.msg_function_edge = two_layer_mlp(edge_size, node_size, node_size, ShiftedSoftplus())
        self.msg_function_node = two_layer_mlp(2 * node_size, 2 * node_size, node_size, ShiftedSoftplus())
        self.soft_cutoff = SoftCutoff(cutoff)

    def project_senders(self, node_state: torch.Tensor) -> torch.Tensor:
        """Sender half of the first node Linear, with its bias: ``(num_nodes, F) → (num_nodes, 2F)``."""
        first = self.msg_function_node[0]
        return nn.functional.linear(node_state, first.weight[:, : self.node_size], first.bias)

    def project_receivers(self, node_state: torch.Tensor) -> torch.Tensor:
        """Receiver half of the first node Linear: ``(num_nodes, F) → (num_nodes, 2F)``."""
        first = self.msg_function_node[0]
        return nn.functional.linear(node_state, first.weight[:, self.node_size :])

    def forward(
        self,
        sender_projection: torch.Tensor,
        receiver_projection: torch.Tensor | None,
        edges: torch.Tensor,
        edge_basis: torch.Tensor,
        distance: torch.Tensor,
    ) -> torch.Tensor:
        if receiver_projection is None:
            # Zero receiver states: the node MLP depends on the sender only, so run it once per sender.
            nodes = ssp_linear(self.msg_function_node[2], sender_projection).index_select(0, edges[0])
        else:
            hidden = sender_projection.index_select(0, edges[0])  # (num_edges, 2F)
            hidden = add_into(hidden, receiver_projection.index_select(0, edges[1]))
            nodes = ssp_linear(self.msg_function_node[2], hidden)  # (num_edges, F)
        gates = two_layer_ssp(self.msg_function_edge, edge_basis)  # (num_edges, F)
        gates = mul_into(gates, self.soft_cutoff(distance).unsqueeze(1))
        return mul_into(gates, nodes)

    def extra_repr(self) -> str:
        return f"node_size={self.node_size}"


class SchNetMessageSum(nn.Module):
    """Sum of :class:`SchNetMessageFunction` messages at every receiver.

    .. math:: \\Delta h_i = \\sum_{j \\in N(i)} m_{ij}

    Args:
        node_size, edge_size, cutoff: as in :class:`SchNetMessageFunction`.

    Shapes:
        as :class:`SchNetMessageFunction`; output: ``(num_receivers, F)``.
    """

    def __init__(self, node_size: int, edge_size: int, cutoff: float) -> None:
        super().__init__()
        self.message_function = SchNetMessageFunction(node_size, edge_size, cutoff)

    def forward(
        self,
        sender_projection: torch.Tensor,
        receiver_projection: torch.Tensor | None,
        edges: torch.Tensor,
        edge_basis: torch.Tensor,
        distance: torch.Tensor,
        num_receivers: int,
    ) -> torch.Tensor:
        messages = self.message_function(sender_projection, receiver_projection, edges, edge_basis, distance)
        return scatter_sum(messages, edges[1], num_receivers)


class SchNetInteraction(nn.Module):
    """Atom–atom interaction of the invariant model (residual).

    .. math:: h_i \\leftarrow h_i + \\mathrm{MLP}_\\mathrm{state}\\Big(\\sum_{j \\in N(i)} m_{ij}\\Big)

    with ``MLP_state = Linear(F, F) → ssp → Linear(F, F)``.

    Args:
        node_size: ``F``.
        edge_size: ``K``, number of Gaussians.
        cutoff: ``r_cut`` in Å.

    Shapes:
        node_state: ``(num_atoms, F)``; edges: ``(2, num_edges)`` row 0 sender atom, row 1 receiver atom;
        edge_basis: ``(num_edges, K)``; distance: ``(num_edges,)`` Å; output: ``(num_atoms, F)``.
    """

    def __init__(self, node_size: int, edge_size: int, cutoff: float) -> None:
        super().__init__()
        self.message_sum_module = SchNetMessageSum(node_size, edge_size, cutoff)
        self.state_transition_function = two_layer_mlp(node_size, node_size, node_size, ShiftedSoftplus())

    def forward(
        self, node_state: torch.Tensor, edges: torch.Tensor, edge_basis: torch.Tensor, distance: torch.Tensor
    ) -> torch.Tensor:
        message = self.message_sum_module.message_function
        message_sum = self.message_sum_module(
            message.project_senders(node_state),
            message.project_receivers(node_state),
            edges,
            edge_basis,
            distance,
            node_state.shape[0],
        )
        return node_state + two_layer_ssp(self.state_transition_function, message_sum)
