"""collate: flat concatenation with shifted indices, batch vectors, dtypes and degenerate samples."""

from __future__ import annotations

import ase
import ase.build
import numpy as np
import pytest
import torch

from rhograph import keys
from rhograph.data import batch_to, collate, make_sample


def edge_vectors(positions, cell, edges, offsets, receivers):
    return receivers[edges[1]] - (positions[edges[0]] + offsets @ cell)


@pytest.fixture
def samples() -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    crystal = ase.build.bulk("Si", "diamond", a=5.43)
    molecule = ase.build.molecule("H2O")
    lone = ase.Atoms("Ne", positions=[[0.0, 0.0, 0.0]])
    return [
        make_sample(crystal, rng.random((7, 3)) * 5, density=rng.random(7)),
        make_sample(molecule, rng.random((5, 3)) * 2, density=rng.random(5)),
        make_sample(lone, np.zeros((0, 3)), density=np.zeros(0)),
        make_sample(crystal, rng.random((4, 3)) * 5, density=rng.random(4)),
    ]


def test_indices_are_shifted(samples) -> None:
    batch = collate(samples, dtype=torch.float64)
    assert batch[keys.NUM_ATOMS].tolist() == [2, 3, 1, 2]
    assert batch[keys.NUM_PROBES].tolist() == [7, 5, 0, 4]
    assert batch[keys.ATOM_BATCH].tolist() == [0, 0, 1, 1, 1, 2, 3, 3]
    assert batch[keys.PROBE_BATCH].tolist() == [0] * 7 + [1] * 5 + [3] * 4
    assert batch[keys.CELL].shape == (4, 3, 3)
    atom_start, probe_start = [0, 2, 5, 6], [0, 7, 12, 12]
    atom_edges, probe_edges = [], []
    for b, s in enumerate(samples):
        atom_edges.append(s[keys.ATOM_EDGES] + atom_start[b])
        probe_edges.append(s[keys.PROBE_EDGES] + [[atom_start[b]], [probe_start[b]]])
    np.testing.assert_array_equal(batch[keys.ATOM_EDGES].numpy(), np.concatenate(atom_edges, axis=1))
    np.testing.assert_array_equal(batch[keys.PROBE_EDGES].numpy(), np.concatenate(probe_edges, axis=1))
    # Edge vectors computed in the batch (with each edge's own cell) equal those of the samples.
    positions, probes = batch[keys.POSITIONS].numpy(), batch[keys.PROBE_POSITIONS].numpy()
    cells = batch[keys.CELL].numpy()
    edges, offsets = batch[keys.PROBE_EDGES].numpy(), batch[keys.PROBE_EDGE_OFFSETS].numpy()
    cell_of_edge = cells[batch[keys.ATOM_BATCH].numpy()[edges[0]]]
    batched = probes[edges[1]] - (positions[edges[0]] + np.einsum("ex,exy->ey", offsets, cell_of_edge))
    separate = [
        edge_vectors(
            s[keys.POSITIONS], s[keys.CELL][0], s[keys.PROBE_EDGES], s[keys.PROBE_EDGE_OFFSETS], s[keys.PROBE_POSITIONS]
        )
        for s in samples
    ]
    np.testing.assert_allclose(batched, np.concatenate(separate), atol=1e-12)


def test_dtypes(samples) -> None:
    for dtype in (torch.float32, torch.float64):
        batch = collate(samples, dtype=dtype)
        for key in (keys.POSITIONS, keys.CELL, keys.ATOM_EDGE_OFFSETS, keys.PROBE_EDGE_OFFSETS, keys.DENSITY):
            assert batch[key].dtype == dtype, key
        for key in (keys.ATOMIC_NUMBERS, keys.ATOM_EDGES, keys.PROBE_EDGES, keys.ATOM_BATCH, keys.NUM_PROBES):
            assert batch[key].dtype == torch.int64, key
    assert collate(samples)[keys.POSITIONS].dtype == torch.float32


def test_degenerate_batches() -> None:
    lone = make_sample(ase.Atoms("He", positions=[[0.0, 0.0, 0.0]]))
    batch = collate([lone])
    assert batch[keys.ATOM_EDGES].shape == (2, 0) and batch[keys.ATOM_EDGE_OFFSETS].shape == (0, 3)
    assert batch[keys.PROBE_EDGES].shape == (2, 0) and batch[keys.PROBE_POSITIONS].shape == (0, 3)
    assert batch[keys.PROBE_BATCH].shape == (0,) and keys.DENSITY not in batch
    moved = batch_to(batch, "cpu")
    assert moved.keys() == batch.keys() and moved is not batch


def test_errors(samples) -> None:
    with pytest.raises(ValueError, match="at least one"):
        collate([])
    without_density = {k: v for k, v in samples[1].items() if k != keys.DENSITY}
    with pytest.raises(ValueError, match="only 1 of 2 samples have a density"):
        collate([samples[0], without_density])
    with pytest.raises(ValueError, match="lacks field"):
        collate([{keys.POSITIONS: np.zeros((1, 3))}])
