"""Grid prediction engine: encode the atoms once, stream probe chunks through the decoder.

For one structure:

1. the atom graph is built and ``model.encode_atoms`` runs once (per-layer atom states stay on the device);
2. the grid is cut into chunks of consecutive flat (C-order) indices; for each chunk the probe→atom edges are
   built with the grid-aware neighbour search on a background thread (overlapping the model) and the chunk is
   decoded;
3. probes with no atom within the cutoff all receive the same value (their messages are empty, so the decoder
   sees identical inputs): it is computed once and broadcast, which saves most of the vacuum of molecular boxes;
4. optionally (``compile=True``) the probe decoder runs as a ``torch.compile``-d copy, which fuses the per-edge
   gathers, products and sums into a few loops (identical values to float32 rounding; a one-off compilation
   of ~30-60 s, cached on disk by torch; on CPU faster than eager with one thread, not with several);
5. with ``rank``/``world_size`` the chunks are dealt round-robin over processes and summed onto rank 0
   (torch.distributed, any backend);
6. with an ensemble (:class:`~rhograph.models.ensemble.EnsembleModel`) the density is the member mean, and
   ``uncertainty=True`` also returns the member standard deviation per grid point;
7. on CPU the decoder's intra-op thread count (1 or torch's) is chosen per piece of a chunk from measured speed
   (:class:`~rhograph.inference.threads.ThreadGovernor`): many small operations on several OpenMP threads
   collapse when another process takes a core, one thread does not, and on a quiet machine more threads win.

Densities are in e/Å³; positions in Å.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import ase
import numpy as np
import torch

from rhograph import keys
from rhograph.data import collate, grid_points, grid_probe_graph, make_sample
from rhograph.inference.chunking import choose_chunk_size
from rhograph.inference.grids import GridSpec
from rhograph.inference.threads import ThreadGovernor
from rhograph.models.compiling import check_compile_toolchain, compile_module
from rhograph.models.derived import FIELDS

log = logging.getLogger(__name__)

#: the derived fields a grid can hold (:data:`rhograph.models.derived.FIELDS` but the full 3x3 Hessian)
DERIVED_FIELDS = tuple(name for name in FIELDS if name != "hessian")
#: CPU decoder pieces (edges) between thread-count decisions, and the smaller pieces that try the other count
PIECE_EDGES = 1 << 15
TRIAL_EDGES = 1 << 11


@dataclass
class PredictionStats:
    """What a prediction cost. Times in seconds."""

    num_points: int = 0
    num_decoded: int = 0
    num_edges: int = 0
    chunk_size: int = 0
    encode_time: float = 0.0
    graph_time: float = 0.0
    model_time: float = 0.0
    wait_time: float = 0.0
    total_time: float = 0.0
    #: ∫ρ dV (e) of a streamed prediction (``sink``); ``None`` when the values are returned
    electrons: float | None = None

    @property
    def probes_per_second(self) -> float:
        return self.num_points / self.total_time if self.total_time > 0 else float("inf")


@dataclass
class GridPrediction:
    """Result of :meth:`GridPredictor.predict_grid`.

    Attributes:
        values: (N1, N2, N3) float32 density in e/Å³.
        derived: requested derived fields, e.g. ``gradient`` (N1, N2, N3, 3) e/Å⁴,
            ``hessian_eigenvalues`` (N1, N2, N3, 3) e/Å⁵, ``iri`` (N1, N2, N3), ``dori`` (N1, N2, N3).
        stats: timings and counts.
        std: (N1, N2, N3) float32 member standard deviation in e/Å³ (``uncertainty=True``), else ``None``.
    """

    values: np.ndarray
    derived: dict[str, np.ndarray] = field(default_factory=dict)
    stats: PredictionStats = field(default_factory=PredictionStats)
    std: np.ndarray | None = None


class GridPredictor:
    """Predict densities on full grids with one loaded model.

    Args:
        model: a ``DensityModel`` (already on ``device``).
        device: where the model runs (default: the model's device).
        chunk_size: probes per decoder call; ``None`` chooses from available memory.
        overlap: build the next chunk's graph on a background thread while the model runs.
        progress: called as ``progress(done_points, total_points)`` after each chunk.
        compile: decode probes with a ``torch.compile``-d copy of the probe decoder (derived fields, which
            need autograd, still use the eager decoder). See docs/prediction.md for when it pays.
        adaptive_threads: on CPU (eager decoder, density only), decode each chunk in pieces and choose 1 or
            ``torch.get_num_threads()`` intra-op threads per piece from the measured speed (module docstring,
            item 7); ``False``: every piece with torch's threads.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        device: torch.device | str | None = None,
        chunk_size: int | None = None,
        overlap: bool = True,
        progress: Callable[[int, int], None] | None = None,
        compile: bool = False,
        adaptive_threads: bool = True,
    ) -> None:
        self.model = model.eval()
        param = next(model.parameters())
        self.device = torch.device(device) if device is not None else param.device
        self.dtype = param.dtype
        self.cutoff = float(model.config.cutoff)
        self.hidden_size = int(model.config.hidden_size)
        self.chunk_size = chunk_size
        self.overlap = overlap
        self.progress = progress
        if compile and not hasattr(model, "probe_model"):
            raise ValueError(f"compile is not supported for a {type(model).__name__}; predict without compile")
        self.probe_forward = compiled_probe_decoder(model, self.device) if compile else None
        self.adaptive_threads = adaptive_threads
        self.governor: ThreadGovernor | None = None
        self._governing: ThreadGovernor | None = None  # during predict_grid

    def _thread_governor(self, threads: int) -> ThreadGovernor | None:
        """The governor for ``threads`` intra-op threads at most, or ``None`` where no choice is made."""
        if not self.adaptive_threads or self.device.type != "cpu" or self.probe_forward is not None or threads < 2:
            return None
        if self.governor is None or self.governor.max_threads != threads:
            self.governor = ThreadGovernor(max_threads=threads)
        return self.governor

    def _decode_probes(self, atom_batch, states, positions: np.ndarray, edges: np.ndarray, offsets) -> torch.Tensor:
        """Densities of probes that all have edges; on CPU in pieces with governed thread counts."""
        governor = self._governing
        if governor is None:
            batch = self._probe_batch(atom_batch, positions, edges, offsets)
            with torch.inference_mode():
                return self.model.decode_probes(states, batch, self.probe_forward)
        order = np.argsort(edges[1], kind="stable")  # edges grouped by probe
        first_edge = np.concatenate(([0], np.cumsum(np.bincount(edges[1], minlength=len(positions)))))
        parts = []
        start = 0
        try:
            while start < len(positions):
                threads, trial = governor.choose()
                target = first_edge[start] + (TRIAL_EDGES if trial else PIECE_EDGES)
                stop = int(min(len(positions), max(start + 1, np.searchsorted(first_edge, target, side="right") - 1)))
                index = order[first_edge[start] : first_edge[stop]]
                piece_edges = np.stack([edges[0, index], edges[1, index] - start])
                batch = self._probe_batch(atom_batch, positions[start:stop], piece_edges, offsets[index])
                torch.set_num_threads(threads)
                t0 = time.perf_counter()
                with torch.inference_mode():
                    parts.append(self.model.decode_probes(states, batch))
                governor.record(threads, len(index), time.perf_counter() - t0, trial)
                start = stop
        finally:
            torch.set_num_threads(governor.best())  # the rest of the prediction runs with the best count
        return torch.cat(parts)

    # ------------------------------------------------------------------ atoms
    def encode(self, atoms: ase.Atoms) -> tuple[dict[str, torch.Tensor], object]:
        """Build the atom graph and run the atom encoder once. Returns (atom batch on device, atom states)."""
        sample = make_sample(atoms, None, cutoff=self.cutoff)
        batch = collate([sample], dtype=self.dtype)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.inference_mode():
            states = self.model.encode_atoms(batch)
        return batch, states

    # ------------------------------------------------------------------ probes
    def _chunk_graph(self, atoms: ase.Atoms, spec: GridSpec, start: int, stop: int):
        t0 = time.perf_counter()
        edges, offsets = grid_probe_graph(
            atoms.positions,
            atoms.cell.array,
            atoms.pbc,
            spec.cell,
            spec.shape,
            spec.origin,
            self.cutoff,
            range(start, stop),
        )
        positions = grid_points(spec.cell, spec.shape, spec.origin, range(start, stop))
        return positions, edges, offsets, time.perf_counter() - t0

    def _probe_batch(self, atom_batch, positions, edges, offsets) -> dict[str, torch.Tensor]:
        batch = dict(atom_batch)
        batch[keys.PROBE_POSITIONS] = torch.as_tensor(positions, dtype=self.dtype, device=self.device)
        batch[keys.PROBE_EDGES] = torch.as_tensor(edges, dtype=torch.long, device=self.device)
        batch[keys.PROBE_EDGE_OFFSETS] = torch.as_tensor(offsets, dtype=self.dtype, device=self.device)
        batch[keys.PROBE_BATCH] = torch.zeros(len(positions), dtype=torch.long, device=self.device)
        batch[keys.NUM_PROBES] = torch.tensor([len(positions)], dtype=torch.long, device=self.device)
        return batch

    def _empty_probe_value(self, atom_batch, states, uncertainty: bool = False) -> tuple[float, float]:
        """Density (and member std) of a probe that no atom reaches (identical for all such probes)."""
        edges = np.zeros((2, 0), dtype=np.int64)
        offsets = np.zeros((0, 3))
        batch = self._probe_batch(atom_batch, np.zeros((1, 3)), edges, offsets)
        with torch.inference_mode():
            if uncertainty:
                mean, std = self.model.decode_probes_with_std(states, batch)
                return float(mean[0]), float(std[0])
            return float(self.model.decode_probes(states, batch)[0]), 0.0

    def _estimate_edges_per_probe(self, atoms: ase.Atoms, spec: GridSpec, rng: np.random.Generator) -> float:
        sample = np.sort(rng.choice(spec.num_points, size=min(spec.num_points, 2000), replace=False))
        edges, _ = grid_probe_graph(
            atoms.positions,
            atoms.cell.array,
            atoms.pbc,
            spec.cell,
            spec.shape,
            spec.origin,
            self.cutoff,
            sample,
        )
        return max(1.0, edges.shape[1] / len(sample))

    def _chunks(self, total: int, chunk: int, rank: int, world_size: int) -> Iterator[tuple[int, int]]:
        for index, start in enumerate(range(0, total, chunk)):
            if index % world_size == rank:
                yield start, min(start + chunk, total)

    def predict_grid(
        self,
        atoms: ase.Atoms,
        spec: GridSpec,
        *,
        derived: tuple[str, ...] = (),
        out: np.ndarray | None = None,
        rank: int = 0,
        world_size: int = 1,
        uncertainty: bool = False,
        sink: Callable[[np.ndarray], None] | None = None,
    ) -> GridPrediction:
        """Predict ρ (and derived fields) at every point of ``spec``.

        Args:
            atoms: the structure (positions Å; its pbc and cell define the periodic images).
            spec: the grid.
            derived: any of ``DERIVED_FIELDS``.
            out: optional preallocated float32 array of ``spec.num_points`` values (e.g. a ``np.memmap`` for
                grids too large for memory); filled in place.
            rank, world_size: split the chunks over processes of an initialised ``torch.distributed``
                group; the full grid ends up on rank 0 (other ranks hold only their share).
            uncertainty: also return the member standard deviation (``GridPrediction.std``); needs an
                ensemble model (one with ``decode_probes_with_std``).
            sink: stream the density instead of keeping it: ``sink(values)`` receives each chunk's float32
                values in flat C order, in order (e.g. :meth:`rhograph.io.stream.DensityFileStream.write`);
                memory then stays at a few chunks whatever the grid size. The result's ``values`` is an empty
                array and ``stats`` holds ``electrons`` (∫ρ dV). Density only, one process.
        """
        if sink is not None and (derived or uncertainty or world_size > 1 or out is not None):
            raise ValueError("sink streams the density alone: no derived fields, uncertainty, out or world_size > 1")
        threads = torch.get_num_threads()
        self._governing = None if derived or uncertainty else self._thread_governor(threads)
        if self._governing is not None:  # encoding and graph work too: many small operations
            torch.set_num_threads(self._governing.best())
        try:
            return self._predict_grid(atoms, spec, derived, out, rank, world_size, uncertainty, sink)
        finally:
            self._governing = None
            torch.set_num_threads(threads)

    def _predict_grid(self, atoms, spec, derived, out, rank, world_size, uncertainty, sink) -> GridPrediction:
        unknown = sorted(set(derived) - set(DERIVED_FIELDS))
        if unknown:
            raise ValueError(f"unknown derived field(s) {unknown}; choose from {list(DERIVED_FIELDS)}")
        if uncertainty and not hasattr(self.model, "decode_probes_with_std"):
            raise ValueError(
                f"uncertainty needs an ensemble of models (a run folder of members or several checkpoints), "
                f"got one {type(self.model).__name__}"
            )
        t_start = time.perf_counter()
        stats = PredictionStats(num_points=spec.num_points)
        if sink is not None:
            values = np.zeros(0, dtype=np.float32)
            total = 0.0
        elif out is None:
            values = np.zeros(spec.num_points, dtype=np.float32)
        else:
            values = out.reshape(-1)
        if out is not None:
            values[:] = 0.0
        derived_out = {
            name: np.zeros(
                (spec.num_points, 3) if name in ("gradient", "hessian_eigenvalues") else spec.num_points,
                dtype=np.float32,
            )
            for name in derived
        }
        std = np.zeros(spec.num_points, dtype=np.float32) if uncertainty else None

        t0 = time.perf_counter()
        atom_batch, states = self.encode(atoms)
        empty_value, empty_std = self._empty_probe_value(atom_batch, states, uncertainty)
        stats.encode_time = time.perf_counter() - t0

        chunk = self.chunk_size
        if chunk is None:
            epp = self._estimate_edges_per_probe(atoms, spec, np.random.default_rng(0))
            chunk = choose_chunk_size(
                epp,
                self.hidden_size,
                self.device,
                dtype_bytes=torch.finfo(self.dtype).bits // 8,
                derivatives=bool(derived),
            )
        stats.chunk_size = chunk
        chunks = list(self._chunks(spec.num_points, chunk, rank, world_size))

        executor = ThreadPoolExecutor(max_workers=1) if self.overlap else None
        try:
            pending = None
            if executor is not None and chunks:
                pending = executor.submit(self._chunk_graph, atoms, spec, *chunks[0])
            done = 0
            for index, (start, stop) in enumerate(chunks):
                t_wait = time.perf_counter()
                if executor is not None:
                    assert pending is not None
                    positions, edges, offsets, graph_time = pending.result()
                    if index + 1 < len(chunks):
                        pending = executor.submit(self._chunk_graph, atoms, spec, *chunks[index + 1])
                    stats.wait_time += time.perf_counter() - t_wait
                else:
                    positions, edges, offsets, graph_time = self._chunk_graph(atoms, spec, start, stop)
                stats.graph_time += graph_time
                stats.num_edges += edges.shape[1]
                t_model = time.perf_counter()
                # streamed: each chunk into its own buffer (at 0), handed to the sink once decoded
                target, at = (values, start) if sink is None else (np.empty(stop - start, dtype=np.float32), 0)
                self._decode_chunk(
                    atom_batch,
                    states,
                    positions,
                    edges,
                    offsets,
                    at,
                    at + stop - start,
                    target,
                    derived_out,
                    empty_value,
                    stats,
                    std,
                    empty_std,
                )
                stats.model_time += time.perf_counter() - t_model
                if sink is not None:
                    total += float(target.sum(dtype=np.float64))
                    sink(target)
                done += stop - start
                if self.progress is not None:
                    self.progress(done, spec.num_points // world_size)
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)

        if world_size > 1:
            _reduce_to_rank0(values, rank)
            for array in derived_out.values():
                _reduce_to_rank0(array, rank)
            if std is not None:
                _reduce_to_rank0(std, rank)
        stats.total_time = time.perf_counter() - t_start
        if sink is not None:
            stats.electrons = total * abs(float(np.linalg.det(spec.cell))) / spec.num_points
            return GridPrediction(values=values, stats=stats)
        shaped = {name: arr.reshape(*spec.shape, *arr.shape[1:]) for name, arr in derived_out.items()}
        return GridPrediction(
            values=values.reshape(spec.shape),
            derived=shaped,
            stats=stats,
            std=None if std is None else std.reshape(spec.shape),
        )

    def _decode_chunk(
        self,
        atom_batch,
        states,
        positions,
        edges,
        offsets,
        start,
        stop,
        values,
        derived_out,
        empty_value,
        stats,
        std=None,
        empty_std=0.0,
    ) -> None:
        if derived_out:
            if std is not None:  # the derived path decodes the mean with autograd; the spread separately
                self._decode_std(atom_batch, states, positions, edges, offsets, std[start:stop], empty_std)
            from rhograph.models.derived import derived_fields

            batch = self._probe_batch(atom_batch, positions, edges, offsets)
            fields = derived_fields(self.model, states, batch, fields=tuple(derived_out), finite=True)
            rho = fields["density"]
            values[start:stop] = rho.detach().cpu().numpy()
            for name, array in derived_out.items():
                array[start:stop] = fields[name].detach().cpu().numpy()
            stats.num_decoded += stop - start
            return
        # Only probes that some atom reaches need the decoder; the rest share one value.
        reached, sub_positions, sub_edges = _reached_probes(positions, edges)
        chunk_values = np.full(stop - start, empty_value, dtype=np.float32)
        if std is not None:
            std[start:stop] = empty_std
        if reached.any():
            if std is None:
                rho = self._decode_probes(atom_batch, states, sub_positions, sub_edges, offsets)
            else:
                batch = self._probe_batch(atom_batch, sub_positions, sub_edges, offsets)
                with torch.inference_mode():
                    rho, sigma = self.model.decode_probes_with_std(states, batch)
                std[start:stop][reached] = sigma.float().cpu().numpy()
            chunk_values[reached] = rho.float().cpu().numpy()
            stats.num_decoded += int(reached.sum())
        values[start:stop] = chunk_values

    def _decode_std(self, atom_batch, states, positions, edges, offsets, out: np.ndarray, empty_std: float) -> None:
        """Member standard deviation of one chunk into ``out`` (probes no atom reaches get ``empty_std``)."""
        reached, sub_positions, sub_edges = _reached_probes(positions, edges)
        out[:] = empty_std
        if not reached.any():
            return
        batch = self._probe_batch(atom_batch, sub_positions, sub_edges, offsets)
        with torch.inference_mode():
            _, sigma = self.model.decode_probes_with_std(states, batch)
        out[reached] = sigma.float().cpu().numpy()


