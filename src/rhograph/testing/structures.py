"""Tiny structures, probes and models for tests (deterministic given a seed or generator)."""

from __future__ import annotations

from typing import Any

import ase
import numpy as np
import torch

from rhograph.models.baseline import AtomicDensityTables, gaussian_tables
from rhograph.models.config import ModelConfig
from rhograph.models.density_model import DensityModel
from rhograph.models.registry import ARCHITECTURES, PRESETS

#: config fields of the tiny test model of every preset and architecture (from the registry's ``tiny``)
TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    **{name: dict(ARCHITECTURES[p.architecture].tiny) for name, p in PRESETS.items()},
    **{name: dict(spec.tiny) for name, spec in ARCHITECTURES.items()},
}
#: elements of the stand-in baseline of tiny models (every element the test structures use)
TINY_BASELINE_ELEMENTS = tuple(range(1, 87))


def tiny_baseline(cutoff: float) -> AtomicDensityTables:
    """Gaussian stand-in free-atom tables for Z = 1..86 (:func:`~rhograph.models.baseline.gaussian_tables`)."""
    return gaussian_tables(TINY_BASELINE_ELEMENTS, cutoff)


def _rng(rng: np.random.Generator | int | None, stream: int = 0) -> np.random.Generator:
    """A generator; integer seeds are combined with a per-helper ``stream`` so that helpers called with the
    same seed draw independent numbers (e.g. probes never coincide with atom positions)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(None if rng is None else [stream, rng])


def random_rotation(rng: np.random.Generator | int | None = None) -> np.ndarray:
    """A uniformly random proper rotation matrix ``(3, 3)`` (det = +1)."""
    gen = _rng(rng, 1)
    q, r = np.linalg.qr(gen.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))  # Haar-uniform orthogonal
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def random_reflection(rng: np.random.Generator | int | None = None) -> np.ndarray:
    """A random improper orthogonal matrix ``(3, 3)`` (det = −1): a rotation followed by a mirror."""
    return np.diag([-1.0, 1.0, 1.0]) @ random_rotation(rng)


def small_molecule(rng: np.random.Generator | int | None = 0) -> ase.Atoms:
    """A non-periodic 5-atom molecule (C, O, N, H, H) with randomly perturbed, bonded-like positions (Å)."""
    gen = _rng(rng, 2)
    base = np.array(
        [[0.0, 0.0, 0.0], [1.25, 0.1, 0.0], [-0.7, 1.2, 0.1], [-0.6, -0.9, 0.5], [1.8, 0.9, -0.4]], dtype=float
    )
    positions = base + gen.normal(scale=0.1, size=base.shape)
    return ase.Atoms(numbers=[6, 8, 7, 1, 1], positions=positions, pbc=False)


def small_periodic_cell(rng: np.random.Generator | int | None = 0) -> ase.Atoms:
    """A 3-atom periodic structure (Li, O, Ni) in a skewed triclinic cell of ~3.5 Å edges."""
    gen = _rng(rng, 3)
    cell = np.diag([3.4, 3.6, 3.8]) + gen.uniform(-0.6, 0.6, size=(3, 3)) * (1 - np.eye(3))
    frac = gen.uniform(0.0, 1.0, size=(3, 3))
    atoms = ase.Atoms(numbers=[3, 8, 28], scaled_positions=frac, cell=cell, pbc=True)
    while atoms.get_all_distances(mic=True)[np.triu_indices(3, 1)].min() < 0.7:  # no overlapping atoms
        atoms.set_scaled_positions(gen.uniform(0.0, 1.0, size=(3, 3)))
    return atoms


def random_probes(
    atoms: ase.Atoms, num: int, rng: np.random.Generator | int | None = 0, margin: float = 1.5
) -> np.ndarray:
    """``num`` probe positions (Å): uniform in the cell when periodic, else in the padded bounding box."""
    gen = _rng(rng, 4)
    if atoms.pbc.any():
        return gen.uniform(0.0, 1.0, size=(num, 3)) @ atoms.cell.array
    low = atoms.positions.min(axis=0) - margin
    high = atoms.positions.max(axis=0) + margin
    return gen.uniform(low, high, size=(num, 3))


def tiny_model(
    preset: str = "deepdft-painn",
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    baseline: bool | None = None,
    **overrides: Any,
) -> DensityModel:
    """A small randomly initialised model (see :data:`TINY_OVERRIDES`) for fast tests, in ``dtype``.

    Args:
        preset: a preset name (its options) or an architecture name (no baseline, ``nonnegative=False``
            unless overridden).
        baseline: add Gaussian stand-in baseline tables (default: if the preset has a baseline).
        **overrides: config fields.

    The same ``seed`` gives the same weights; the global torch generator is left untouched.

    Biases and the ``U``/``V`` maps are re-drawn with larger spread than the default initialisation so
    that every path of the model (including vector features) visibly affects the output.
    """
    if preset in PRESETS:
        spec = PRESETS[preset]
        fields: dict[str, Any] = {"architecture": spec.architecture, "nonnegative": spec.nonnegative}
        with_baseline = spec.baseline if baseline is None else baseline
    elif preset in ARCHITECTURES:
        fields = {"architecture": preset, "nonnegative": False}
        with_baseline = bool(baseline)
    else:
        raise ValueError(f"unknown preset or architecture {preset!r}; presets: {sorted(PRESETS)}")
    fields.update(TINY_OVERRIDES[preset])
    fields.update(overrides)
    tables = tiny_baseline(float(fields["cutoff"])) if with_baseline else None
    if tables is not None:
        fields["baseline"] = {"elements": list(tables.elements), "num_points": 201, "settings": dict(tables.settings)}
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # deterministic without touching the caller's generator
        torch.manual_seed(seed)
        model = DensityModel(ModelConfig.from_dict(fields, where=f"tiny {preset}"))
    if tables is not None:
        model.set_baseline_tables(tables.radii, tables.values)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
            elif "linearU" in name or "linearV" in name:
                param.copy_(torch.randn(param.shape, generator=generator) / param.shape[1] ** 0.5)
    return model.to(dtype)
