"""Equivariant point convolution (NequIP / ChargE3Net): tensor-product messages with learned radial weights.

Used for atom → atom messages (:mod:`rhograph.nn.e3_interaction`) and atom → probe messages
(:mod:`rhograph.nn.e3_probe`); senders are always atoms.
"""

from __future__ import annotations

import torch
from torch import nn

from rhograph.nn.e3_irreps import Irreps
from rhograph.nn.e3_linear import IrrepsLinear
from rhograph.nn.e3_tensor_product import EdgeTensorProduct, m_major
from rhograph.nn.mlp import two_layer_mlp
from rhograph.nn.scatter import scatter_sum


class TensorProductConvolution(nn.Module):
    """Messages ``x_j ⊗ Y(r̂_ij)`` weighted by a radial network, summed over senders, then mixed per ``l``.

    .. math::
        x_j = W_\\mathrm{pre}\\, h_j, \\qquad
        w_{ij} = R(b(d_{ij}))\\, f_\\mathrm{cut}(d_{ij}), \\qquad
        M_i = \\frac{1}{\\sqrt{n}} \\sum_{j} w_{ij} \\odot \\left(x_j \\otimes Y(\\hat r_{ij})\\right), \\qquad
        \\mathrm{out}_i = W_\\mathrm{mix}\\, M_i + b

    ``W_pre`` and ``W_mix`` are :class:`~rhograph.nn.e3_linear.IrrepsLinear` maps (``W_mix`` mixes the paths
    that end in the same ``l``, bias on scalars), ``⊗`` is :class:`~rhograph.nn.e3_tensor_product.
    EdgeTensorProduct` (one weight per path and channel), ``R`` is ``Linear(K, W)`` or, with
    ``radial_hidden > 0``, ``Linear(K, H) → SiLU → Linear(H, W)``, and ``n`` a typical number of neighbours.
    ``b`` is the radial basis and ``f_cut`` the cutoff function, so messages vanish smoothly at the cutoff.

    Args:
        irreps_in: sender features ``h``.
        irreps_out: output features (one block per ``l``; the scalars first).
        lmax_sh: largest ``l`` of the edge spherical harmonics.
        num_basis: ``K``.
        radial_hidden: ``H`` (0: the radial weights are a linear map of the basis, like DeepDFT's filters).
        avg_num_neighbors: ``n``.

    Shapes:
        sender_features: ``(num_senders, irreps_in.dim)`` (:meth:`sender_features`);
        edges: ``(2, num_edges)``, row 0 sender (atom), row 1 receiver; sh: ``(num_edges, (lmax_sh+1)²)``;
        basis: ``(num_edges, K)``; envelope: ``(num_edges,)`` ``f_cut``;
        output: ``(num_receivers, irreps_out.dim)``.
    """

    def __init__(
        self,
        irreps_in: Irreps,
        irreps_out: Irreps,
        lmax_sh: int,
        num_basis: int,
        radial_hidden: int,
        avg_num_neighbors: float,
    ) -> None:
        super().__init__()
        self.irreps_in = irreps_in
        self.irreps_out = irreps_out
        self.avg_num_neighbors = float(avg_num_neighbors)
        self.pre_linear = IrrepsLinear(irreps_in, irreps_in)
        self.tensor_product = EdgeTensorProduct(irreps_in, lmax_sh, irreps_out.lmax)
        numel = self.tensor_product.weight_numel
        if radial_hidden > 0:
            self.radial = two_layer_mlp(num_basis, radial_hidden, numel, nn.SiLU())
        else:
            self.radial = nn.Linear(num_basis, numel)
        self.mix = PathMixing(self.tensor_product, irreps_out)

    def sender_features(self, h: torch.Tensor) -> torch.Tensor:
        """``x = W_pre h`` ``(num_senders, irreps_in.dim)`` in the m-major layout of the tensor product: per-sender
        work, once per structure."""
        return m_major(self.irreps_in, self.pre_linear(h))

    def forward(
        self,
        sender_features: torch.Tensor,
        edges: torch.Tensor,
        sh: torch.Tensor,
        basis: torch.Tensor,
        envelope: torch.Tensor,
        num_receivers: int,
    ) -> torch.Tensor:
        weights = self.radial(basis)  # (E, weight_numel)
        sh = sh * envelope[:, None]  # f_cut(d) Y(r̂): the product is linear in Y, and Y is narrower than w
        x = sender_features.index_select(0, edges[0])  # (E, irreps_in.dim)
        norm = self.avg_num_neighbors**-0.5
        summed = [  # per input block (num_receivers, K_b, mul_b)
            scatter_sum(messages, edges[1], num_receivers).mul_(norm)
            for messages in self.tensor_product(x, sh, weights)  # (E, K_b, mul_b), path layout
        ]
        return self.mix(summed)  # (num_receivers, irreps_out.dim)

    def extra_repr(self) -> str:
        return f"avg_num_neighbors={self.avg_num_neighbors}"


