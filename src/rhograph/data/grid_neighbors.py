"""Atom→probe edges for probes on a regular grid, without a spatial search over the probes.

Grid point ``(i, j, k)`` of an ``N1 × N2 × N3`` grid sits at ``origin + i·v0 + j·v1 + k·v2`` with voxel vectors
``v_a = grid_cell[a] / N_a`` (corner-aligned, C order: flat index ``(i·N2 + j)·N3 + k``), as in
:class:`rhograph.io.density_grid.DensityGrid`.

For every atom image ``x`` that can reach the requested points, the slabs ``i`` and, per slab, the rows ``j``
that cross its cutoff sphere are found in closed form, and along each row the points inside the sphere form
one run of ``k`` between the roots of

    |w + k·v2|² = r_cut²,   w = origin + i·v0 + j·v1 − x.

Runs are widened by a small tolerance; run ends that lie within it of a root are re-tested with the exact
shared distance formula of :mod:`rhograph.data.neighbors` (all other points are farther than any rounding
error from the sphere), so the edge set is exactly that of :func:`rhograph.data.neighbors.probe_graph` on the
same points while the work is proportional to the number of rows plus edges. Everything is vectorised over
images, slabs and rows; the edges of a run are consecutive flat indices.
"""

from __future__ import annotations

import numpy as np

from rhograph.data.neighbors import (
    check_structure,
    complete_cell,
    expand_groups,
    lattice_shifts,
    probe_graph,
    reachable_images,
    squared_lengths,
)

#: Widening of a run, in grid steps, that covers root rounding errors (runs are re-tested at both ends).
_RUN_SLACK = 1e-2
#: Index sets sparser than this fraction of their span go through the generic KD-tree path.
_MIN_DENSITY = 0.25


