"""Training data stream: a rotating pool of structures and random probe batches built in DataLoader workers.

The paper's recipe (Methods): keep a pool of 20 structures in memory, load new ones from disk
continuously, and in every gradient step draw 2 structures from the pool and 1000 probes uniformly from
each structure's grid. Here:

* a **target source** is anything with ``len`` and ``source[i] -> ProbeTarget``; a probe target has
  ``atoms`` and ``draw_probes(num, rng) -> (positions Å, densities e/Å³)``. Grid data (CHGCAR / cube via
  :class:`~rhograph.io.dataset.DensityDataset`) is wrapped by :class:`GridSource`; other labels (e.g.
  densities evaluated from density matrices) plug in by implementing ``atoms``, ``draw_probes`` and
  ``fixed_probes`` (validation);
* :class:`RotatingPool` holds ``pool_size`` targets of one stream and loads the next one in a background
  thread, swapping it in every ``replace_every`` batches;
* :class:`ProbeBatchStream` is an ``IterableDataset`` yielding ``(step, batch)``: each DataLoader worker
  owns one stream and builds neighbour lists and the collated batch, so the training process only runs
  the model.

Determinism: the batch of global step ``s`` on rank ``r`` is a function of ``(seed, r, s)`` and of the
numbers of ranks and workers only — not of timing and not of where a run was resumed. Worker ``w`` of a
loader started at step ``s0`` produces steps ``s0 + w, s0 + w + W, …`` (the DataLoader returns workers'
items round-robin), all with the same ``s mod W``, which selects the stream. Stream ``g`` of ``G``
(``g = r·W + s mod W``) reads elements ``g, g+G, g+2G, …`` of an endless sequence of seeded permutations of
the training indices (one permutation per epoch), and at its local step ``k = s // W`` its pool holds the
elements ``[k // R, k // R + P)`` of its share (``R = replace_every``, ``P`` = pool size).
"""

from __future__ import annotations

import concurrent.futures
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import ase
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from rhograph.data.collate import collate
from rhograph.data.graph import make_sample
from rhograph.data.probes import fixed_validation_probes, sample_grid_probes
from rhograph.errors import ConfigError, StructureError
from rhograph.io.density_grid import DensityGrid

# Tags that keep the random streams of different purposes apart (numpy SeedSequence entropy words).
_EPOCH_TAG = 0x5EC0
_BATCH_TAG = 0xBA7C


