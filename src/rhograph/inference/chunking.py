"""Choosing how many probes go through the decoder at once.

The decoder's memory is dominated by per-edge tensors (filters, messages: a few × hidden_size floats per edge
and layer) and per-probe states. The chunk size is the largest number of probes whose estimated working set fits
in a memory budget: a fraction of the free GPU memory on CUDA, or of the available RAM on CPU.
"""

from __future__ import annotations

import os

import torch

#: floats held per probe edge during decoding, in units of hidden_size (filter 3F, messages ~4F, grads etc.)
EDGE_FLOATS_PER_FEATURE = 12
#: floats held per probe, in units of hidden_size (scalar + 3 vector states, gates, update intermediates)
PROBE_FLOATS_PER_FEATURE = 24
MIN_CHUNK = 256
#: upper bounds: on CPU, chunks of 10⁴–10⁵ points keep the neighbour search in cache (benchmarks/neighbors.py)
MAX_CHUNK_CPU = 1 << 16
MAX_CHUNK_CUDA = 1 << 20


def available_memory(device: torch.device) -> int:
    """Bytes that one prediction may use on ``device`` (¼ of free CUDA memory, ⅛ of available RAM, ≤ 4 GiB on CPU)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free // 4)
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # non-Linux
        avail = 8 << 30
    return int(min(avail // 8, 4 << 30))


def choose_chunk_size(
    edges_per_probe: float,
    hidden_size: int,
    device: torch.device,
    *,
    dtype_bytes: int = 4,
    derivatives: bool = False,
    budget: int | None = None,
) -> int:
    """Number of probes per decoder call.

    Args:
        edges_per_probe: mean number of atom→probe edges per probe (measured on a sample of the grid).
        hidden_size: F of the model.
        device: where the decoder runs.
        dtype_bytes: 4 for float32, 8 for float64.
        derivatives: autograd through the decoder (∇ρ, Hessian) keeps activations; budget ×¼.
        budget: bytes to use (default :func:`available_memory`).
    """
    budget = available_memory(device) if budget is None else budget
    if derivatives:
        budget //= 4
    per_probe = dtype_bytes * hidden_size * (EDGE_FLOATS_PER_FEATURE * edges_per_probe + PROBE_FLOATS_PER_FEATURE)
    upper = MAX_CHUNK_CUDA if device.type == "cuda" else MAX_CHUNK_CPU
    return int(max(MIN_CHUNK, min(upper, budget // max(per_probe, 1))))
