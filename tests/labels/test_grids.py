"""Grid geometry and the electron-count tolerance (no PySCF needed)."""

from __future__ import annotations

import numpy as np
import pytest

from rhograph.labels import LabelConfig
from rhograph.labels.grids import BOHR_ANGSTROM, cusp_allowance, electron_tolerance, grid_shape, molecule_box


def test_grid_shape_keeps_the_spacing_at_most_the_target():
    cell = np.array([[4.0, 0, 0], [0, 4.05, 0], [1.0, 1.0, 3.0]])
    shape = grid_shape(cell, 0.1)
    assert shape == (40, 41, 34)
    assert np.all(np.linalg.norm(cell, axis=1) / shape <= 0.1 + 1e-12)


def test_molecule_box_adds_vacuum_on_every_side():
    positions = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, -3.0]])
    cell, origin = molecule_box(positions, 4.0)
    np.testing.assert_allclose(origin, [-4.0, -4.0, -7.0])
    np.testing.assert_allclose(np.diag(cell), [9.0, 10.0, 11.0])


def _riemann_sum_of_1s(z: int, spacing: float, offset: np.ndarray) -> float:
    """Grid sum of a normalised hydrogen-like 1s density ``a³/(8π) exp(−a r)`` (integral 1)."""
    a = 2.0 * z / BOHR_ANGSTROM
    half = 12.0 / a + 2 * spacing
    axis = np.arange(-half, half, spacing)
    x, y, zz = np.meshgrid(axis + offset[0], axis + offset[1], axis + offset[2], indexing="ij")
    r = np.sqrt(x**2 + y**2 + zz**2)
    return float(np.sum(a**3 / (8 * np.pi) * np.exp(-a * r)) * spacing**3)


@pytest.mark.parametrize(("z", "spacing"), [(6, 0.05), (8, 0.08), (8, 0.1), (3, 0.15)])
def test_cusp_allowance_bounds_the_grid_sum_error_of_a_1s_density(z, spacing):
    rng = np.random.default_rng(z)
    voxel = np.eye(3) * spacing
    bound = cusp_allowance(np.array([z]), voxel) / 1.5 / min(z, 2)  # per 1s electron
    errors = [abs(_riemann_sum_of_1s(z, spacing, rng.uniform(0, spacing, 3)) - 1.0) for _ in range(4)]
    errors.append(abs(_riemann_sum_of_1s(z, spacing, np.zeros(3)) - 1.0))  # nucleus on a grid point
    assert max(errors) <= bound
    assert max(errors) > 0.2 * bound  # and the bound is not vacuous


def test_cusp_allowance_shrinks_with_the_spacing_and_vanishes_for_valence():
    numbers = np.array([8, 1, 1])
    coarse, fine = (cusp_allowance(numbers, np.eye(3) * h) for h in (0.1, 0.05))
    assert coarse > 4 * fine > 0
    valence = electron_tolerance(LabelConfig(), numbers, np.eye(3) * 0.1, 8)
    all_electron = electron_tolerance(LabelConfig(density="all-electron"), numbers, np.eye(3) * 0.1, 10)
    assert valence == pytest.approx(8e-3)
    assert all_electron == pytest.approx(1e-2 + coarse)
    assert electron_tolerance(LabelConfig(electron_tolerance=0.05), numbers, np.eye(3), 10) == pytest.approx(0.5)


def test_label_config_validates_its_values():
    with pytest.raises(ValueError, match="density"):
        LabelConfig(density="core")
    with pytest.raises(ValueError, match="spacing"):
        LabelConfig(spacing=0)
    with pytest.raises(ValueError, match="kpts"):
        LabelConfig(kpts=(1, 0, 1))
    with pytest.raises(ValueError, match="pseudopotential"):
        LabelConfig(density="all-electron", pseudo="gth-pbe")
    config = LabelConfig(density="all-electron")
    assert config.resolved_basis == "def2-svp" and config.resolved_pseudo is None
    assert LabelConfig().density_settings()["basis"] == "gth-dzvp"
