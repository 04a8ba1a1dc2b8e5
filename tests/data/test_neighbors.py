"""atom_graph against ASE's primitive_neighbor_list (same edge set and the same image offsets)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.neighborlist import primitive_neighbor_list

from rhograph.data import atom_graph
from rhograph.errors import StructureError


def edge_set(edges: np.ndarray, offsets: np.ndarray) -> set[tuple[int, ...]]:
    return {(int(j), int(i), *map(int, n)) for j, i, n in zip(edges[0], edges[1], offsets, strict=True)}


def ase_edge_set(positions, cell, pbc, cutoff) -> set[tuple[int, ...]]:
    """ASE's (i, j, S) has D = r_j − r_i + S·cell: sender j, receiver i, sender offset S."""
    i, j, shift = primitive_neighbor_list("ijS", pbc, cell, positions, cutoff, self_interaction=False)
    return {(int(b), int(a), *map(int, s)) for a, b, s in zip(i, j, shift, strict=True)}


def check_against_ase(positions, cell, pbc, cutoff) -> set[tuple[int, ...]]:
    edges, offsets = atom_graph(positions, cell, pbc, cutoff)
    assert edges.dtype == np.int64 and offsets.dtype == np.int64
    assert edges.shape == (2, len(offsets)) and offsets.shape[1:] == (3,)
    ours = edge_set(edges, offsets)
    assert len(ours) == edges.shape[1], "duplicate edges"
    assert ours == ase_edge_set(positions, cell, pbc, cutoff)
    # Lengths obey the convention d = |r_i − (r_j + n·cell)| < cutoff, and the graph is symmetric.
    d = positions[edges[1]] - (positions[edges[0]] + offsets @ cell)
    assert (np.linalg.norm(d, axis=1) < cutoff).all()
    assert {(i, j, -a, -b, -c) for j, i, a, b, c in ours} == ours
    return ours


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_periodic_cells(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cell = np.diag(rng.uniform(5.0, 8.0, 3)) + rng.uniform(-1.5, 1.5, (3, 3)) * (1 - np.eye(3))
    positions = rng.random((16, 3)) @ cell
    assert check_against_ase(positions, cell, [True] * 3, 4.0)


def test_strongly_skewed_cell() -> None:
    rng = np.random.default_rng(3)
    cell = np.array([[4.0, 0.0, 0.0], [3.7, 1.1, 0.0], [3.5, 0.8, 1.3]])
    positions = rng.random((4, 3)) @ cell
    ours = check_against_ase(positions, cell, [True] * 3, 3.5)
    assert max(max(abs(e[2]), abs(e[3]), abs(e[4])) for e in ours) >= 3


def test_cell_smaller_than_cutoff_has_self_images() -> None:
    cell = np.array([[2.0, 0.0, 0.0], [0.6, 1.9, 0.0], [0.2, 0.3, 2.1]])
    positions = np.array([[0.1, 0.2, 0.3], [1.2, 1.0, 1.1]])
    ours = check_against_ase(positions, cell, [True] * 3, 4.0)
    self_images = [e for e in ours if e[0] == e[1]]
    assert self_images and all(e[2:] != (0, 0, 0) for e in self_images)


def test_single_atom_in_periodic_cell() -> None:
    ours = check_against_ase(np.zeros((1, 3)), 3.0 * np.eye(3), [True] * 3, 4.0)
    assert len(ours) == 6  # the 6 face neighbours of a simple cubic lattice (3 Å < 4 Å < 3√2 Å)


def test_non_periodic_with_zero_cell() -> None:
    rng = np.random.default_rng(4)
    positions = rng.random((25, 3)) * 9.0 - 20.0
    ours = check_against_ase(positions, np.zeros((3, 3)), [False] * 3, 4.0)
    assert ours and all(e[2:] == (0, 0, 0) for e in ours)


def test_lone_atom_has_no_edges() -> None:
    edges, offsets = atom_graph(np.ones((1, 3)), np.zeros((3, 3)), [False] * 3, 4.0)
    assert edges.shape == (2, 0) and offsets.shape == (0, 3)


@pytest.mark.parametrize(
    ("pbc", "cell"),
    [
        ([True, True, False], [[3.1, 0.0, 0.0], [1.0, 2.9, 0.0], [0.0, 0.0, 0.0]]),  # slab, zero c vector
        ([True, True, False], [[3.1, 0.0, 0.0], [1.0, 2.9, 0.0], [0.3, 0.4, 6.0]]),  # slab, vacuum box
        ([False, True, False], [[0.0, 0.0, 0.0], [0.5, 2.5, 0.3], [0.0, 0.0, 0.0]]),  # wire
    ],
)
def test_mixed_pbc(pbc, cell) -> None:
    rng = np.random.default_rng(5)
    cell = np.array(cell)
    positions = rng.random((6, 3)) * [3.0, 3.0, 8.0]
    ours = check_against_ase(positions, cell, pbc, 4.0)
    for axis in np.flatnonzero(~np.array(pbc)):
        assert all(e[2 + axis] == 0 for e in ours)


def test_unwrapped_positions_keep_consistent_offsets() -> None:
    rng = np.random.default_rng(6)
    cell = np.array([[5.0, 0.0, 0.0], [1.5, 5.5, 0.0], [-0.7, 0.9, 6.0]])
    wrapped = rng.random((12, 3)) @ cell
    shifts = rng.integers(-3, 4, (12, 3))
    unwrapped = wrapped + shifts @ cell
    ours = check_against_ase(unwrapped, cell, [True] * 3, 4.0)
    # The same bonds as for the wrapped structure, offsets moved by the atoms' shifts.
    moved = {
        (j, i, *(np.array(n) + shifts[i] - shifts[j]))
        for j, i, *n in edge_set(*atom_graph(wrapped, cell, [True] * 3, 4.0))
    }
    assert {(j, i, *map(int, n)) for j, i, *n in moved} == ours


def test_invalid_input() -> None:
    with pytest.raises(StructureError, match="not finite"):
        atom_graph(np.array([[0.0, np.nan, 0.0]]), np.eye(3), [False] * 3, 4.0)
    with pytest.raises(StructureError, match="linearly dependent"):
        atom_graph(np.zeros((2, 3)), np.diag([3.0, 3.0, 0.0]), [True] * 3, 4.0)
    with pytest.raises(StructureError, match="shape"):
        atom_graph(np.zeros((2, 2)), np.eye(3), [True] * 3, 4.0)
    with pytest.raises(ValueError, match="cutoff"):
        atom_graph(np.zeros((2, 3)), np.eye(3), [True] * 3, 0.0)
