"""probe_graph and grid_probe_graph against a brute-force search over periodic images."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rhograph.data import grid_points, grid_probe_graph, probe_graph

SKEWED = np.array([[4.0, 0.0, 0.0], [2.9, 3.1, 0.0], [2.2, 1.7, 3.3]])


def brute_force(atoms, cell, pbc, probes, cutoff, reach) -> set[tuple[int, ...]]:
    """All (atom, probe, n) with |p − (r_a + n·cell)| < cutoff, |n_k| ≤ reach along periodic axes."""
    ranges = [range(-reach, reach + 1) if p else range(1) for p in pbc]
    found = set()
    for n in itertools.product(*ranges):
        images = atoms + np.array(n, dtype=float) @ cell
        d = np.linalg.norm(probes[:, None, :] - images[None, :, :], axis=-1)  # (M, N)
        for p, a in zip(*np.nonzero(d < cutoff), strict=True):
            found.add((int(a), int(p), *n))
    return found


def as_set(edges: np.ndarray, offsets: np.ndarray) -> set[tuple[int, ...]]:
    assert edges.dtype == np.int64 and offsets.dtype == np.int64 and edges.shape == (2, len(offsets))
    found = {(int(a), int(p), *map(int, n)) for a, p, n in zip(edges[0], edges[1], offsets, strict=True)}
    assert len(found) == edges.shape[1], "duplicate edges"
    return found


CASES = {
    # name: (cell, pbc, brute-force reach)
    "periodic": (np.array([[6.0, 0.0, 0.0], [1.0, 5.5, 0.0], [-0.8, 0.6, 6.2]]), [True] * 3, 3),
    "skewed": (SKEWED, [True] * 3, 5),
    "small": (np.array([[2.1, 0.0, 0.0], [0.5, 1.9, 0.0], [0.3, -0.2, 2.0]]), [True] * 3, 5),
    "molecule": (np.zeros((3, 3)), [False] * 3, 0),
    "slab": (np.array([[3.5, 0.0, 0.0], [1.2, 3.0, 0.0], [0.0, 0.0, 0.0]]), [True, True, False], 5),
}


def structure(name: str, seed: int = 0):
    cell, pbc, reach = CASES[name]
    frac = np.random.default_rng(seed).random((5, 3))
    # Non-periodic directions: atoms spread over 6–7 Å.
    atoms = frac @ np.where(np.array(pbc)[:, None], cell, np.diag([6.0, 6.5, 7.0]))
    return atoms, cell, np.array(pbc), reach


@pytest.mark.parametrize("name", list(CASES))
def test_probe_graph_matches_brute_force(name: str) -> None:
    atoms, cell, pbc, reach = structure(name)
    rng = np.random.default_rng(1)
    # Probes inside and far outside the cell (up to two cells away) exercise the probe wrapping.
    probes = (rng.random((200, 3)) * 5.0 - 2.0) @ (cell + np.eye(3) * 3.0 * ~pbc)
    edges, offsets = probe_graph(atoms, cell, pbc, probes, 4.0)
    found = as_set(edges, offsets)
    assert found == brute_force(atoms, cell, pbc, probes, 4.0, reach + 3)
    assert found, "no edges: the case tests nothing"


def test_probe_graph_unwrapped_atoms() -> None:
    atoms, cell, pbc, reach = structure("periodic")
    shifts = np.array([[2, -1, 0], [0, 0, 3], [-2, 1, 1], [0, 0, 0], [1, 1, 1]])
    probes = np.random.default_rng(2).random((100, 3)) @ cell
    found = as_set(*probe_graph(atoms + shifts @ cell, cell, pbc, probes, 4.0))
    expected = brute_force(atoms, cell, pbc, probes, 4.0, reach)
    assert found == {(a, p, *(np.array(n) - shifts[a]).tolist()) for a, p, *n in expected}


def test_probe_graph_empty_inputs() -> None:
    atoms, cell, pbc, _ = structure("periodic")
    for a, p in [(atoms, np.zeros((0, 3))), (np.zeros((0, 3)), atoms)]:
        edges, offsets = probe_graph(a, cell, pbc, p, 4.0)
        assert edges.shape == (2, 0) and offsets.shape == (0, 3)
    with pytest.raises(ValueError, match="probe_positions"):
        probe_graph(atoms, cell, pbc, np.zeros((3, 2)), 4.0)


GRIDS = {
    # name: (structure, grid cell, shape, origin)
    "chgcar": ("periodic", None, (14, 13, 15), np.zeros(3)),
    "skewed": ("skewed", None, (9, 11, 10), np.zeros(3)),
    "small": ("small", None, (7, 6, 8), np.zeros(3)),
    "cube": ("molecule", np.diag([9.0, 8.0, 10.0]), (12, 11, 13), np.array([-1.5, -1.0, -2.0])),
    "slab": ("slab", np.array([[3.5, 0.0, 0.0], [1.2, 3.0, 0.0], [0.0, 0.0, 9.0]]), (8, 7, 20), np.zeros(3)),
    "offset_grid": ("periodic", np.diag([5.0, 4.0, 6.0]), (10, 9, 12), np.array([2.0, -3.0, 1.0])),
    "supercell_grid": ("small", np.array([[7.0, 0.0, 0.0], [0.0, 8.0, 0.0], [1.0, 0.0, 9.0]]), (6, 7, 8), -np.ones(3)),
}


def grid_case(name: str):
    structure_name, grid_cell, shape, origin = GRIDS[name]
    atoms, cell, pbc, reach = structure(structure_name)
    return atoms, cell, pbc, reach, (cell if grid_cell is None else grid_cell), shape, origin


@pytest.mark.parametrize("name", list(GRIDS))
def test_grid_path_matches_brute_force_and_probe_graph(name: str) -> None:
    atoms, cell, pbc, reach, grid_cell, shape, origin = grid_case(name)
    points = grid_points(grid_cell, shape, origin)
    found = as_set(*grid_probe_graph(atoms, cell, pbc, grid_cell, shape, origin, 4.0))
    assert found == as_set(*probe_graph(atoms, cell, pbc, points, 4.0))
    assert found == brute_force(atoms, cell, pbc, points, 4.0, reach + 1)
    assert found


@pytest.mark.parametrize("chunk", [1, 37, 151, 500])
def test_grid_chunks_concatenate_to_the_full_grid(chunk: int) -> None:
    atoms, cell, pbc, _, grid_cell, shape, origin = grid_case("skewed")
    full = as_set(*grid_probe_graph(atoms, cell, pbc, grid_cell, shape, origin, 4.0))
    total = int(np.prod(shape))
    starts = list(range(0, total, chunk))[:40] if chunk == 1 else range(0, total, chunk)
    pieces = set()
    for start in starts:
        stop = min(start + chunk, total)
        indices = range(start, stop) if start % 2 else np.arange(start, stop)  # both accepted forms
        pieces |= {
            (a, p + start, *n)
            for a, p, *n in as_set(*grid_probe_graph(atoms, cell, pbc, grid_cell, shape, origin, 4.0, indices))
        }
    if chunk == 1:
        full = {e for e in full if e[1] < 40}
    assert pieces == full


@pytest.mark.parametrize("kind", ["sparse", "dense_with_gaps", "unsorted", "duplicates"])
def test_grid_path_arbitrary_index_sets(kind: str) -> None:
    atoms, cell, pbc, _, grid_cell, shape, origin = grid_case("chgcar")
    total = int(np.prod(shape))
    rng = np.random.default_rng(3)
    flat = {
        "sparse": np.sort(rng.choice(total, 60, replace=False)),
        "dense_with_gaps": np.setdiff1d(np.arange(300, 900), rng.choice(np.arange(300, 900), 100, replace=False)),
        "unsorted": rng.permutation(total)[:200],
        "duplicates": np.array([5, 5, 17, 3, 1000, 17]),
    }[kind]
    found = as_set(*grid_probe_graph(atoms, cell, pbc, grid_cell, shape, origin, 4.0, flat))
    assert found == as_set(*probe_graph(atoms, cell, pbc, grid_points(grid_cell, shape, origin, flat), 4.0))
    assert {p for _, p, *_ in found} <= set(range(len(flat)))


def test_grid_path_points_exactly_at_the_cutoff() -> None:
    """An atom on a grid point with a cutoff that is a whole number of grid steps: both paths agree."""
    cell = np.eye(3) * 8.0
    atoms = np.array([[0.0, 0.0, 0.0], [2.0, 4.0, 6.0]])
    shape = (16, 16, 16)  # 0.5 Å steps; 4 Å = 8 steps
    found = as_set(*grid_probe_graph(atoms, cell, [True] * 3, cell, shape, np.zeros(3), 4.0))
    assert found == as_set(*probe_graph(atoms, cell, [True] * 3, grid_points(cell, shape, np.zeros(3)), 4.0))
    flat_at_4 = np.ravel_multi_index((8, 0, 0), shape)  # exactly 4 Å from atom 0 (and its image at 8 Å)
    assert not any(p == flat_at_4 and a == 0 for a, p, *_ in found)


def test_grid_path_atoms_out_of_reach() -> None:
    far = np.array([[50.0, 50.0, 50.0], [-20.0, 3.0, 3.0]])
    edges, offsets = grid_probe_graph(far, np.zeros((3, 3)), [False] * 3, np.eye(3) * 5.0, (5, 5, 5), np.zeros(3), 4.0)
    assert edges.shape == (2, 0) and offsets.shape == (0, 3)


def test_grid_path_invalid_input() -> None:
    atoms, cell, pbc, _, grid_cell, shape, origin = grid_case("chgcar")
    with pytest.raises(ValueError, match="outside the grid"):
        grid_probe_graph(atoms, cell, pbc, grid_cell, shape, origin, 4.0, range(0, 10**6))
    with pytest.raises(ValueError, match="grid_shape"):
        grid_probe_graph(atoms, cell, pbc, grid_cell, (4, 0, 4), origin, 4.0)
    with pytest.raises(ValueError, match="singular"):
        grid_probe_graph(atoms, cell, pbc, np.diag([1.0, 1.0, 0.0]), shape, origin, 4.0)
    edges, offsets = grid_probe_graph(atoms, cell, pbc, grid_cell, shape, origin, 4.0, range(5, 5))
    assert edges.shape == (2, 0) and offsets.shape == (0, 3)
