"""Per-edge tensor product of sender irreps with the edge's spherical harmonics, weighted per channel and path.

The ``uvu`` tensor product of e3nn (NequIP's convolution), computed block by block: the Clebsch–Gordan
coefficients of all paths of an input ``l1`` are contracted with ``Y(r̂)`` first (one small matmul per edge),
then with the features (one batched matmul): ``(2l1+1)·K_b`` multiply-adds per edge and channel, with
``K_b = Σ_paths (2l3+1)``, instead of ``Σ_paths (2l1+1)(2l2+1)(2l3+1)`` for one contraction per path.
``tests/nn/test_e3.py`` checks it against ``e3nn.o3.TensorProduct``.
"""

from __future__ import annotations

import torch
from torch import nn

from rhograph.nn.e3_irreps import Irreps, e3nn_o3


def tensor_product_paths(irreps_in: Irreps, lmax_sh: int, lmax_out: int) -> list[list[tuple[int, int]]]:
    """The ``(l2, l3)`` paths of every input block: ``|l1 − l2| ≤ l3 ≤ min(l1 + l2, lmax_out)`` and
    ``l1 + l2 + l3`` even (the product of natural-parity irreps ``(-1)^{l1+l2}`` must be that of ``l3``)."""
    return [
        [
            (l2, l3)
            for l2 in range(lmax_sh + 1)
            for l3 in range(abs(l1 - l2), min(l1 + l2, lmax_out) + 1)
            if (l1 + l2 + l3) % 2 == 0
        ]
        for _, l1 in irreps_in.blocks
    ]


def m_major(irreps: Irreps, x: torch.Tensor) -> torch.Tensor:
    """``x (N, dim)`` from the e3nn layout (block ``(mul, 2l+1)``) to the m-major layout (block ``(2l+1, mul)``)
    that :class:`EdgeTensorProduct` reads (so that its batched matmuls read contiguous blocks)."""
    return torch.cat(
        [block.transpose(1, 2).reshape(x.shape[0], block.shape[1] * block.shape[2]) for block in irreps.split(x)], dim=1
    )


