"""Batching: flat concatenation of graph samples with index vectors (no padding).

Atom indices of atom edges and the sender row of probe edges are shifted by the number of atoms of earlier
samples; the receiver row of probe edges by the number of earlier probes. ``ATOM_BATCH`` / ``PROBE_BATCH``
give the sample of every atom / probe.
"""

from __future__ import annotations

import numpy as np
import torch

from rhograph import keys

_FLOAT_KEYS = (
    keys.POSITIONS,
    keys.CELL,
    keys.ATOM_EDGE_OFFSETS,
    keys.PROBE_POSITIONS,
    keys.PROBE_EDGE_OFFSETS,
    keys.DENSITY,
)
_REQUIRED = (
    keys.ATOMIC_NUMBERS,
    keys.POSITIONS,
    keys.CELL,
    keys.ATOM_EDGES,
    keys.ATOM_EDGE_OFFSETS,
    keys.PROBE_POSITIONS,
    keys.PROBE_EDGES,
    keys.PROBE_EDGE_OFFSETS,
)


def collate(samples: list[dict[str, np.ndarray]], dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Concatenate samples from :func:`rhograph.data.make_sample` into one batch of tensors.

    Args:
        samples: one or more samples with local indices.
        dtype: float dtype of positions, cells, offsets and densities (``torch.float64`` for tests).

    Returns:
        the batch (CPU tensors): index fields int64 with global indices, ``CELL (B,3,3)``,
        ``ATOM_BATCH (N,)``, ``PROBE_BATCH (M,)``, ``NUM_ATOMS (B,)``, ``NUM_PROBES (B,)``, and ``DENSITY``
        when every sample has it.

    Raises:
        ValueError: no samples, a missing field, or a density present in only some samples.
    """
    if not samples:
        raise ValueError("collate needs at least one sample")
    for index, sample in enumerate(samples):
        missing = [key for key in _REQUIRED if key not in sample]
        if missing:
            raise ValueError(f"sample {index} lacks field(s) {missing}")
    with_density = sum(keys.DENSITY in sample for sample in samples)
    if 0 < with_density < len(samples):
        raise ValueError(f"only {with_density} of {len(samples)} samples have a density")

    num_atoms = np.array([len(s[keys.ATOMIC_NUMBERS]) for s in samples], dtype=np.int64)
    num_probes = np.array([len(s[keys.PROBE_POSITIONS]) for s in samples], dtype=np.int64)
    atom_start = np.cumsum(num_atoms) - num_atoms
    probe_start = np.cumsum(num_probes) - num_probes

    def cat(key: str) -> np.ndarray:
        return np.concatenate([np.asarray(s[key]) for s in samples])

    atom_edges = np.concatenate(
        [np.asarray(s[keys.ATOM_EDGES], dtype=np.int64) + atom_start[b] for b, s in enumerate(samples)], axis=1
    )
    shift = np.stack([atom_start, probe_start], axis=1)[:, :, None]  # (B, 2, 1)
    probe_edges = np.concatenate(
        [np.asarray(s[keys.PROBE_EDGES], dtype=np.int64) + shift[b] for b, s in enumerate(samples)], axis=1
    )
    arrays: dict[str, np.ndarray] = {
        keys.ATOMIC_NUMBERS: cat(keys.ATOMIC_NUMBERS).astype(np.int64),
        keys.POSITIONS: cat(keys.POSITIONS).reshape(-1, 3),
        keys.CELL: cat(keys.CELL).reshape(-1, 3, 3),
        keys.ATOM_EDGES: atom_edges.reshape(2, -1),
        keys.ATOM_EDGE_OFFSETS: cat(keys.ATOM_EDGE_OFFSETS).reshape(-1, 3),
        keys.PROBE_POSITIONS: cat(keys.PROBE_POSITIONS).reshape(-1, 3),
        keys.PROBE_EDGES: probe_edges.reshape(2, -1),
        keys.PROBE_EDGE_OFFSETS: cat(keys.PROBE_EDGE_OFFSETS).reshape(-1, 3),
        keys.ATOM_BATCH: np.repeat(np.arange(len(samples), dtype=np.int64), num_atoms),
        keys.PROBE_BATCH: np.repeat(np.arange(len(samples), dtype=np.int64), num_probes),
        keys.NUM_ATOMS: num_atoms,
        keys.NUM_PROBES: num_probes,
    }
    if with_density:
        arrays[keys.DENSITY] = cat(keys.DENSITY).reshape(-1)
    batch: dict[str, torch.Tensor] = {}
    for key, value in arrays.items():
        tensor = torch.from_numpy(np.ascontiguousarray(value))
        batch[key] = tensor.to(dtype) if key in _FLOAT_KEYS else tensor.long()
    return batch


def batch_to(
    batch: dict[str, torch.Tensor], device: torch.device | str, non_blocking: bool = False
) -> dict[str, torch.Tensor]:
    """The batch with every tensor moved to ``device`` (a new dict; the input is unchanged)."""
    return {key: value.to(device, non_blocking=non_blocking) for key, value in batch.items()}
