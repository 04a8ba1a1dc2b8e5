"""Neighbour lists of the quotient graph: atom–atom edges (vesin) and atom→probe edges (KD-tree over images).

Conventions (see :mod:`rhograph.keys`): row 0 of an edge index is the sender atom ``j``, row 1 the receiver
(atom ``i`` or probe ``p``); the integer image offset ``n`` belongs to the sender, so the edge length is

    d = |r_receiver − (r_j + n · cell)| < cutoff.

Positions need not be wrapped into the cell: offsets are always consistent with the positions as given.
Non-periodic directions get offset 0 and their cell vector may be zero. A cell smaller than the cutoff gets
all images within the cutoff (including an atom's own images with ``n ≠ 0``); the zero-offset self pair is
never an edge.

Every path decides the final ``d < cutoff`` test with :func:`squared_lengths`, one fixed sequence of
element-wise float64 operations, so that the generic and the grid-aware probe paths agree edge for edge.
"""

from __future__ import annotations

import numpy as np
import vesin
from scipy.spatial import cKDTree

from rhograph.errors import StructureError

#: Relative width of the band around the cutoff where candidates are re-tested with :func:`squared_lengths`.
_SEARCH_SLACK = 1e-6
#: Probes per KD-tree query in :func:`probe_graph` (bounds peak memory).
_PROBE_BLOCK = 1 << 16


def check_structure(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray | list[bool] | tuple[bool, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert ``(positions (N,3) Å, cell (3,3) Å, pbc (3,))`` to float64 / bool arrays.

    Raises:
        StructureError: wrong shapes, non-finite values, or periodic cell vectors that are zero or
            linearly dependent.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise StructureError(f"positions must have shape (N, 3), got {positions.shape}")
    if not np.isfinite(positions).all():
        bad = np.flatnonzero(~np.isfinite(positions).all(axis=1))
        raise StructureError(f"positions of atoms {bad[:10].tolist()} are not finite (NaN/inf)")
    cell = np.asarray(cell, dtype=np.float64)
    if cell.shape != (3, 3):
        raise StructureError(f"cell must have shape (3, 3), got {cell.shape}")
    if not np.isfinite(cell).all():
        raise StructureError("cell contains NaN/inf")
    periodicity = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)).copy()
    periodic = cell[periodicity]
    if len(periodic) and np.linalg.matrix_rank(periodic, tol=1e-8 * max(1.0, np.abs(periodic).max())) < len(periodic):
        raise StructureError(
            f"periodic cell vectors {periodic.tolist()} (pbc={periodicity.tolist()}) are zero or linearly dependent"
        )
    return positions, cell, periodicity


