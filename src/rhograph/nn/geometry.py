"""Edge vectors of the quotient graph, recomputed from positions, image offsets and cells.

Computing them inside the model (rather than storing lengths in the batch) makes the density a
differentiable function of the probe positions.
"""

from __future__ import annotations

import torch


def edge_vectors(
    receiver_positions: torch.Tensor,
    sender_positions: torch.Tensor,
    edges: torch.Tensor,
    offsets: torch.Tensor,
    cell: torch.Tensor,
    edge_structure: torch.Tensor | None,
) -> torch.Tensor:
    """Vectors from the sender image to the receiver.

    .. math:: \\vec r_{ij} = \\vec r_i - (\\vec r_j + \\vec n_{ij} \\cdot C)

    Args:
        receiver_positions: atoms (atom–atom edges) or probes, Å.
        sender_positions: atoms, Å.
        edges: row 0 sender ``j``, row 1 receiver ``i``.
        offsets: integer image offset ``n`` of the sender (as floats).
        cell: cell of every structure, rows are lattice vectors, Å.
        edge_structure: structure index of every edge; may be ``None`` when ``cell`` holds one structure.

    Shapes:
        receiver_positions: ``(num_receivers, 3)``; sender_positions: ``(num_senders, 3)``;
        edges: ``(2, num_edges)``; offsets: ``(num_edges, 3)``; cell: ``(num_structures, 3, 3)``;
        edge_structure: ``(num_edges,)``; output: ``(num_edges, 3)`` Å.
    """
    offsets = offsets.to(sender_positions.dtype)
    cell = cell.to(sender_positions.dtype)
    if cell.shape[0] == 1:
        shifts = offsets @ cell[0]  # (num_edges, 3)
    else:
        if edge_structure is None:
            raise ValueError("edge_structure is required when the batch holds several cells")
        shifts = torch.bmm(offsets.unsqueeze(1), cell[edge_structure]).squeeze(1)  # (num_edges, 3)
    return receiver_positions[edges[1]] - (sender_positions[edges[0]] + shifts)
