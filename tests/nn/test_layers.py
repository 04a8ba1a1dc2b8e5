"""Layers of rhograph.nn against their equations, evaluated independently with numpy / explicit loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rhograph.nn import (
    CosineCutoff,
    GaussianBasis,
    PaiNNInteraction,
    PaiNNProbeMessage,
    PaiNNUpdate,
    SchNetInteraction,
    SchNetMessageFunction,
    ShiftedSoftplus,
    SincBasis,
    SoftCutoff,
    edge_vectors,
    gated_update,
    scatter_sum,
)


@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(previous)


def test_sinc_basis_matches_formula_and_is_finite_at_zero() -> None:
    basis = SincBasis(30, 4.0)
    assert basis.num_basis == 30 and SincBasis(20, 4.0)(torch.tensor([1.0])).shape == (1, 20)
    d = torch.tensor([0.0, 0.3, 1.7, 3.99, 4.0])
    values = basis(d).numpy()
    n = np.arange(1, 31)
    expected = np.sin(n * np.pi * d.numpy()[1:, None] / 4.0) / d.numpy()[1:, None]
    np.testing.assert_allclose(values[1:], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(values[0], n * np.pi / 4.0, rtol=1e-12)
    assert basis.state_dict() == {}  # no persistent buffers (released checkpoints have none)


def test_gaussian_basis_centres_and_width() -> None:
    basis = GaussianBasis(4.0, 0.1)
    assert basis.num_basis == 40
    d = torch.tensor([0.0, 0.55, 3.95])
    centres = np.arange(40) * 0.1
    expected = np.exp(-((d.numpy()[:, None] - centres) ** 2) / (2 * 0.1**2))
    np.testing.assert_allclose(basis(d).numpy(), expected, rtol=1e-12, atol=1e-300)
    assert GaussianBasis(3.0, 0.1).num_basis == 30


def test_cutoffs() -> None:
    cosine = CosineCutoff(4.0)
    np.testing.assert_allclose(cosine(torch.tensor([0.0, 2.0, 4.0, 5.0])).numpy(), [1.0, 0.5, 0.0, 0.0], atol=1e-15)
    soft = SoftCutoff(4.0)
    d = np.array([0.0, 2.5, 4.0])
    np.testing.assert_allclose(soft(torch.tensor(d)).numpy(), 1 - 1 / (1 + np.exp(-5 * (d - 2.5))), rtol=1e-12)


def test_shifted_softplus() -> None:
    x = torch.tensor([-3.0, 0.0, 2.0])
    np.testing.assert_allclose(ShiftedSoftplus()(x).numpy(), np.log1p(np.exp(x.numpy())) - math.log(2), rtol=1e-12)


def test_scatter_sum_and_empty() -> None:
    src = torch.randn(7, 2, 3)
    index = torch.tensor([0, 3, 3, 1, 0, 3, 1])
    out = scatter_sum(src, index, 5)
    for i in range(5):
        np.testing.assert_allclose(out[i].numpy(), src[index == i].sum(0).numpy(), atol=1e-14)
    assert scatter_sum(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), 3).shape == (3, 4)


def test_edge_vectors_single_and_batched_cells() -> None:
    positions = torch.randn(4, 3)
    receivers = torch.randn(5, 3)
    cells = torch.randn(2, 3, 3)
    edges = torch.tensor([[0, 1, 3, 2], [4, 0, 2, 1]])
    offsets = torch.tensor([[1.0, 0, -1], [0, 0, 0], [2, 1, 0], [0, -1, 0]])
    structure = torch.tensor([0, 1, 1, 0])
    got = edge_vectors(receivers, positions, edges, offsets, cells, structure)
    for e in range(4):
        cell = cells[structure[e]]
        want = receivers[edges[1, e]] - (positions[edges[0, e]] + offsets[e] @ cell)
        np.testing.assert_allclose(got[e].numpy(), want.numpy(), atol=1e-14)
    single = edge_vectors(receivers, positions, edges, offsets, cells[:1], None)
    np.testing.assert_allclose(
        single.numpy(),
        edge_vectors(receivers, positions, edges, offsets, cells[[0, 0]], torch.zeros(4, dtype=torch.long)).numpy(),
        atol=1e-14,
    )


def test_schnet_message_split_equals_concatenation() -> None:
    F = 6
    layer = SchNetMessageFunction(F, 5, 3.0)
    senders, receivers = torch.randn(4, F), torch.randn(3, F)
    edges = torch.tensor([[0, 1, 3, 3, 2], [2, 0, 1, 2, 2]])
    basis, distance = torch.rand(5, 5), torch.rand(5) * 3
    got = layer(layer.project_senders(senders), layer.project_receivers(receivers), edges, basis, distance)
    joined = torch.cat((senders[edges[0]], receivers[edges[1]]), dim=1)
    soft = 1 - torch.sigmoid(5 * (distance - 1.5))
    want = layer.msg_function_node(joined) * layer.msg_function_edge(basis) * soft[:, None]
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-14)
    # receiver projection None stands for zero receiver states
    zero = layer(layer.project_senders(senders), None, edges, basis, distance)
    full = layer(layer.project_senders(senders), layer.project_receivers(torch.zeros(3, F)), edges, basis, distance)
    np.testing.assert_allclose(zero.detach().numpy(), full.detach().numpy(), atol=1e-15)


def test_schnet_interaction_is_residual_over_message_sum() -> None:
    F = 5
    layer = SchNetInteraction(F, 4, 3.0)
    h = torch.randn(3, F)
    edges = torch.tensor([[0, 1, 2, 0], [1, 0, 0, 2]])
    basis, distance = torch.rand(4, 4), torch.rand(4) * 3
    mf = layer.message_sum_module.message_function
    msgs = mf(mf.project_senders(h), mf.project_receivers(h), edges, basis, distance)
    summed = torch.stack([msgs[edges[1] == i].sum(0) for i in range(3)])
    want = h + layer.state_transition_function(summed)
    np.testing.assert_allclose(layer(h, edges, basis, distance).detach().numpy(), want.detach().numpy(), atol=1e-13)


def _painn_messages(layer, s, v, edges, basis, fcut, unit, n_recv):
    """Per-edge loop of the released message equations (scalar message carries s_j)."""
    F = layer.node_size
    ms, mv = torch.zeros(n_recv, F), torch.zeros(n_recv, 3, F)
    for e in range(edges.shape[1]):
        j, i = edges[0, e].item(), edges[1, e].item()
        x = layer.filter_layer(basis[e]) * fcut[e] * layer.scalar_message_mlp(s[j])
        g_sv, g_ev, g_s = x[:F], x[F : 2 * F], x[2 * F :]
        ms[i] += s[j] * g_s
        mv[i] += v[j] * g_sv[None, :] + g_ev[None, :] * unit[e][:, None]
    return ms, mv


def test_painn_interaction_matches_edge_loop() -> None:
    F = 4
    layer = PaiNNInteraction(F, 6)
    s, v = torch.randn(3, F), torch.randn(3, 3, F)
    edges = torch.tensor([[0, 1, 2, 0, 2], [1, 0, 0, 2, 1]])
    basis, fcut = torch.randn(5, 6), torch.rand(5)
    unit = torch.nn.functional.normalize(torch.randn(5, 3), dim=1)
    ms, mv = _painn_messages(layer, s, v, edges, basis, fcut, unit, 3)
    radial = layer.radial_features(basis, fcut)
    new_s, new_v = layer(s, v, edges, radial, unit)
    np.testing.assert_allclose(new_s.detach().numpy(), (s + ms).detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(new_v.detach().numpy(), (v + mv).detach().numpy(), atol=1e-13)
    zero_s, zero_v = layer(s, None, edges, radial, unit)
    ref_s, ref_v = layer(s, torch.zeros(3, 3, F), edges, radial, unit)
    np.testing.assert_allclose(zero_v.detach().numpy(), ref_v.detach().numpy(), atol=1e-14)
    np.testing.assert_allclose(zero_s.detach().numpy(), ref_s.detach().numpy(), atol=1e-14)


def test_painn_update_equations() -> None:
    F = 5
    layer = PaiNNUpdate(F)
    s, v = torch.randn(4, F), torch.randn(4, 3, F)
    uv = v @ layer.linearU.weight.T
    vv = v @ layer.linearV.weight.T
    norm = torch.sqrt((vv**2).sum(1))
    a = layer.combined_mlp(torch.cat((s, norm), 1))
    a_ss, a_sv, a_vv = a[:, :F], a[:, F : 2 * F], a[:, 2 * F :]
    new_s, new_v = layer(s, v)
    np.testing.assert_allclose(
        new_s.detach().numpy(), (s + a_ss + a_sv * (uv * vv).sum(1)).detach().numpy(), atol=1e-13
    )
    np.testing.assert_allclose(new_v.detach().numpy(), (v + a_vv[:, None, :] * uv).detach().numpy(), atol=1e-13)


def test_painn_probe_gates_from_message_sum() -> None:
    F = 4
    layer = PaiNNProbeMessage(F, 5)
    s_atoms, v_atoms = torch.randn(3, F), torch.randn(3, 3, F)
    s_p, v_p = torch.randn(2, F), torch.randn(2, 3, F)
    edges = torch.tensor([[0, 1, 2, 1], [0, 0, 1, 1]])
    basis, fcut = torch.randn(4, 5), torch.rand(4)
    unit = torch.nn.functional.normalize(torch.randn(4, 3), dim=1)
    ms, mv = _painn_messages(layer, s_atoms, v_atoms, edges, basis, fcut, unit, 2)
    gates = layer.update_gate_mlp(ms)
    g_s, g_v = gates[:, :F], gates[:, F:]
    want_s = g_s * s_p + (1 - g_s) * ms
    want_v = g_v[:, None, :] * v_p + (1 - g_v[:, None, :]) * mv
    radial = layer.radial_features(basis, fcut)
    got_s, got_v = layer(layer.sender_features(s_atoms), v_atoms, s_p, v_p, edges, radial, unit, 2)
    np.testing.assert_allclose(got_s.detach().numpy(), want_s.detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(got_v.detach().numpy(), want_v.detach().numpy(), atol=1e-13)
    zero_s, _ = layer(layer.sender_features(s_atoms), v_atoms, None, None, edges, radial, unit, 2)
    ref_s, _ = layer(
        layer.sender_features(s_atoms), v_atoms, torch.zeros(2, F), torch.zeros(2, 3, F), edges, radial, unit, 2
    )
    np.testing.assert_allclose(zero_s.detach().numpy(), ref_s.detach().numpy(), atol=1e-14)


def test_gated_update() -> None:
    state, gate, cand = torch.randn(3, 2), torch.rand(3, 2), torch.randn(3, 2)
    np.testing.assert_allclose(gated_update(state, gate, cand).numpy(), (gate * state + (1 - gate) * cand).numpy())
    np.testing.assert_allclose(gated_update(None, gate, cand).numpy(), ((1 - gate) * cand).numpy())


def test_layers_state_dict_names_follow_released_code() -> None:
    assert set(SchNetInteraction(4, 3, 3.0).state_dict()) == {
        f"{prefix}.{i}.{p}"
        for prefix in (
            "message_sum_module.message_function.msg_function_edge",
            "message_sum_module.message_function.msg_function_node",
            "state_transition_function",
        )
        for i in (0, 2)
        for p in ("weight", "bias")
    }
    assert set(PaiNNUpdate(4).state_dict()) == {
        "linearU.weight",
        "linearV.weight",
        "combined_mlp.0.weight",
        "combined_mlp.0.bias",
        "combined_mlp.2.weight",
        "combined_mlp.2.bias",
    }


def test_spatial_norm_and_inplace_helpers_keep_autograd_correct() -> None:
    from rhograph.nn.ops import mul_into, spatial_norm

    v = torch.randn(4, 3, 5, requires_grad=True)
    np.testing.assert_allclose(
        spatial_norm(v).detach().numpy(), torch.linalg.vector_norm(v, dim=1).detach().numpy(), rtol=1e-14
    )
    zero = torch.zeros(2, 3, 5, requires_grad=True)
    spatial_norm(zero).sum().backward()
    assert torch.equal(zero.grad, torch.zeros_like(zero))  # no NaN for a zero vector (probes no atom reaches)
    a, b = torch.randn(3, requires_grad=True), torch.randn(3)
    out = mul_into(a * 1.0, b)
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.numpy())
    with torch.no_grad():
        temp = torch.ones(3)
        assert mul_into(temp, b) is temp
