"""The DeepDFT density model: an atom encoder and a probe decoder over flat graph batches.

``encode_atoms`` runs the atom message passing once and returns the per-layer atom states;
``decode_probes`` predicts the density at any number of probe chunks from those states (it needs only the
atom positions and cells of the batch, not the atom edges). ``forward`` does both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from rhograph import keys
from rhograph.models.config import ModelConfig
from rhograph.models.painn import PaiNNAtomModel, PaiNNProbeModel
from rhograph.models.schnet import SchNetAtomModel, SchNetProbeModel
from rhograph.nn.geometry import edge_vectors


@dataclass
class AtomStates:
    """Per-layer atom states of one batch (output of :meth:`DensityModel.encode_atoms`).

    Attributes:
        scalar: ``T`` scalar states ``(num_atoms, F)``, after atom layers 1..T.
        vector: ``T`` vector states ``(num_atoms, 3, F)`` (equivariant model) or ``None``.
        sender_features: per-atom factors of the probe messages of every probe layer (computed from the
            states once so that decoding a probe chunk costs only per-edge and per-probe work):
            ``(num_atoms, 2F)`` (invariant) or ``(num_atoms, 3F)`` (equivariant) per layer.
    """

    scalar: list[torch.Tensor]
    vector: list[torch.Tensor] | None
    sender_features: list[torch.Tensor]

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> AtomStates:
        """A new ``AtomStates`` with ``fn`` applied to every tensor."""
        return AtomStates(
            scalar=[fn(t) for t in self.scalar],
            vector=None if self.vector is None else [fn(t) for t in self.vector],
            sender_features=[fn(t) for t in self.sender_features],
        )

    def to(self, device: torch.device | str) -> AtomStates:
        """The states on ``device``."""
        return self.apply(lambda t: t.to(device))

    def detach(self) -> AtomStates:
        """The states cut from the autograd graph."""
        return self.apply(torch.Tensor.detach)


class DensityModel(nn.Module):
    """Electron density ``ρ(r)`` at probe points from atom types and positions (DeepDFT).

    Atom states ``h^t`` (t = 1..T) come from message passing on the atom graph; probe ``p`` receives
    messages from the atoms within the cutoff in ``T`` gated layers (layer ``t`` reads ``h^t``), and a
    readout MLP maps its final scalar state to ``ρ(p)`` in e/Å³. See :mod:`rhograph.models.schnet` and
    :mod:`rhograph.models.painn` for the equations. Edge vectors and lengths are recomputed from the
    positions, image offsets and cells, so ``ρ`` is differentiable with respect to the probe positions.

    Args:
        config: the architecture (see :class:`~rhograph.models.config.ModelConfig` and
            :func:`~rhograph.models.presets.build_model`).

    Shapes:
        batch (:mod:`rhograph.keys`): ``ATOMIC_NUMBERS (N,)``, ``POSITIONS (N, 3)`` Å, ``CELL (B, 3, 3)`` Å,
        ``ATOM_BATCH (N,)``, ``ATOM_EDGES (2, E)``, ``ATOM_EDGE_OFFSETS (E, 3)``, ``PROBE_POSITIONS (M, 3)`` Å,
        ``PROBE_BATCH (M,)``, ``PROBE_EDGES (2, P)``, ``PROBE_EDGE_OFFSETS (P, 3)``;
        output: ``(M,)`` density in e/Å³.
    """

    #: on CPU, probe edges per decoder block (see :meth:`decode_probes`); 2048 keeps the per-edge tensors of
    #: an F = 128 model within the L2 cache (measured 1.4-1.7x faster than 8192 on 12-33 edges per probe)
    cpu_edge_block: int = 2048

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        args = (config.num_interactions, config.hidden_size, config.cutoff)
        self.atom_model: SchNetAtomModel | PaiNNAtomModel
        self.probe_model: SchNetProbeModel | PaiNNProbeModel
        if config.architecture == "schnet":
            self.atom_model = SchNetAtomModel(*args, config.gaussian_step)
            self.probe_model = SchNetProbeModel(*args, config.gaussian_step)
        else:
            self.atom_model = PaiNNAtomModel(*args, config.num_basis)
            self.probe_model = PaiNNProbeModel(*args, config.num_basis)

    @property
    def dtype(self) -> torch.dtype:
        """Floating-point dtype of the parameters."""
        return self.atom_model.atom_embeddings.weight.dtype

    def encode_atoms(self, batch: dict[str, torch.Tensor]) -> AtomStates:
        """Atom states after each atom layer (and the per-atom factors of the probe messages)."""
        dtype = self.dtype
        positions = batch[keys.POSITIONS].to(dtype)
        cell = batch[keys.CELL]
        edges = batch[keys.ATOM_EDGES]
        structure = batch[keys.ATOM_BATCH].index_select(0, edges[1]) if cell.shape[0] > 1 else None
        vectors = edge_vectors(positions, positions, edges, batch[keys.ATOM_EDGE_OFFSETS], cell, structure)
        if isinstance(self.atom_model, SchNetAtomModel):
            assert isinstance(self.probe_model, SchNetProbeModel)
            scalar = self.atom_model(batch[keys.ATOMIC_NUMBERS], vectors, edges)
            return AtomStates(scalar=scalar, vector=None, sender_features=self.probe_model.sender_features(scalar))
        assert isinstance(self.probe_model, PaiNNProbeModel)
        scalar, vector = self.atom_model(batch[keys.ATOMIC_NUMBERS], vectors, edges)
        return AtomStates(scalar=scalar, vector=vector, sender_features=self.probe_model.sender_features(scalar))

    def decode_probes(
        self,
        atom_states: AtomStates,
        batch: dict[str, torch.Tensor],
        probe_forward: Callable[..., torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Density ``(num_probes,)`` in e/Å³ at ``batch[PROBE_POSITIONS]`` (atom edges are not needed).

        ``probe_forward`` replaces ``self.probe_model`` as the decoder callable (same arguments), e.g. a
        ``torch.compile``-d copy of it (see :class:`~rhograph.inference.engine.GridPredictor`).

        On CPU, probes with many edges are decoded in blocks of at most ~:attr:`cpu_edge_block` edges (whole
        probes per block): per-edge tensors then stay small enough to be reused by the allocator instead of
        being mapped afresh for every operation, which is several times faster. The result does not depend on
        the blocking.
        """
        dtype = self.dtype
        probes = batch[keys.PROBE_POSITIONS].to(dtype)
        cell = batch[keys.CELL]
        edges = batch[keys.PROBE_EDGES]
        structure = batch[keys.PROBE_BATCH].index_select(0, edges[1]) if cell.shape[0] > 1 else None
        vectors = edge_vectors(
            probes, batch[keys.POSITIONS].to(dtype), edges, batch[keys.PROBE_EDGE_OFFSETS], cell, structure
        )
        num_probes = probes.shape[0]
        if (
            probes.device.type != "cpu"
            or edges.shape[1] <= self.cpu_edge_block
            or torch.compiler.is_compiling()
            or num_probes < 2
        ):
            return self._decode(atom_states, vectors, edges, num_probes, probe_forward)
        parts = []
        for start, stop, edge_index in _probe_blocks(edges[1], num_probes, self.cpu_edge_block):
            block_edges = edges.index_select(1, edge_index)
            block_edges = torch.stack((block_edges[0], block_edges[1] - start))
            block_vectors = vectors.index_select(0, edge_index)
            parts.append(self._decode(atom_states, block_vectors, block_edges, stop - start, probe_forward))
        return torch.cat(parts)

    def _decode(
        self,
        atom_states: AtomStates,
        vectors: torch.Tensor,
        edges: torch.Tensor,
        num_probes: int,
        probe_forward: Callable[..., torch.Tensor] | None,
    ) -> torch.Tensor:
        decoder = self.probe_model if probe_forward is None else probe_forward
        if isinstance(self.probe_model, SchNetProbeModel):
            return decoder(atom_states.sender_features, vectors, edges, num_probes)
        if atom_states.vector is None:
            raise ValueError("atom states of an invariant model were given to an equivariant model")
        return decoder(atom_states.sender_features, atom_states.vector, vectors, edges, num_probes)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``decode_probes(encode_atoms(batch), batch)``: density ``(num_probes,)`` in e/Å³."""
        return self.decode_probes(self.encode_atoms(batch), batch)

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return self.config.describe()


def _probe_blocks(receivers: torch.Tensor, num_probes: int, max_edges: int) -> list[tuple[int, int, torch.Tensor]]:
    """Split probes ``0..num_probes-1`` into consecutive ranges holding about ``max_edges`` edges each.

    Returns ``(first probe, end probe, indices of the range's edges in their original order)`` per range;
    a range holds at least one probe (a probe with more edges than ``max_edges`` gets a range of its own).
    """
    counts = torch.bincount(receivers, minlength=num_probes)  # (num_probes,)
    before = torch.cumsum(counts, 0) - counts  # edges of earlier probes
    block = torch.div(before, max_edges, rounding_mode="floor")  # non-decreasing block id per probe
    _, sizes = torch.unique_consecutive(block, return_counts=True)
    order = torch.argsort(receivers, stable=True)  # edges grouped by probe, original order within a probe
    ranges = []
    probe_start = 0
    ends = torch.cumsum(counts, 0).tolist()  # edges of probes 0..p
    for size in sizes.tolist():
        stop = probe_start + size
        edge_start = ends[probe_start - 1] if probe_start > 0 else 0
        ranges.append((probe_start, stop, order[edge_start : ends[stop - 1]]))
        probe_start = stop
    return ranges