def _grid_geometry(
    grid_cell: np.ndarray, grid_shape: np.ndarray | tuple[int, ...], origin: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    shape = np.asarray(grid_shape, dtype=np.int64).reshape(-1)
    if shape.shape != (3,) or (shape < 1).any():
        raise ValueError(f"grid_shape must be three positive integers, got {grid_shape}")
    grid_cell = np.asarray(grid_cell, dtype=np.float64)
    origin = np.asarray(origin, dtype=np.float64).reshape(-1)
    if grid_cell.shape != (3, 3) or origin.shape != (3,):
        raise ValueError(f"grid_cell must be (3, 3) and origin (3,), got {grid_cell.shape}, {origin.shape}")
    if not (np.isfinite(grid_cell).all() and np.isfinite(origin).all()):
        raise ValueError("grid_cell / origin contain NaN/inf")
    voxel = grid_cell / shape[:, None]
    if abs(np.linalg.det(voxel)) <= 1e-12 * np.abs(voxel).max() ** 3:
        raise ValueError(f"grid_cell {grid_cell.tolist()} is singular")
    return voxel, shape, origin


def grid_points(
    grid_cell: np.ndarray,
    grid_shape: np.ndarray | tuple[int, ...],
    origin: np.ndarray,
    flat_indices: np.ndarray | range | None = None,
) -> np.ndarray:
    """Cartesian positions (Å) of grid points, with the same float operations the grid path tests with.

    Shapes:
        flat_indices: (M,) C-order indices (all points if ``None``); returns (M, 3) float64 Å.
    """
    voxel, shape, origin = _grid_geometry(grid_cell, grid_shape, origin)
    flat = np.arange(int(shape.prod())) if flat_indices is None else np.asarray(flat_indices, dtype=np.int64)
    i, j, k = np.unravel_index(flat, tuple(int(s) for s in shape))
    return _points(voxel, origin, i, j, k)


def _points(voxel: np.ndarray, origin: np.ndarray, i: np.ndarray, j: np.ndarray, k: np.ndarray) -> np.ndarray:
    points = origin + i[:, None].astype(np.float64) * voxel[0]
    points += j[:, None].astype(np.float64) * voxel[1]
    points += k[:, None].astype(np.float64) * voxel[2]
    return points


def grid_probe_graph(
    atom_positions: np.ndarray,
    cell: np.ndarray,
    pbc: np.ndarray | list[bool],
    grid_cell: np.ndarray,
    grid_shape: np.ndarray | tuple[int, ...],
    origin: np.ndarray,
    cutoff: float,
    flat_indices: np.ndarray | range | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Atom→probe edges for (a chunk of) the points of a regular grid.

    Args:
        atom_positions: (N, 3) Å.
        cell, pbc: the structure's cell (rows, Å) and periodicity; images as in :func:`probe_graph`.
        grid_cell: (3, 3) Å, rows span the grid (may differ from ``cell``, e.g. a molecule's cube box).
        grid_shape: ``(N1, N2, N3)``.
        origin: (3,) Å, position of grid point ``(0, 0, 0)``.
        cutoff: Å, strict.
        flat_indices: the probes, as C-order flat grid indices; ``None`` = the whole grid. A consecutive
            chunk (``range(start, stop)`` or the equivalent array) is the fast path (chunks of 10⁴–10⁵
            points are fastest: the output stays in cache-friendly sizes); increasing index sets covering
            at least a quarter of their span are filtered from it; other index sets fall back to
            :func:`probe_graph` on :func:`grid_points`.

    Returns:
        edges ``(2, E)`` int64 (row 0 atom, row 1 = position of the probe in ``flat_indices``) and sender
        image offsets ``(E, 3)`` int64 — the same edge set as :func:`probe_graph` on
        ``grid_points(grid_cell, grid_shape, origin, flat_indices)``, grouped by atom image.
    """
    positions, cell, pbc = check_structure(atom_positions, cell, pbc)
    voxel, shape, origin = _grid_geometry(grid_cell, grid_shape, origin)
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    total = int(shape.prod())
    if flat_indices is None:
        flat_indices = range(total)
    if isinstance(flat_indices, range) and flat_indices.step == 1:
        start, stop, lookup = flat_indices.start, flat_indices.stop, None
    else:
        flat = np.asarray(flat_indices, dtype=np.int64).reshape(-1)
        if len(flat) == 0:
            start, stop, lookup = 0, 0, None
        else:
            start, stop = int(flat[0]), int(flat[-1]) + 1
            increasing = bool((np.diff(flat) > 0).all())
            if not increasing or len(flat) < _MIN_DENSITY * (stop - start):
                if flat.min() < 0 or flat.max() >= total:
                    raise ValueError(f"flat_indices outside the grid of {total} points")
                probes = _points(voxel, origin, *np.unravel_index(flat, tuple(int(s) for s in shape)))
                return probe_graph(positions, cell, pbc, probes, cutoff)
            lookup = None if len(flat) == stop - start else np.full(stop - start, -1, dtype=np.int64)
            if lookup is not None:
                lookup[flat - start] = np.arange(len(flat))
    if start < 0 or stop > total:
        raise ValueError(f"flat indices [{start}, {stop}) outside the grid of {total} points")
    if stop <= start or len(positions) == 0:
        return np.zeros((2, 0), dtype=np.int64), np.zeros((0, 3), dtype=np.int64)
    edges, offsets = _range_edges(positions, cell, pbc, voxel, shape, origin, cutoff, start, stop)
    if lookup is not None:
        edges[1] = lookup[edges[1]]
        keep = edges[1] >= 0
        edges, offsets = edges[:, keep], offsets[keep]
    return edges, offsets


def _solve(lead: float, half_b: np.ndarray, const: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roots of ``lead·x² + 2·half_b·x + const = 0`` (``lead > 0``) and which rows have (near-)real roots.

    A row counts as real when the double root is at most ``_RUN_SLACK`` grid steps away from being real;
    the roots are then clamped to the vertex.
    """
    disc = half_b * half_b - lead * const
    ok = disc >= -((lead * _RUN_SLACK) ** 2)
    root = np.sqrt(np.maximum(disc, 0.0))
    return (-half_b - root) / lead, (-half_b + root) / lead, ok


def _range_edges(
    positions: np.ndarray,
    cell: np.ndarray,
    pbc: np.ndarray,
    voxel: np.ndarray,
    shape: np.ndarray,
    origin: np.ndarray,
    cutoff: float,
    start: int,
    stop: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Edges to the grid points with flat index in ``[start, stop)``; probe index relative to ``start``.

    With ``δ = (i, j, k) − u`` in grid steps from an image at grid coordinates ``u`` and the Gram matrix
    ``G = V Vᵀ`` of the voxel vectors, a point is inside when ``δᵀ G δ < r²``. Images → slabs ``i`` (exact
    extent ``r·|V⁻ᵀ e_0|``) → rows ``j`` (roots of the Schur complement in ``δ_j``) → runs of ``k``.
    """
    n2, n3 = int(shape[1]), int(shape[2])
    slab = n2 * n3
    i_first, i_last = start // slab, (stop - 1) // slab
    # Bounding box of the chunk in grid coordinates → atom images that can reach it.
    lo_idx = np.array([i_first, 0, 0], dtype=np.float64)
    hi_idx = np.array([i_last, n2 - 1, n3 - 1], dtype=np.float64)
    if i_first == i_last:
        j_first, j_last = (start % slab) // n3, ((stop - 1) % slab) // n3
        lo_idx[1], hi_idx[1] = j_first, j_last
        if j_first == j_last:
            lo_idx[2], hi_idx[2] = start % n3, (stop - 1) % n3
    corners = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=np.float64)
    corners = origin + np.where(corners > 0, hi_idx, lo_idx) @ voxel  # (8, 3) Å
    full = complete_cell(cell, pbc)
    corner_frac = corners @ np.linalg.inv(full)
    atom, image_offsets = reachable_images(
        positions, full, pbc, corner_frac.min(axis=0), corner_frac.max(axis=0), cutoff
    )
    sources = positions[atom]  # (M, 3)
    shifts = lattice_shifts(image_offsets, cell)  # (M, 3)
    centre = (sources + shifts - origin) @ np.linalg.inv(voxel)  # (M, 3) grid coordinates u
    gram = voxel @ voxel.T
    r2 = cutoff * cutoff

    # Slabs i of each image (exact extent of the ellipsoid along i, widened).
    half_i = cutoff * np.linalg.norm(np.linalg.inv(voxel)[:, 0]) + _RUN_SLACK
    i_lo = np.maximum(np.ceil(centre[:, 0] - half_i), i_first).astype(np.int64)
    i_hi = np.minimum(np.floor(centre[:, 0] + half_i), i_last).astype(np.int64)
    image, within = expand_groups(np.maximum(i_hi - i_lo + 1, 0))
    i = i_lo[image] + within
    di = i - centre[image, 0]  # (P,)

    # Rows j of each slab: min over k of δᵀGδ < r² is a quadratic in δ_j (Schur complement of G_22).
    a_jj = gram[1, 1] - gram[1, 2] ** 2 / gram[2, 2]
    a_ij = gram[0, 1] - gram[0, 2] * gram[1, 2] / gram[2, 2]
    a_ii = gram[0, 0] - gram[0, 2] ** 2 / gram[2, 2]
    dj_lo, dj_hi, ok = _solve(a_jj, a_ij * di, a_ii * di * di - r2)
    u_j = centre[image, 1]
    j_lo = np.maximum(np.ceil(u_j + dj_lo - _RUN_SLACK), 0).astype(np.int64)
    j_hi = np.minimum(np.floor(u_j + dj_hi + _RUN_SLACK), n2 - 1).astype(np.int64)
    pair, within = expand_groups(np.where(ok, np.maximum(j_hi - j_lo + 1, 0), 0))
    image, i, di = image[pair], i[pair], di[pair]
    j = j_lo[pair] + within
    dj = j - centre[image, 1]  # (R,)

    # Runs of k along each row: roots of G22·t² + 2(G02·δi + G12·δj)·t + (δi,δj)-part − r² in t = k − u_k.
    t_lo, t_hi, ok = _solve(
        gram[2, 2],
        gram[0, 2] * di + gram[1, 2] * dj,
        (gram[0, 0] * di + 2.0 * gram[0, 1] * dj) * di + gram[1, 1] * dj * dj - r2,
    )
    u_k = centre[image, 2]
    k_root_lo, k_root_hi = u_k + t_lo, u_k + t_hi
    base = (i * n2 + j) * n3
    k_lo = np.maximum(np.ceil(k_root_lo - _RUN_SLACK), np.maximum(start - base, 0)).astype(np.int64)
    k_hi = np.minimum(np.floor(k_root_hi + _RUN_SLACK), np.minimum(stop - 1 - base, n3 - 1)).astype(np.int64)
    ok &= k_hi >= k_lo
    image, i, j, base = image[ok], i[ok], j[ok], base[ok]
    k_lo, k_hi, k_root_lo, k_root_hi = k_lo[ok], k_hi[ok], k_root_lo[ok], k_root_hi[ok]

    # Ends within _RUN_SLACK of a root are decided by the shared exact distance formula; points farther
    # inside are inside beyond any rounding error.
    for end, unsure, step in (
        (k_lo, (k_lo < k_root_lo + _RUN_SLACK) | (k_lo > k_root_hi - _RUN_SLACK), 1),
        (k_hi, (k_hi > k_root_hi - _RUN_SLACK) | (k_hi < k_root_lo + _RUN_SLACK), -1),
    ):
        rows = np.flatnonzero(unsure)
        points = _points(voxel, origin, i[rows], j[rows], end[rows])
        outside = squared_lengths(points, sources[image[rows]], shifts[image[rows]]) >= r2
        end[rows[outside]] += step

    # Expand runs into edges (np.repeat is much faster than gathering with a per-edge index).
    length = np.maximum(k_hi - k_lo + 1, 0)
    first_edge = np.cumsum(length) - length
    edges = np.empty((2, int(length.sum())), dtype=np.int64)
    edges[0] = np.repeat(atom[image], length)
    np.add(np.repeat(base + k_lo - start - first_edge, length), np.arange(edges.shape[1]), out=edges[1])
    return edges, np.repeat(image_offsets[image], length, axis=0)
