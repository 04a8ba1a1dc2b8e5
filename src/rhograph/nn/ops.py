"""Small tensor helpers shared by the layers: a norm with a safe gradient and allocation-free elementwise ops.

The in-place helpers overwrite a freshly computed temporary only when autograd does not record the
operation (inference), which saves allocating (and page-faulting) large per-edge tensors on CPU; with
autograd they fall back to the out-of-place op, so results are the same either way.
"""

from __future__ import annotations

import torch


def can_overwrite(*tensors: torch.Tensor) -> bool:
    """Whether an in-place op on these tensors is invisible to autograd."""
    return not torch.is_grad_enabled() or not any(t.requires_grad for t in tensors)


def mul_into(temporary: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``temporary * other``, written into ``temporary`` when allowed (``temporary`` must be ours to reuse)."""
    if can_overwrite(temporary, other):
        return temporary.mul_(other)
    return temporary * other


def add_into(temporary: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``temporary + other``, written into ``temporary`` when allowed."""
    if can_overwrite(temporary, other):
        return temporary.add_(other)
    return temporary + other


def addcmul_into(temporary: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``temporary + a * b``, written into ``temporary`` when allowed."""
    if can_overwrite(temporary, a, b):
        return temporary.addcmul_(a, b)
    return torch.addcmul(temporary, a, b)


def spatial_norm(vector: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the spatial axis of ``(N, 3, F)`` vector features → ``(N, F)``, no epsilon.

    ``sqrt(x² + y² + z²)`` exactly; the gradient at a zero vector is 0 (as for ``torch.linalg.vector_norm``),
    not NaN. (Much faster on CPU than ``vector_norm(dim=1)`` over the middle axis.)
    """
    x, y, z = vector.unbind(1)
    squared = torch.addcmul(torch.addcmul(x * x, y, y), z, z)  # (N, F)
    positive = squared > 0
    return torch.where(positive, torch.where(positive, squared, torch.ones_like(squared)).sqrt(), 0.0)
