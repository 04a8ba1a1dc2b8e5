"""Scatter-sum over the first dimension: the message aggregation of flat (unpadded) graph batches."""

from __future__ import annotations

import torch


def scatter_sum(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    """Sum the rows of ``src`` into ``dim_size`` buckets given by ``index``.

    .. math:: \\mathrm{out}_i = \\sum_{e:\\ \\mathrm{index}_e = i} \\mathrm{src}_e

    Rows of ``out`` that receive nothing are zero (e.g. probes that no atom reaches).

    Args:
        src: values per edge.
        index: receiver of every edge, int64 in ``[0, dim_size)``.
        dim_size: number of receivers.

    Shapes:
        src: ``(num_edges, *feature_shape)``; index: ``(num_edges,)``;
        output: ``(dim_size, *feature_shape)``.
    """
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.index_add_(0, index, src)