@runtime_checkable
class ProbeTarget(Protocol):
    """A structure whose density can be sampled at probe points (positions Å, densities e/Å³)."""

    @property
    def atoms(self) -> ase.Atoms: ...

    def draw_probes(self, num: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``num`` random probes: positions ``(num, 3)`` Å and densities ``(num,)`` e/Å³."""
        ...

    def fixed_probes(self, num: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """A reproducible probe set (validation), a function of ``seed`` only."""
        ...


class TargetSource(Protocol):
    """Indexable collection of probe targets (``len`` and ``source[i]``), usable in worker processes."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> ProbeTarget: ...


@dataclass
class GridTarget:
    """A :class:`DensityGrid` as a probe target: probes are grid points drawn uniformly.

    Args:
        grid: the density grid (values e/Å³, positions Å).
    """

    grid: DensityGrid

    @property
    def atoms(self) -> ase.Atoms:
        return self.grid.atoms

    def draw_probes(self, num: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return sample_grid_probes(self.grid, num, rng)

    def fixed_probes(self, num: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        return fixed_validation_probes(self.grid, num, seed)


PBC_MODES = ("file", "none", "all")


class GridSource:
    """Target source over a dataset of density grids (``len`` and ``dataset[i] -> DensityGrid``).

    Args:
        dataset: e.g. :class:`rhograph.io.dataset.DensityDataset` (directory, ``.tar`` or ``.txt`` of tars),
            or any sequence of :class:`DensityGrid`.
        pbc: ``file`` keeps the periodicity read from the file; ``none`` treats every structure as
            non-periodic (molecules in a vacuum box, DeepDFT's ``--ignore_pbc``); ``all`` makes every
            structure periodic in the grid cell (DeepDFT's ``force_pbc``).
    """

    def __init__(self, dataset: Any, pbc: str = "file") -> None:
        if pbc not in PBC_MODES:
            raise ConfigError(f"pbc={pbc!r} is not allowed; choose one of {list(PBC_MODES)}")
        self.dataset = dataset
        self.pbc = pbc

    @classmethod
    def from_path(cls, path: str, pbc: str = "file") -> GridSource:
        """Open a density dataset on disk (directory, ``.tar``, ``.txt`` list of tars)."""
        from rhograph.io.dataset import DensityDataset

        return cls(DensityDataset(path), pbc=pbc)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> GridTarget:
        grid = self.dataset[int(index)]
        if self.pbc == "none":
            grid.atoms.pbc = False
        elif self.pbc == "all":
            if grid.atoms.cell.rank < 3:
                grid.atoms.cell = grid.cell
            grid.atoms.pbc = True
        return GridTarget(grid)


@dataclass(frozen=True)
class StreamSpec:
    """Everything that defines the training batch sequence.

    Args:
        indices: training structure indices into the source.
        pool_size: structures held by each stream's pool (the paper: 20).
        replace_every: batches of a stream between two pool replacements (one structure each), or
            ``None`` to replace whenever a load has finished (never waits; not reproducible).
        structures_per_batch: structures per batch (the paper: 2).
        probes_per_structure: probes drawn per structure (the paper: 1000).
        cutoff: graph cutoff in Å.
        seed: base seed.
        rank: this process's rank; world_size: number of ranks.
        num_workers: DataLoader workers per rank (0 = in the training process, one stream).
        start_step: first global step the loader produces (resume point).
    """

    indices: tuple[int, ...]
    pool_size: int = 20
    replace_every: int | None = 1
    structures_per_batch: int = 2
    probes_per_structure: int = 1000
    cutoff: float = 4.0
    seed: int = 0
    rank: int = 0
    world_size: int = 1
    num_workers: int = 0
    start_step: int = 0

    @property
    def streams_per_rank(self) -> int:
        return max(1, self.num_workers)

    @property
    def num_streams(self) -> int:
        return self.streams_per_rank * self.world_size

    @property
    def effective_pool_size(self) -> int:
        """Pool size capped at a stream's share of the training set (no point holding duplicates)."""
        share = max(1, len(self.indices) // self.num_streams)
        return max(1, min(self.pool_size, share))


class StreamSequence:
    """Element ``m`` of stream ``g``: the training index at position ``g + G·m`` of the endless sequence
    of per-epoch seeded permutations of ``indices``."""

    def __init__(self, indices: Sequence[int], stream: int, num_streams: int, seed: int) -> None:
        if not indices:
            raise ConfigError("the training set is empty")
        self.indices = np.asarray(indices, dtype=np.int64)
        self.stream = stream
        self.num_streams = num_streams
        self.seed = seed
        self._epoch = -1
        self._perm = np.empty(0, dtype=np.int64)

    def __getitem__(self, m: int) -> int:
        n = self.stream + self.num_streams * m
        epoch, pos = divmod(n, len(self.indices))
        if epoch != self._epoch:
            rng = np.random.default_rng([self.seed, _EPOCH_TAG, epoch])
            self._perm = rng.permutation(len(self.indices))
            self._epoch = epoch
        return int(self.indices[self._perm[pos]])


class RotatingPool:
    """A window of ``pool_size`` consecutive elements of a stream sequence, loaded in a background thread.

    At local step ``k`` the pool holds elements ``[k // replace_every, k // replace_every + pool_size)``.
    The next element is loaded by a worker thread while batches are drawn from the current pool; moving
    the window waits for that load only if it has not finished yet.

    With ``replace_every=None`` the window moves whenever the next element has finished loading (the
    released DeepDFT behaviour): never waits, but the contents then depend on timing (not reproducible).

    Args:
        source: target source (``source[i] -> ProbeTarget``).
        sequence: element -> source index.
        pool_size: number of targets held.
        replace_every: local steps between window moves, or ``None`` (move when ready).
        start_step: local step at which the pool is first used.
    """

    def __init__(
        self,
        source: TargetSource,
        sequence: StreamSequence,
        *,
        pool_size: int,
        replace_every: int | None,
        start_step: int = 0,
    ) -> None:
        self.source = source
        self.sequence = sequence
        self.pool_size = pool_size
        self.replace_every = replace_every
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="rhograph-pool")
        # element index of the oldest pool entry
        self._first = start_step // replace_every if replace_every is not None else start_step
        futures = [self._submit(self._first + i) for i in range(pool_size)]
        self._targets: deque[ProbeTarget] = deque(f.result() for f in futures)
        self._next = self._submit(self._first + pool_size)
        self.loads = pool_size  # number of structures loaded so far (diagnostics)

    def _submit(self, element: int) -> concurrent.futures.Future:
        return self._executor.submit(self._load, element)

    def _load(self, element: int) -> ProbeTarget:
        return self.source[self.sequence[element]]

    def at(self, step: int) -> list[ProbeTarget]:
        """The pool contents at local step ``step`` (steps must not decrease)."""
        if self.replace_every is None:
            if self._next.done():
                self._advance()
            return list(self._targets)
        first = step // self.replace_every
        if first < self._first:
            raise ValueError(f"pool steps must not go backwards (at {step}, window starts at element {self._first})")
        while self._first < first:
            self._advance()
        return list(self._targets)

    def _advance(self) -> None:
        """Drop the oldest target and append the next one (waiting for its load if needed)."""
        self._targets.popleft()
        self._targets.append(self._next.result())
        self._first += 1
        self.loads += 1
        self._next = self._submit(self._first + self.pool_size)

    def close(self) -> None:
        self._next.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)


def draw_batch_samples(
    targets: Sequence[ProbeTarget],
    *,
    structures: int,
    probes: int,
    cutoff: float,
    rng: np.random.Generator,
) -> list[dict[str, np.ndarray]]:
    """Pick ``structures`` targets (distinct while the pool allows) and ``probes`` random probes of each;
    return their graph samples (:func:`rhograph.data.make_sample`)."""
    chosen = rng.choice(len(targets), size=structures, replace=structures > len(targets))
    samples = []
    for index in chosen:
        target = targets[int(index)]
        positions, density = target.draw_probes(probes, rng)
        try:
            samples.append(make_sample(target.atoms, probe_positions=positions, cutoff=cutoff, density=density))
        except StructureError as exc:  # name the file (e.g. atoms closer than MIN_ATOM_DISTANCE)
            source = getattr(getattr(target, "grid", None), "source", None)
            raise StructureError(f"{source}: {exc}" if source else str(exc)) from exc
    return samples


class ProbeBatchStream(IterableDataset):
    """Endless ``(step, batch)`` items for one rank; use with ``DataLoader(batch_size=None)``.

    Each item is a collated batch (:func:`rhograph.data.collate`) of ``structures_per_batch`` structures
    with ``probes_per_structure`` probes each, with the target density under ``keys.DENSITY``.

    Args:
        source: target source (picklable, so that it can be sent to worker processes).
        spec: stream definition; ``spec.num_workers`` must equal the DataLoader's ``num_workers``.
        dtype: float dtype of the batch tensors.
    """

    def __init__(self, source: TargetSource, spec: StreamSpec, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if spec.structures_per_batch < 1 or spec.probes_per_structure < 1:
            raise ConfigError("structures_per_batch and probes_per_structure must be >= 1")
        if spec.pool_size < 1 or (spec.replace_every is not None and spec.replace_every < 1):
            raise ConfigError("pool_size and replace_every must be >= 1")
        self.source = source
        self.spec = spec
        self.dtype = dtype

    def __iter__(self) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
        spec = self.spec
        info = get_worker_info()
        worker = 0 if info is None else info.id
        if info is not None and info.num_workers != spec.streams_per_rank:
            raise ValueError(
                f"StreamSpec.num_workers={spec.num_workers} but the DataLoader has {info.num_workers} workers"
            )
        per_rank = spec.streams_per_rank
        step = spec.start_step + worker
        stream = spec.rank * per_rank + step % per_rank
        sequence = StreamSequence(spec.indices, stream, spec.num_streams, spec.seed)
        pool = RotatingPool(
            self.source,
            sequence,
            pool_size=spec.effective_pool_size,
            replace_every=spec.replace_every,
            start_step=step // per_rank,
        )
        try:
            while True:
                targets = pool.at(step // per_rank)
                rng = np.random.default_rng([spec.seed, _BATCH_TAG, spec.rank, step])
                samples = draw_batch_samples(
                    targets,
                    structures=spec.structures_per_batch,
                    probes=spec.probes_per_structure,
                    cutoff=spec.cutoff,
                    rng=rng,
                )
                yield step, collate(samples, dtype=self.dtype)
                step += per_rank
        finally:
            pool.close()
