"""The rotating pool and the probe-batch stream: coverage, windows, determinism, resume and workers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from rhograph import keys
from rhograph.data.pool import (
    GridSource,
    ProbeBatchStream,
    ProbeTarget,
    RotatingPool,
    StreamSequence,
    StreamSpec,
)

from .conftest import synthetic_grid


class CountingSource:
    """In-memory grids; counts loads (a target source as the pool sees it)."""

    def __init__(self, count: int) -> None:
        rng = np.random.default_rng(0)
        self.source = GridSource([synthetic_grid(rng, points=6) for _ in range(count)])
        self.loads: list[int] = []

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> ProbeTarget:
        self.loads.append(index)
        return self.source[index]


def test_sequence_visits_every_structure_once_per_epoch():
    indices = list(range(10, 30))
    seq = StreamSequence(indices, stream=0, num_streams=1, seed=5)
    assert sorted(seq[m] for m in range(20)) == indices
    assert sorted(seq[m] for m in range(20, 40)) == indices
    assert [seq[m] for m in range(20)] != [seq[m] for m in range(20, 40)]
    # three streams share one epoch between them
    shares = [StreamSequence(indices, stream=g, num_streams=3, seed=5) for g in range(3)]
    first_epoch = [s[m] for s in shares for m in range(7) if s.stream + 3 * m < 20]
    assert sorted(first_epoch) == indices


def test_pool_window_moves_every_replace_every_steps():
    source = CountingSource(8)
    seq = StreamSequence(list(range(8)), stream=0, num_streams=1, seed=0)
    pool = RotatingPool(source, seq, pool_size=3, replace_every=2, start_step=0)
    try:
        first = [t.grid for t in pool.at(0)]
        assert [t.grid for t in pool.at(1)] == first
        moved = [t.grid for t in pool.at(2)]
        assert moved[:2] == first[1:]
        assert moved[2] is source.source.dataset[seq[3]]
        assert pool.loads == 4
        with pytest.raises(ValueError, match="backwards"):
            pool.at(0)
    finally:
        pool.close()
    assert source.loads[:4] == [seq[m] for m in range(4)]


def test_pool_without_schedule_moves_when_a_load_is_ready():
    source = CountingSource(8)
    seq = StreamSequence(list(range(8)), stream=0, num_streams=1, seed=0)
    pool = RotatingPool(source, seq, pool_size=3, replace_every=None, start_step=0)
    try:
        first = [t.grid for t in pool.at(0)]
        pool._next.result()  # let the background load finish
        moved = [t.grid for t in pool.at(0)]
        assert moved[:2] == first[1:] and pool.loads == 4
    finally:
        pool.close()


def _take(loader_or_stream, count):
    out = []
    for item in loader_or_stream:
        out.append(item)
        if len(out) == count:
            break
    return out


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_stream_batches_depend_on_seed_and_step_only():
    source = CountingSource(6)
    spec = StreamSpec(indices=(0, 1, 2, 3, 4), pool_size=3, probes_per_structure=32, cutoff=2.5, seed=11)
    full = _take(ProbeBatchStream(source, spec), 8)
    assert [step for step, _ in full] == list(range(8))
    batch = full[0][1]
    assert batch[keys.PROBE_POSITIONS].shape == (64, 3)
    assert batch[keys.DENSITY].shape == (64,)
    assert batch[keys.DENSITY].dtype == torch.float32
    resumed = _take(ProbeBatchStream(source, StreamSpec(**{**spec.__dict__, "start_step": 5})), 3)
    assert [step for step, _ in resumed] == [5, 6, 7]
    for (_, a), (_, b) in zip(full[5:], resumed, strict=True):
        assert _same(a, b)
    other_seed = _take(ProbeBatchStream(source, StreamSpec(**{**spec.__dict__, "seed": 12})), 1)
    assert not _same(other_seed[0][1], batch)
    assert 5 not in source.loads  # index 5 is not in the training list


def test_worker_processes_keep_step_order_and_resume(tmp_path):
    source = CountingSource(6)
    spec = StreamSpec(indices=(0, 1, 2, 3), pool_size=2, probes_per_structure=16, cutoff=2.5, num_workers=2)

    def loader(start: int) -> DataLoader:
        stream = ProbeBatchStream(source, StreamSpec(**{**spec.__dict__, "start_step": start}))
        return DataLoader(stream, batch_size=None, num_workers=2)

    full = _take(loader(0), 7)
    assert [step for step, _ in full] == list(range(7))
    resumed = _take(loader(3), 4)
    assert [step for step, _ in resumed] == [3, 4, 5, 6]
    for (_, a), (_, b) in zip(full[3:], resumed, strict=True):
        assert _same(a, b)


class AnalyticTarget:
    """A plug-in target that is not a grid: ρ(r) = exp(−|r − r₀|²) around its single atom."""

    def __init__(self, z: int) -> None:
        import ase

        self._atoms = ase.Atoms(numbers=[z], positions=[[2.0, 2.0, 2.0]], cell=np.eye(3) * 4.0, pbc=False)

    @property
    def atoms(self):
        return self._atoms

    def draw_probes(self, num, rng):
        positions = rng.uniform(0.0, 4.0, size=(num, 3))
        return positions, np.exp(-((positions - 2.0) ** 2).sum(axis=1))

    def fixed_probes(self, num, seed):
        return self.draw_probes(num, np.random.default_rng(seed))


def test_custom_target_sources_plug_in():
    source = [AnalyticTarget(z) for z in (1, 6, 8)]
    assert all(isinstance(t, ProbeTarget) for t in source)
    spec = StreamSpec(indices=(0, 1, 2), pool_size=2, probes_per_structure=10, cutoff=3.0)
    _, batch = _take(ProbeBatchStream(source, spec), 1)[0]
    expected = torch.exp(-((batch[keys.PROBE_POSITIONS] - 2.0) ** 2).sum(dim=1))
    torch.testing.assert_close(batch[keys.DENSITY], expected)


def test_grid_source_pbc_modes():
    rng = np.random.default_rng(3)
    grids = [synthetic_grid(rng, points=4)]
    assert GridSource(grids, pbc="file")[0].atoms.pbc.all()
    assert not GridSource(grids, pbc="none")[0].atoms.pbc.any()
    assert GridSource(grids, pbc="all")[0].atoms.pbc.all()
    with pytest.raises(ValueError, match="pbc"):
        GridSource(grids, pbc="sometimes")
