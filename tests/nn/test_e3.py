"""Layers of the higher-order equivariant model (rhograph.nn.e3_*): the fused tensor product against e3nn's, exact
coefficients in float64, and the equivariance of every layer for l = 0..4."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("e3nn")

from e3nn import o3

from rhograph.nn.e3_convolution import TensorProductConvolution
from rhograph.nn.e3_gate import Gate
from rhograph.nn.e3_irreps import Irreps, spherical_harmonics
from rhograph.nn.e3_linear import IrrepsLinear
from rhograph.nn.e3_tensor_product import EdgeTensorProduct, m_major


@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _rotation(seed: int, improper: bool = False) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(seed)))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return torch.diag(torch.tensor([-1.0, 1.0, 1.0])) @ q if improper else q


@pytest.mark.parametrize(
    ("blocks", "lmax_sh", "lmax_out"), [(((3, 0), (2, 1), (2, 2)), 2, 2), (((2, 0), (3, 3)), 4, 4)]
)
def test_tensor_product_equals_e3nn(blocks, lmax_sh: int, lmax_out: int) -> None:
    irreps = Irreps(blocks)
    tp = EdgeTensorProduct(irreps, lmax_sh, lmax_out)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(7, irreps.dim, generator=gen)
    sh = spherical_harmonics(lmax_sh)(torch.nn.functional.normalize(torch.randn(7, 3, generator=gen), dim=1))
    weights = torch.randn(7, tp.weight_numel, generator=gen)
    irreps_mid, ours = tp.to_irreps(tp(m_major(irreps, x), sh, weights))
    instructions = []
    for b, paths in enumerate(tp.paths):
        for l2, _ in paths:
            instructions.append((b, l2, len(instructions), "uvu", True))
    reference = o3.TensorProduct(
        irreps.to_e3nn(),
        o3.Irreps.spherical_harmonics(lmax_sh),
        irreps_mid.to_e3nn(),
        instructions,
        shared_weights=False,
        internal_weights=False,
    )
    torch.testing.assert_close(ours, reference(x, sh, weights), rtol=1e-12, atol=1e-12)


def test_tensor_product_paths_keep_natural_parity() -> None:
    tp = EdgeTensorProduct(Irreps.hidden(1, 1, 2), 2, 2)
    assert tp.paths[1] == [(0, 1), (1, 0), (1, 2), (2, 1)]  # no 1o ⊗ 1o → 1e, no 1o ⊗ 2e → 2o
    assert sum(len(p) for p in tp.paths) == 11


def test_coefficients_are_rounded_from_float64_after_dtype_changes() -> None:
    torch.set_default_dtype(torch.float32)
    tp = EdgeTensorProduct(Irreps.hidden(2, 2, 3), 3, 3).double()
    assert tp.state_dict() == {}  # coefficients are not stored in checkpoints
    assert tp.coefficients.dtype == torch.float64
    assert torch.equal(tp.coefficients, tp._coefficients64)
    assert not torch.equal(tp.coefficients, tp._coefficients64.float().double())  # not a float32 copy


@pytest.mark.parametrize("lmax", [1, 2, 3, 4])
def test_layers_are_equivariant(lmax: int) -> None:
    torch.manual_seed(lmax)
    irreps = Irreps.hidden(5, 3, lmax)
    gate = Gate(irreps)
    linear = IrrepsLinear(irreps, gate.irreps_in, bias=True)
    conv = TensorProductConvolution(irreps, gate.irreps_in, lmax, num_basis=4, radial_hidden=6, avg_num_neighbors=3)
    harmonics = spherical_harmonics(lmax)
    x = torch.randn(4, irreps.dim)
    vectors = torch.randn(9, 3)
    edges = torch.randint(0, 4, (2, 9))
    basis, envelope = torch.randn(9, 4), torch.rand(9)

    def model(features: torch.Tensor, edge_vectors: torch.Tensor) -> torch.Tensor:
        sh = harmonics(torch.nn.functional.normalize(edge_vectors, dim=1))
        messages = conv(conv.sender_features(features), edges, sh, basis, envelope, 4)
        return gate(linear(features) + messages)

    reference = model(x, vectors)
    for seed, improper in ((1, False), (2, True)):
        matrix = _rotation(seed, improper)
        d_in, d_out = irreps.rotation(matrix), irreps.rotation(matrix)
        torch.testing.assert_close(model(x @ d_in.T, vectors @ matrix.T), reference @ d_out.T, rtol=1e-10, atol=1e-12)
    for _, l, start, stop in irreps.slices():  # every l contributes (the check is not vacuous)
        assert reference[:, start:stop].abs().max() > 1e-3, l