def _reached_probes(positions: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The probes of a chunk that some atom reaches: ``(mask (M,), their positions, edges renumbered to them)``."""
    receivers = edges[1]
    reached = np.zeros(len(positions), dtype=bool)
    reached[receivers] = True
    if reached.all():
        return reached, positions, edges
    new_index = np.cumsum(reached) - 1
    return reached, positions[reached], np.stack([edges[0], new_index[receivers]])


_COMPILED: weakref.WeakKeyDictionary[torch.nn.Module, Callable[..., torch.Tensor]] = weakref.WeakKeyDictionary()


def compiled_probe_decoder(model: torch.nn.Module, device: torch.device) -> Callable[..., torch.Tensor]:
    """A ``torch.compile``-d copy of ``model.probe_model`` (:func:`~rhograph.models.compiling.compile_module`),
    made once per model and shared by every predictor of that model (the tool chain is checked every time)."""
    check_compile_toolchain(device)
    probe_model = model.probe_model
    if probe_model not in _COMPILED:
        _COMPILED[probe_model] = compile_module(probe_model, device)
    return _COMPILED[probe_model]


def _reduce_to_rank0(array: np.ndarray, rank: int) -> None:
    """Sum ``array`` over all processes onto rank 0 in blocks (exact: other ranks contribute zeros)."""
    import torch.distributed as dist

    flat = array.reshape(-1)
    block = 1 << 24
    for start in range(0, flat.size, block):
        tensor = torch.from_numpy(np.ascontiguousarray(flat[start : start + block]))
        dist.reduce(tensor, dst=0, op=dist.ReduceOp.SUM)
        if rank == 0:
            flat[start : start + block] = tensor.numpy()
