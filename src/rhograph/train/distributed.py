"""Data-parallel set-up for ``torchrun`` (PyTorch DDP), and the single-process case with the same API.

``torchrun --nproc_per_node=K -m rhograph.cli.main train ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them, starts the process
group (NCCL on CUDA, gloo on CPU) and picks the device (``cuda:LOCAL_RANK``). Every rank draws its own
batches (different data streams), gradients are averaged by DDP, and only rank 0 writes files.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from rhograph.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in a (possibly single-process) run.

    Args:
        rank: global rank (0 writes files); world_size: number of processes; local_rank: rank on this node.
        device: the device this process trains on.
        initialized: whether this module started a process group (and must destroy it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    initialized: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` → ``cuda:LOCAL_RANK`` if CUDA is available else ``cpu``; ``cuda`` → ``cuda:LOCAL_RANK``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} requested but CUDA is not available; use device=cpu")
    return device


def init_distributed(device: str = "auto", backend: str | None = None) -> DistContext:
    """Read the ``torchrun`` environment and start the process group if ``WORLD_SIZE > 1``.

    Args:
        device: device setting of the run (see :func:`resolve_device`).
        backend: process-group backend; default ``nccl`` for CUDA devices, ``gloo`` otherwise.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    torch_device = resolve_device(device, local_rank)
    if world_size <= 1:
        return DistContext(device=torch_device)
    if torch_device.type == "cuda":
        torch.cuda.set_device(torch_device)
    initialized = False
    if not dist.is_initialized():
        backend = backend or ("nccl" if torch_device.type == "cuda" else "gloo")
        dist.init_process_group(backend=backend)
        initialized = True
        log.info("rank %d/%d: process group started (%s) on %s", rank, world_size, backend, torch_device)
    return DistContext(
        rank=rank, world_size=world_size, local_rank=local_rank, device=torch_device, initialized=initialized
    )


def shutdown(ctx: DistContext) -> None:
    """Destroy the process group if :func:`init_distributed` started it."""
    if ctx.initialized and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum a float64 tensor over ranks (a no-op in a single process). Returns the reduced tensor."""
    if not ctx.distributed:
        return values
    reduced = values.to(ctx.device if _nccl() else torch.device("cpu"), torch.float64).clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced.to(values.device)


def any_rank(flag: bool, ctx: DistContext) -> bool:
    """True if ``flag`` is true on any rank (stop requests must stop every rank at the same step)."""
    if not ctx.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64)
    return bool(all_reduce_sum(value, ctx).item() > 0)


def broadcast_object(obj: object, ctx: DistContext) -> object:
    """Rank 0's ``obj`` on every rank (small Python objects: the split, the resume step)."""
    if not ctx.distributed:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0, device=ctx.device if _nccl() else None)
    return holder[0]


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def _nccl() -> bool:
    return dist.is_initialized() and dist.get_backend() == "nccl"
