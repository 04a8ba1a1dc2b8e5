"""Fields derived from the predicted density by automatic differentiation with respect to probe positions.

For a probe batch and encoded atom states (:meth:`DensityModel.encode_atoms`):

* ``gradient``: ``∇ρ`` ``(M, 3)`` in e/Å⁴;
* ``hessian``: ``∂²ρ/∂r_a∂r_b`` ``(M, 3, 3)`` in e/Å⁵ (symmetrised), ``hessian_eigenvalues`` ``(M, 3)``
  ascending;
* ``iri``: interaction region indicator ``|∇ρ| / ρ^1.1``;
* ``dori``: density overlap regions indicator ``θ / (1 + θ)`` with
  ``θ = |∇(|∇ρ/ρ|²)|² / |∇ρ/ρ|⁶``.

As in the released predict script, ``ρ`` is used as predicted (the model does not force ``ρ > 0``):
``iri`` is NaN where ``ρ < 0`` and ``dori`` is NaN where ``∇ρ = 0``. With ``finite=True`` (what full-grid
prediction writes) ``iri`` uses ``ρ`` floored at :data:`RHO_FLOOR` and ``dori`` is 0 where ``∇ρ = 0`` (e.g.
beyond every atom's cutoff) — the one definition of the written fields. Each probe's density depends only on
its own position, so derivatives of the sum over probes give every probe's derivatives at once.
"""

from __future__ import annotations

import torch

from rhograph import keys
from rhograph.models.density_model import AtomStates, DensityModel

#: fields :func:`derived_fields` can compute (besides ``density``)
FIELDS = ("gradient", "hessian", "hessian_eigenvalues", "iri", "dori")
_SECOND_ORDER = ("hessian", "hessian_eigenvalues")
#: density floor (e/Å³) of IRI = |∇ρ|/ρ^1.1 with ``finite=True``, where a model predicts ρ ≤ 0
RHO_FLOOR = 1e-8


def _usable_states(states: AtomStates) -> AtomStates:
    # States encoded under torch.inference_mode cannot take part in autograd; a clone outside it can.
    return states.apply(lambda t: t.clone() if t.is_inference() else t)


def density_with_gradient(
    model: DensityModel, states: AtomStates, batch: dict[str, torch.Tensor], *, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(ρ (M,), ∇ρ (M, 3), probe positions (M, 3) the graph starts from)``.

    With ``create_graph=True`` the gradient is differentiable again (for Hessians).
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError("derived fields need autograd; call them outside torch.inference_mode()")
    states = _usable_states(states)
    positions = batch[keys.PROBE_POSITIONS].detach().to(model.dtype).clone().requires_grad_(True)
    probe_batch = dict(batch)
    probe_batch[keys.PROBE_POSITIONS] = positions
    with torch.enable_grad():
        rho = model.decode_probes(states, probe_batch)
        (gradient,) = torch.autograd.grad(rho.sum(), positions, create_graph=create_graph, allow_unused=True)
    if gradient is None:  # no probes or no dependence at all
        gradient = torch.zeros_like(positions)
    return rho, gradient, positions


def hessian_from_gradient(gradient: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Hessian ``(M, 3, 3)`` from a gradient computed with ``create_graph=True`` (symmetrised)."""
    rows = []
    with torch.enable_grad():
        for axis in range(3):
            component = gradient[:, axis]
            if component.requires_grad:
                (row,) = torch.autograd.grad(component.sum(), positions, retain_graph=True, allow_unused=True)
            else:
                row = None
            rows.append(torch.zeros_like(positions) if row is None else row)
    hessian = torch.stack(rows, dim=1)  # (M, 3, 3)
    return 0.5 * (hessian + hessian.transpose(1, 2))


def iri(rho: torch.Tensor, gradient: torch.Tensor, floor: float | None = None) -> torch.Tensor:
    """Interaction region indicator ``|∇ρ| / ρ^1.1`` ``(M,)`` (``ρ`` floored at ``floor`` if given)."""
    return torch.linalg.vector_norm(gradient, dim=1) / (rho if floor is None else rho.clamp_min(floor)).pow(1.1)


def dori_from_hessian(rho: torch.Tensor, gradient: torch.Tensor, hessian: torch.Tensor) -> torch.Tensor:
    """DORI ``(M,)`` from ``ρ``, ``∇ρ`` and the Hessian, using ``∇q = 2Hg/ρ² − 2|g|²g/ρ³`` for ``q = |g/ρ|²``."""
    g2 = (gradient * gradient).sum(dim=1)  # (M,)
    hg = torch.einsum("mab,mb->ma", hessian, gradient)  # (M, 3)
    grad_q = 2.0 * hg / rho.square().unsqueeze(1) - 2.0 * (g2 / rho.pow(3)).unsqueeze(1) * gradient
    return _dori(g2 / rho.square(), grad_q)


def _dori(q: torch.Tensor, grad_q: torch.Tensor) -> torch.Tensor:
    theta = (grad_q * grad_q).sum(dim=1) / q.pow(3)
    return theta / (1.0 + theta)


def derived_fields(
    model: DensityModel,
    states: AtomStates,
    batch: dict[str, torch.Tensor],
    fields: tuple[str, ...] = ("gradient",),
    *,
    finite: bool = False,
) -> dict[str, torch.Tensor]:
    """ρ and the requested derived fields at the probes of ``batch`` (detached tensors).

    Args:
        model: the density model.
        states: ``model.encode_atoms(batch)`` (may come from ``torch.inference_mode``).
        batch: probe batch (see :meth:`DensityModel.decode_probes`).
        fields: any of :data:`FIELDS`.
        finite: IRI with ρ floored at :data:`RHO_FLOOR`, DORI 0 where it is 0/0 (module docstring).

    Returns:
        dict with ``density (M,)`` and each requested field (shapes in the module docstring).

    Raises:
        ValueError: an unknown field name.
    """
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown derived field(s) {unknown}; choose from {list(FIELDS)}")
    second_order = any(name in _SECOND_ORDER for name in fields)
    need_graph = second_order or "dori" in fields
    rho, gradient, positions = density_with_gradient(model, states, batch, create_graph=need_graph)
    out: dict[str, torch.Tensor] = {"density": rho.detach()}
    if "gradient" in fields:
        out["gradient"] = gradient.detach()
    if "iri" in fields:
        out["iri"] = iri(rho, gradient, RHO_FLOOR if finite else None).detach()
    hessian = None
    if second_order:
        hessian = hessian_from_gradient(gradient, positions)
        if "hessian" in fields:
            out["hessian"] = hessian.detach()
        if "hessian_eigenvalues" in fields:
            out["hessian_eigenvalues"] = torch.linalg.eigvalsh(hessian.detach())
    if "dori" in fields:
        if hessian is not None:
            out["dori"] = dori_from_hessian(rho, gradient, hessian).detach()
        else:
            with torch.enable_grad():
                q = (gradient * gradient).sum(dim=1) / rho.square()
                if q.requires_grad:
                    (grad_q,) = torch.autograd.grad(q.sum(), positions, allow_unused=True)
                else:
                    grad_q = None
            if grad_q is None:
                grad_q = torch.zeros_like(positions)
            out["dori"] = _dori(q, grad_q).detach()
    if finite and "dori" in out:
        out["dori"] = torch.nan_to_num(out["dori"], nan=0.0, posinf=1.0)
    return out