def complete_cell(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """A full-rank cell with the periodic rows of ``cell`` and orthonormal rows for non-periodic directions.

    Non-periodic rows of the input (possibly zero) are replaced by unit vectors spanning the orthogonal
    complement of the periodic rows, so fractional coordinates along periodic directions are defined.
    """
    full = np.array(cell, dtype=np.float64)
    periodic = np.flatnonzero(pbc)
    free = np.flatnonzero(~np.asarray(pbc))
    if len(free) == 0:
        return full
    if len(periodic) == 0:
        return np.eye(3)
    # Orthonormal basis whose last rows span the complement of the periodic rows.
    q, _ = np.linalg.qr(full[periodic].T, mode="complete")  # (3, 3), columns orthonormal
    complement = q[:, len(periodic) :].T
    full[free] = complement
    return full


def lattice_shifts(offsets: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """``n · cell`` row by row, element-wise (bit-reproducible whatever the number of rows).

    Shapes:
        offsets: (E, 3) int; returns (E, 3) Å.
    """
    n = offsets.astype(np.float64)
    shift = n[:, 0:1] * cell[0]
    shift += n[:, 1:2] * cell[1]
    shift += n[:, 2:3] * cell[2]
    return shift


def image_positions(positions: np.ndarray, cell: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Positions ``r + n · cell`` of periodic images (Å), shapes (E, 3)."""
    return positions + lattice_shifts(offsets, cell)


def squared_lengths(receivers: np.ndarray, senders: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Squared edge lengths ``|(r_sender − r_receiver) + n · cell|²`` (Å²) in one fixed order of float64 ops.

    The difference of the two positions is taken first (exact for an atom and its own image). This is
    the only place where ``d < cutoff`` is decided.

    Shapes:
        receivers, senders, shifts (= ``lattice_shifts(n, cell)``): (E, 3) Å; returns (E,) Å².
    """
    diff = senders - receivers
    diff += shifts
    d2 = diff[:, 0] * diff[:, 0]
    d2 += diff[:, 1] * diff[:, 1]
    d2 += diff[:, 2] * diff[:, 2]
    return d2


def expand_groups(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For consecutive groups of ``counts[g]`` items: (group of each item, index of the item in its group)."""
    group = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    within = np.arange(len(group), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return group, within


def reachable_images(
    positions: np.ndarray,
    full_cell: np.ndarray,
    pbc: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray]:
    """All atom images whose fractional coordinates lie within the cutoff slab around a box.

    An image ``r_a + n · cell`` is kept when, along every direction ``k``, its fractional coordinate (in
    ``full_cell``) is within ``cutoff · |b_k|`` of ``[lower_k, upper_k]`` (``b_k`` = reciprocal vector,
    ``1/|b_k|`` the spacing of lattice planes): a necessary condition to be within ``cutoff`` of a point of
    the box. Non-periodic directions only prune atoms (``n_k = 0``).

    Shapes:
        positions: (N, 3) Å; lower, upper: (3,) fractional; returns atom indices (M,) int64 and
        offsets (M, 3) int64.
    """
    inverse = np.linalg.inv(full_cell)
    frac = positions @ inverse  # (N, 3)
    reach = cutoff * np.linalg.norm(inverse, axis=0) + _SEARCH_SLACK  # (3,)
    low = lower - reach - frac  # (N, 3) range of n + frac shift
    high = upper + reach - frac
    n_min = np.where(pbc, np.ceil(low), 0).astype(np.int64)
    n_max = np.where(pbc, np.floor(high), 0).astype(np.int64)
    inside = (low <= 0) & (high >= 0)  # non-periodic: the atom itself must be in reach
    counts3 = np.where(pbc, np.maximum(n_max - n_min + 1, 0), inside.astype(np.int64))
    atom, local = expand_groups(counts3.prod(axis=1))
    dims = counts3[atom]
    offsets = np.empty((len(atom), 3), dtype=np.int64)
    offsets[:, 2] = local % np.maximum(dims[:, 2], 1)
    local //= np.maximum(dims[:, 2], 1)
    offsets[:, 1] = local % np.maximum(dims[:, 1], 1)
    offsets[:, 0] = local // np.maximum(dims[:, 1], 1)
    offsets += n_min[atom]
    return atom, offsets


def atom_graph(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray | list[bool], cutoff: float
) -> tuple[np.ndarray, np.ndarray]:
    """Directed atom–atom edges of the quotient graph (both directions), computed with vesin.

    Args:
        positions: atom positions in Å (not necessarily wrapped into the cell).
        cell: rows are lattice vectors in Å (any value, e.g. zeros, for non-periodic directions).
        pbc: periodicity per direction.
        cutoff: edge cutoff in Å (strict: ``d < cutoff``).

    Returns:
        edges ``(2, E)`` int64 (row 0 sender ``j``, row 1 receiver ``i``) and image offsets ``(E, 3)``
        int64 ``n`` of the sender, with ``|r_i − (r_j + n · cell)| < cutoff``; sorted by receiver, sender.

    Raises:
        StructureError: invalid positions / cell (see :func:`check_structure`).
    """
    positions, cell, pbc = check_structure(positions, cell, pbc)
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    if len(positions) == 0:
        return np.zeros((2, 0), dtype=np.int64), np.zeros((0, 3), dtype=np.int64)
    box = complete_cell(cell, pbc)
    calculator = vesin.NeighborList(cutoff=float(cutoff) * (1 + _SEARCH_SLACK), full_list=True)
    receiver, sender, shift = calculator.compute(positions, box, pbc.tolist(), "ijS")
    receiver = receiver.astype(np.int64)
    sender = sender.astype(np.int64)
    shift = shift.astype(np.int64)
    # Exact strict test with the shared formula (vesin's own boundary handling may differ by an ulp).
    d2 = squared_lengths(positions[receiver], positions[sender], lattice_shifts(shift, cell))
    keep = d2 < cutoff * cutoff
    keep &= (receiver != sender) | shift.any(axis=1)
    order = np.lexsort((shift[keep, 2], shift[keep, 1], shift[keep, 0], sender[keep], receiver[keep]))
    edges = np.stack([sender[keep][order], receiver[keep][order]])
    return edges, shift[keep][order]


def probe_graph(
    atom_positions: np.ndarray,
    cell: np.ndarray,
    pbc: np.ndarray | list[bool],
    probe_positions: np.ndarray,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Atom→probe edges for probes anywhere in space (generic path: KD-tree over reachable atom images).

    Probes are first wrapped into the cell along periodic directions (``p = p_w + t · cell``), the images
    of the atoms that can reach the wrapped probes are put into a KD-tree, and the offset reported for an
    edge found with the wrapped probe is shifted back by ``t``.

    Args:
        atom_positions: (N, 3) Å.
        cell, pbc: as in :func:`atom_graph`.
        probe_positions: (M, 3) Å.
        cutoff: Å, strict.

    Returns:
        edges ``(2, E)`` int64 (row 0 atom = sender, row 1 probe = receiver) and sender image offsets
        ``(E, 3)`` int64 with ``|p − (r_a + n · cell)| < cutoff``.
    """
    positions, cell, pbc = check_structure(atom_positions, cell, pbc)
    probes = np.asarray(probe_positions, dtype=np.float64)
    if probes.ndim != 2 or probes.shape[1] != 3:
        raise ValueError(f"probe_positions must have shape (M, 3), got {probes.shape}")
    if not np.isfinite(probes).all():
        raise ValueError("probe_positions contain NaN/inf")
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    edge_parts: list[np.ndarray] = [np.zeros((2, 0), dtype=np.int64)]
    offset_parts: list[np.ndarray] = [np.zeros((0, 3), dtype=np.int64)]
    if len(positions) == 0 or len(probes) == 0:
        return edge_parts[0], offset_parts[0]
    full = complete_cell(cell, pbc)
    inverse = np.linalg.inv(full)
    for start in range(0, len(probes), _PROBE_BLOCK):
        block = probes[start : start + _PROBE_BLOCK]
        frac = block @ inverse
        shift = np.where(pbc, np.floor(frac), 0).astype(np.int64)  # probe = wrapped + shift · cell
        wrapped_frac = frac - shift
        atom, offsets = reachable_images(
            positions, full, pbc, wrapped_frac.min(axis=0), wrapped_frac.max(axis=0), cutoff
        )
        if len(atom) == 0:
            continue
        images = image_positions(positions[atom], cell, offsets)
        wrapped = image_positions(block, cell, -shift)
        band = _SEARCH_SLACK * cutoff  # pairs this close to the cutoff are decided by squared_lengths
        pairs = cKDTree(wrapped).sparse_distance_matrix(cKDTree(images), cutoff + band, output_type="ndarray")
        probe = pairs["i"].astype(np.int64)
        image = pairs["j"].astype(np.int64)
        unsure = np.flatnonzero(pairs["v"] >= cutoff - band)
        if len(unsure):
            n = offsets[image[unsure]] + shift[probe[unsure]]
            d2 = squared_lengths(block[probe[unsure]], positions[atom[image[unsure]]], lattice_shifts(n, cell))
            outside = unsure[d2 >= cutoff * cutoff]
            probe, image = np.delete(probe, outside), np.delete(image, outside)
        n = offsets[image]
        if shift.any():
            n += shift[probe]
        edge_parts.append(np.stack([atom[image], probe + start]))
        offset_parts.append(n)
    return np.concatenate(edge_parts, axis=1), np.concatenate(offset_parts)
