"""Symmetry checks for density models: invariance of ρ and equivariance of vector features.

All transforms act on atoms, cell and probes together; the graphs are rebuilt from the transformed
structure with :func:`rhograph.data.make_sample`, so the checks cover the neighbour lists as well.
"""

from __future__ import annotations

from collections.abc import Iterable

import ase
import numpy as np
import torch

from rhograph.data import collate, make_sample
from rhograph.models.density_model import AtomStates, DensityModel
from rhograph.testing.structures import _rng, random_reflection, random_rotation

#: transforms of :func:`assert_invariant`
TRANSFORMS = ("rotation", "reflection", "translation", "permutation", "lattice_shift")


def model_batch(
    model: DensityModel, atoms: ase.Atoms, probes: np.ndarray | None = None, *, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """The one-structure batch of ``atoms`` and ``probes`` in the model's dtype and cutoff."""
    sample = make_sample(atoms, probes, cutoff=float(model.config.cutoff))
    batch = collate([sample], dtype=model.dtype)
    return {key: value.to(device) for key, value in batch.items()}


def predict_density(model: DensityModel, atoms: ase.Atoms, probes: np.ndarray) -> np.ndarray:
    """Density (e/Å³) of ``model`` at ``probes`` ``(M, 3)`` Å of ``atoms``."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return model(model_batch(model, atoms, probes, device=device)).cpu().numpy()


def encode(model: DensityModel, atoms: ase.Atoms) -> AtomStates:
    """Atom states of ``atoms`` (no gradient)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return model.encode_atoms(model_batch(model, atoms, device=device))


def transformed(atoms: ase.Atoms, matrix: np.ndarray) -> ase.Atoms:
    """``atoms`` with positions and cell vectors mapped by the orthogonal ``matrix`` (``r ↦ M r``)."""
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ matrix.T, scale_atoms=False)
    out.positions = atoms.positions @ matrix.T
    return out


def _check(name: str, reference: np.ndarray, value: np.ndarray, atol: float, rtol: float) -> None:
    if not np.allclose(value, reference, atol=atol, rtol=rtol):
        worst = float(np.max(np.abs(value - reference))) if reference.size else 0.0
        raise AssertionError(
            f"density is not invariant under {name}: max |Δρ| = {worst:.3e} (atol={atol:g}, rtol={rtol:g})"
        )


def assert_invariant(
    model: DensityModel,
    atoms: ase.Atoms,
    probes: np.ndarray,
    *,
    transforms: Iterable[str] = TRANSFORMS,
    rng: np.random.Generator | int | None = 0,
    atol: float = 1e-10,
    rtol: float = 1e-8,
) -> np.ndarray:
    """Assert that ρ at the probes is unchanged by symmetry operations of the whole system.

    Args:
        model: a density model (use float64 for tight tolerances).
        atoms: the structure (periodic or not).
        probes: ``(M, 3)`` probe positions in Å.
        transforms: any of :data:`TRANSFORMS`: ``rotation`` / ``reflection`` (atoms, cell and probes),
            ``translation`` (atoms and probes), ``permutation`` (atom order), ``lattice_shift`` (atoms moved
            by random integer combinations of the periodic cell vectors; skipped for molecules).
        rng: random generator or seed for the transforms.
        atol, rtol: tolerances of ``np.allclose``.

    Returns:
        the reference density ``(M,)``.

    Raises:
        AssertionError: naming the transform and the largest deviation.
        ValueError: an unknown transform name.
    """
    transforms = tuple(transforms)
    unknown = sorted(set(transforms) - set(TRANSFORMS))
    if unknown:
        raise ValueError(f"unknown transform(s) {unknown}; choose from {list(TRANSFORMS)}")
    gen = _rng(rng)
    probes = np.asarray(probes, dtype=np.float64)
    reference = predict_density(model, atoms, probes)
    for name in transforms:
        if name in ("rotation", "reflection"):
            matrix = random_rotation(gen) if name == "rotation" else random_reflection(gen)
            value = predict_density(model, transformed(atoms, matrix), probes @ matrix.T)
        elif name == "translation":
            shift = gen.normal(scale=3.0, size=3)
            moved = atoms.copy()
            moved.positions = atoms.positions + shift
            value = predict_density(model, moved, probes + shift)
        elif name == "permutation":
            value = predict_density(model, atoms[gen.permutation(len(atoms))], probes)
        else:
            if not atoms.pbc.any():
                continue
            integers = gen.integers(-2, 3, size=(len(atoms), 3)) * atoms.pbc
            moved = atoms.copy()
            moved.positions = atoms.positions + integers @ atoms.cell.array
            value = predict_density(model, moved, probes)
        _check(name, reference, value, atol, rtol)
    return reference


def assert_equivariant_vectors(
    model: DensityModel,
    atoms: ase.Atoms,
    *,
    rng: np.random.Generator | int | None = 0,
    reflection: bool = True,
    atol: float = 1e-10,
    rtol: float = 1e-8,
) -> None:
    """Assert that atom vector states rotate with the structure and scalar states do not change.

    For an orthogonal ``R`` applied to positions and cell, every layer must give
    ``v'_n = R v_n`` (vectors ``(num_atoms, 3, F)``) and ``s'_n = s_n``. With ``reflection=True`` an improper
    ``R`` (det −1) is checked too (PaiNN vectors are polar vectors). An encoder whose vector states are
    other representations (e.g. irreps features of the ``e3`` architecture) defines
    ``rotate_vector_state(vector, matrix)``, the state expected for the transformed structure; it is used
    instead of ``R v``.

    Raises:
        ValueError: the model has no vector states (invariant architecture).
        AssertionError: naming the layer, the state and the largest deviation.
    """
    gen = _rng(rng)
    states = encode(model, atoms)
    if states.vector is None:
        raise ValueError(f"{model.config.describe()} has no vector states to check")
    matrices = [("rotation", random_rotation(gen))]
    if reflection:
        matrices.append(("reflection", random_reflection(gen)))
    for name, matrix in matrices:
        moved = encode(model, transformed(atoms, matrix))
        assert moved.vector is not None
        rot = torch.as_tensor(matrix, dtype=states.vector[0].dtype, device=states.vector[0].device)
        for layer, (s, v, s2, v2) in enumerate(
            zip(states.scalar, states.vector, moved.scalar, moved.vector, strict=True)
        ):
            rotate = getattr(model.atom_model, "rotate_vector_state", None)
            expected_v = rotate(v, rot) if rotate is not None else torch.einsum("ij,njf->nif", rot, v)
            for label, got, want in (("scalar", s2, s), ("vector", v2, expected_v)):
                if not torch.allclose(got, want, atol=atol, rtol=rtol):
                    worst = float((got - want).abs().max())
                    raise AssertionError(
                        f"{label} states of atom layer {layer + 1} are not equivariant under {name}: "
                        f"max deviation {worst:.3e}"
                    )