class PathMixing(nn.Module):
    """``W_mix``: the equivariant linear map from the summed tensor-product messages (path layout of
    :class:`~rhograph.nn.e3_tensor_product.EdgeTensorProduct`) to ``irreps_out``.

    .. math:: \\mathrm{out}^{l}_{v m} = \\frac{1}{\\sqrt{C_l}} \\sum_{(p, u):\\, l_3(p) = l} W^{l}_{(p u) v}\\,
        M^{p}_{u m} \\; (+\\, b_v \\text{ for } l = 0)

    over the ``C_l`` channels of all paths ``p`` that end in ``l`` (``W ~ N(0, 1)``).

    Shapes:
        messages: path layout, ``(N, K_b, mul_b)`` per input block of the tensor product;
        output: ``(N, irreps_out.dim)``.
    """

    def __init__(self, tensor_product: EdgeTensorProduct, irreps_out: Irreps) -> None:
        super().__init__()
        self.irreps_out = irreps_out
        # per output l: (column start of the block, rows, mul, first row of the path) of every path ending in l
        self.sources: dict[int, list[tuple[int, int, int]]] = {l: [] for _, l in irreps_out.blocks}
        for b, ((mul, _), paths) in enumerate(zip(tensor_product.irreps_in.blocks, tensor_product.paths, strict=True)):
            row = 0
            for _, l3 in paths:
                if l3 in self.sources:
                    self.sources[l3].append((b, row, mul))
                row += 2 * l3 + 1
        self.weights = nn.ParameterDict(
            {
                str(l): nn.Parameter(torch.randn(sum(mul_b for _, _, mul_b in self.sources[l]), mul))
                for mul, l in irreps_out.blocks
                if self.sources[l]
            }
        )
        self.bias = nn.Parameter(torch.zeros(irreps_out.mul_of(0)))

    def forward(self, messages: list[torch.Tensor]) -> torch.Tensor:
        num = messages[0].shape[0]
        out = []
        for mul, l in self.irreps_out.blocks:
            if str(l) not in self.weights:
                y = messages[0].new_zeros((num, 2 * l + 1, mul))
            else:
                weight = self.weights[str(l)]
                weight = weight * weight.shape[0] ** -0.5
                y = None
                channel = 0
                for b, row, mul_b in self.sources[l]:  # Σ over the paths ending in l of M^p W^p
                    term = torch.matmul(messages[b][:, row : row + 2 * l + 1], weight[channel : channel + mul_b])
                    y = term if y is None else y + term  # (N, 2l+1, mul)
                    channel += mul_b
            if l == 0:
                y = y + self.bias
            out.append(y.transpose(1, 2).reshape(num, mul * (2 * l + 1)))  # e3nn layout
        return torch.cat(out, dim=1)

    def extra_repr(self) -> str:
        paths = {l: len(src) for l, src in self.sources.items()}
        return f"paths per output l {paths} -> {self.irreps_out}"