class EdgeTensorProduct(nn.Module):
    """``m_e = w_e ⊙ (x_{j(e)} ⊗ Y(r̂_e))``, path by path (e3nn ``uvu`` mode, component normalisation).

    .. math:: m^{(l_1 l_2 \\to l_3)}_{e u m_3} = w^{(l_1 l_2 \\to l_3)}_{e u} \\sqrt{2 l_3 + 1}
        \\sum_{m_1 m_2} C^{l_1 l_2 l_3}_{m_1 m_2 m_3}\\, x^{l_1}_{e u m_1}\\, Y^{l_2}_{m_2}(\\hat r_e)

    ``C`` are e3nn's real Wigner 3j symbols (``‖C‖ = 1``). They are buffers outside the state dict, always
    rounded from float64 values (also after ``model.to(dtype)``), so a float64 model is equivariant to ~1e-15.

    Args:
        irreps_in: sender irreps (one block per ``l``).
        lmax_sh: largest ``l`` of the spherical harmonics.
        lmax_out: largest output ``l``.

    Attributes:
        paths: the ``(l2, l3)`` paths of every input block (:func:`tensor_product_paths`).
        weight_numel: per-edge weights, laid out block by block as ``(num_paths_b, mul_b)``.
        rows: ``K_b`` of every block.

    Shapes:
        x: ``(num_edges, irreps_in.dim)`` sender features gathered per edge, in *m-major* layout (block ``b`` is
        ``(2 l1 + 1, mul_b)``, see :func:`m_major`); sh: ``(num_edges, (lmax_sh+1)²)``;
        weights: ``(num_edges, weight_numel)``; output: *path layout*, one tensor ``(num_edges, K_b, mul_b)`` per
        input block with ``K_b = Σ_paths (2 l3 + 1)`` rows (path by path, ``m3`` within a path); see
        :meth:`to_irreps` for the e3nn layout.
    """

    def __init__(self, irreps_in: Irreps, lmax_sh: int, lmax_out: int) -> None:
        super().__init__()
        self.irreps_in = irreps_in
        self.lmax_sh = int(lmax_sh)
        self.lmax_out = int(lmax_out)
        self.paths = tensor_product_paths(irreps_in, lmax_sh, lmax_out)
        self.rows = [sum(2 * l3 + 1 for _, l3 in paths) for paths in self.paths]  # K_b
        self.weight_numel = sum(mul * len(paths) for (mul, _), paths in zip(irreps_in.blocks, self.paths, strict=True))
        self._coefficients64 = self._coefficients()
        self.register_buffer("coefficients", self._coefficients64.to(torch.get_default_dtype()), persistent=False)

    def _coefficients(self) -> torch.Tensor:
        """``(dim_sh, Σ_b K_b·(2 l1 + 1))`` float64, block after block: ``sqrt(2l3+1) C[m1, m2, m3]`` at
        ``[sh offset of l2 + m2, block offset + (row of path + m3)·(2l1+1) + m1]``."""
        o3 = e3nn_o3()
        dim_sh = (self.lmax_sh + 1) ** 2
        out = []
        for (_, l1), paths, rows in zip(self.irreps_in.blocks, self.paths, self.rows, strict=True):
            matrix = torch.zeros(dim_sh, rows, 2 * l1 + 1, dtype=torch.float64)
            row = 0
            for l2, l3 in paths:
                w3j = o3.wigner_3j(l1, l2, l3, dtype=torch.float64)  # (2l1+1, 2l2+1, 2l3+1)
                block = (2 * l3 + 1) ** 0.5 * w3j.permute(1, 2, 0)  # (m2, m3, m1)
                matrix[l2 * l2 : (l2 + 1) ** 2, row : row + 2 * l3 + 1] = block
                row += 2 * l3 + 1
            out.append(matrix.reshape(dim_sh, rows * (2 * l1 + 1)))
        return torch.cat(out, dim=1)

    def _apply(self, fn, recurse=True):
        # dtype / device moves: re-round the coefficients from float64 instead of converting the old copy
        super()._apply(fn, recurse)
        old = self._buffers["coefficients"]
        self._buffers["coefficients"] = self._coefficients64.to(device=old.device, dtype=old.dtype)
        return self

    def forward(self, x: torch.Tensor, sh: torch.Tensor, weights: torch.Tensor) -> list[torch.Tensor]:
        num_edges = x.shape[0]
        a_all = torch.matmul(sh, self.coefficients)  # (E, Σ_b K_b·(2l1+1)): C contracted with Y, all blocks
        out = []
        a_start = w_start = 0
        for (mul, l1, start, stop), paths, rows in zip(self.irreps_in.slices(), self.paths, self.rows, strict=True):
            a = a_all[:, a_start : a_start + rows * (2 * l1 + 1)].reshape(num_edges, rows, 2 * l1 + 1)
            xb = x[:, start:stop].reshape(num_edges, 2 * l1 + 1, mul)  # m-major block
            w = weights[:, w_start : w_start + len(paths) * mul].reshape(num_edges, len(paths), mul)
            product = torch.matmul(a, xb) if l1 > 0 else a * xb  # (E, K_b, mul); l1 = 0: an outer product
            row = 0
            for p, (_, l3) in enumerate(paths):  # each path's weight on its rows (in place: no expanded copy)
                product[:, row : row + 2 * l3 + 1].mul_(w[:, p, None])
                row += 2 * l3 + 1
            out.append(product)
            a_start += rows * (2 * l1 + 1)
            w_start += len(paths) * mul
        return out

    def to_irreps(self, messages: list[torch.Tensor]) -> tuple[Irreps, torch.Tensor]:
        """Path-layout messages as e3nn-layout features: irreps ``⊕_b ⊕_paths mul_b×l3`` (block by block, path
        by path) and the tensor ``(N, dim)``."""
        num = messages[0].shape[0]
        blocks, parts = [], []
        for (mul, _), paths, block in zip(self.irreps_in.blocks, self.paths, messages, strict=True):
            row = 0
            for _, l3 in paths:
                blocks.append((mul, l3))
                parts.append(block[:, row : row + 2 * l3 + 1].transpose(1, 2).reshape(num, mul * (2 * l3 + 1)))
                row += 2 * l3 + 1
        return Irreps(tuple(blocks)), torch.cat(parts, dim=1)

    def extra_repr(self) -> str:
        num_paths = sum(len(p) for p in self.paths)
        return f"{self.irreps_in} x Y(lmax={self.lmax_sh}) -> l <= {self.lmax_out}, {num_paths} paths"
