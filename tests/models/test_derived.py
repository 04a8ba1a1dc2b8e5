"""Derived fields by autograd: gradcheck, finite differences, Hessian symmetry, IRI and DORI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rhograph import keys
from rhograph.models.derived import FIELDS, derived_fields
from rhograph.testing import (
    model_batch,
    predict_density,
    random_probes,
    small_molecule,
    small_periodic_cell,
    tiny_model,
)

ARCHS = ["deepdft-schnet", "deepdft-painn"]


def positive_model(preset: str):
    """A tiny model whose density is positive at the test probes (IRI and DORI need ρ > 0)."""
    model = tiny_model(preset, seed=4)
    with torch.no_grad():
        model.probe_model.readout_function[2].bias += 2.0
    return model


@pytest.mark.parametrize("preset", ARCHS)
def test_gradcheck_wrt_probe_positions(preset) -> None:
    model = tiny_model(preset, seed=1)
    atoms = small_periodic_cell(1)
    batch = model_batch(model, atoms, random_probes(atoms, 4, 1))
    states = model.encode_atoms(batch)

    def density(positions: torch.Tensor) -> torch.Tensor:
        return model.decode_probes(states, {**batch, keys.PROBE_POSITIONS: positions})

    positions = batch[keys.PROBE_POSITIONS].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(density, (positions,), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradgradcheck(density, (positions,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("preset", ARCHS)
def test_gradient_and_hessian_match_finite_differences(preset) -> None:
    model = positive_model(preset)
    atoms = small_molecule(2)
    probes = random_probes(atoms, 5, 2)
    batch = model_batch(model, atoms, probes)
    out = derived_fields(model, model.encode_atoms(batch), batch, fields=FIELDS)
    step = 1e-5
    fd_grad = np.zeros((5, 3))
    fd_hess = np.zeros((5, 3, 3))
    for axis in range(3):
        shift = np.zeros(3)
        shift[axis] = step
        up, down = model_batch(model, atoms, probes + shift), model_batch(model, atoms, probes - shift)
        fd_grad[:, axis] = (
            predict_density(model, atoms, probes + shift) - predict_density(model, atoms, probes - shift)
        ) / (2 * step)
        g_up = derived_fields(model, model.encode_atoms(up), up)["gradient"].numpy()
        g_down = derived_fields(model, model.encode_atoms(down), down)["gradient"].numpy()
        fd_hess[:, :, axis] = (g_up - g_down) / (2 * step)
    np.testing.assert_allclose(out["density"].numpy(), predict_density(model, atoms, probes), rtol=1e-12)
    np.testing.assert_allclose(out["gradient"].numpy(), fd_grad, rtol=1e-5, atol=1e-8)
    hessian = out["hessian"].numpy()
    np.testing.assert_allclose(hessian, fd_hess, rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(hessian, hessian.transpose(0, 2, 1))
    np.testing.assert_allclose(out["hessian_eigenvalues"].numpy(), np.linalg.eigvalsh(hessian), atol=1e-12)


@pytest.mark.parametrize("preset", ARCHS)
def test_raw_hessian_is_symmetric(preset) -> None:
    model = tiny_model(preset, seed=6)
    atoms = small_periodic_cell(6)
    batch = model_batch(model, atoms, random_probes(atoms, 6, 6))
    states = model.encode_atoms(batch)
    positions = batch[keys.PROBE_POSITIONS].clone().requires_grad_(True)
    rho = model.decode_probes(states, {**batch, keys.PROBE_POSITIONS: positions})
    (grad,) = torch.autograd.grad(rho.sum(), positions, create_graph=True)
    rows = [torch.autograd.grad(grad[:, a].sum(), positions, retain_graph=True)[0] for a in range(3)]
    raw = torch.stack(rows, dim=1).detach().numpy()
    np.testing.assert_allclose(raw, raw.transpose(0, 2, 1), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("preset", ARCHS)
def test_iri_and_dori(preset) -> None:
    model = positive_model(preset)
    atoms = small_periodic_cell(3)
    batch = model_batch(model, atoms, random_probes(atoms, 7, 3))
    with torch.inference_mode():  # as the grid engine encodes
        states = model.encode_atoms(batch)
    full = derived_fields(model, states, batch, fields=FIELDS)
    rho, g, h = (full[name].numpy() for name in ("density", "gradient", "hessian"))
    assert (rho > 0).all()
    np.testing.assert_allclose(full["iri"].numpy(), np.linalg.norm(g, axis=1) / rho**1.1, rtol=1e-12)
    # DORI through autograd of |∇ρ/ρ|² (no Hessian requested) equals DORI from the Hessian.
    only = derived_fields(model, states, batch, fields=("dori",))
    np.testing.assert_allclose(only["dori"].numpy(), full["dori"].numpy(), rtol=1e-9)
    q = (g**2).sum(1) / rho**2
    grad_q = 2 * np.einsum("mab,mb->ma", h, g) / rho[:, None] ** 2 - 2 * ((g**2).sum(1) / rho**3)[:, None] * g
    theta = (grad_q**2).sum(1) / q**3
    np.testing.assert_allclose(full["dori"].numpy(), theta / (1 + theta), rtol=1e-9)
    assert ((full["dori"] >= 0) & (full["dori"] <= 1)).all()


def test_finite_fields_as_written_by_grid_prediction() -> None:
    """``finite=True``: IRI with ρ floored at RHO_FLOOR where a model predicts ρ ≤ 0, DORI 0 where ∇ρ = 0; equal
    to the plain fields elsewhere."""
    from rhograph.models.derived import RHO_FLOOR

    model = tiny_model("deepdft-painn")  # no clamp: negative densities occur
    atoms = small_periodic_cell(3)
    batch = model_batch(model, atoms, random_probes(atoms, 40, 5))
    with torch.inference_mode():
        states = model.encode_atoms(batch)
    plain = derived_fields(model, states, batch, fields=("iri", "dori", "gradient"))
    finite = derived_fields(model, states, batch, fields=("iri", "dori", "gradient"), finite=True)
    rho, g = plain["density"].numpy(), plain["gradient"].numpy()
    expected = np.linalg.norm(g, axis=1) / np.maximum(rho, RHO_FLOOR) ** 1.1
    np.testing.assert_allclose(finite["iri"].numpy(), expected, rtol=1e-12)
    assert np.isfinite(finite["iri"].numpy()).all() and np.isfinite(finite["dori"].numpy()).all()
    ok = np.isfinite(plain["dori"].numpy())
    np.testing.assert_array_equal(finite["dori"].numpy()[ok], plain["dori"].numpy()[ok])
    np.testing.assert_array_equal(finite["dori"].numpy()[~ok], 0.0)


def test_derived_fields_errors_and_empty_batches() -> None:
    model = tiny_model("deepdft-painn")
    atoms = small_molecule(0)
    batch = model_batch(model, atoms, np.zeros((0, 3)))
    states = model.encode_atoms(batch)
    out = derived_fields(model, states, batch, fields=("gradient", "hessian_eigenvalues"))
    assert out["gradient"].shape == (0, 3) and out["hessian_eigenvalues"].shape == (0, 3)
    with pytest.raises(ValueError, match="laplacian"):
        derived_fields(model, states, batch, fields=("laplacian",))
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        derived_fields(model, states, batch)
