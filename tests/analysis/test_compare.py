"""compare_densities: every error measure against hand-computed values; refuses different grids / structures."""

from __future__ import annotations

import numpy as np
import pytest

from rhograph.analysis.compare import compare_densities
from rhograph.errors import IncompatibleInputsError

CELL = np.eye(3) * 6.0


def _pair(gaussian_grid):
    reference = gaussian_grid(
        "OH", [[2.5, 3.0, 3.0], [3.5, 3.0, 3.0]], [8.0, 1.0], [0.5, 0.4], cell=CELL, shape=(20,) * 3
    )
    values = reference.values.copy()
    values[3, 4, 5] += 0.25  # the largest error, at (0.9, 1.2, 1.5) Å
    values *= 1.01
    prediction = reference.with_values(values)
    prediction.source, reference.source = "pred.cube", "ref.cube"
    return prediction, reference


def test_measures(gaussian_grid):
    prediction, reference = _pair(gaussian_grid)
    result = compare_densities(prediction, reference)
    ref = reference.values.astype(np.float64)
    diff = prediction.values.astype(np.float64) - ref
    assert result.nmae == pytest.approx(100 * np.abs(diff).sum() / np.abs(ref).sum(), rel=1e-9)
    assert result.mae == pytest.approx(np.abs(diff).mean(), rel=1e-9)
    assert result.rmse == pytest.approx(np.sqrt((diff**2).mean()), rel=1e-9)
    assert result.max_abs_error == pytest.approx(np.abs(diff).max(), rel=1e-9)
    np.testing.assert_allclose(result.max_error_position, [0.9, 1.2, 1.5])
    assert result.electrons_reference == pytest.approx(9.0, rel=1e-6)
    assert result.electrons_prediction == pytest.approx(1.01 * 9.0 + 1.01 * 0.25 * reference.voxel_volume, rel=1e-6)
    data = result.to_dict()
    assert data["prediction"] == "pred.cube" and data["shape"] == [20, 20, 20]
    assert data["electrons_difference"] == pytest.approx(result.electrons_prediction - result.electrons_reference)


def test_refuses_other_grids_and_structures(gaussian_grid):
    prediction, reference = _pair(gaussian_grid)
    other_shape = gaussian_grid("OH", reference.atoms.positions, [8.0, 1.0], [0.5, 0.4], cell=CELL, shape=(16,) * 3)
    other_shape.source = "coarse.cube"
    with pytest.raises(IncompatibleInputsError, match=r"shape: pred\.cube .* coarse\.cube"):
        compare_densities(prediction, other_shape)
    moved = reference.with_values(reference.values)
    moved.atoms.positions[1, 0] += 0.2
    moved.source = "moved.cube"
    with pytest.raises(IncompatibleInputsError, match=r"atom 1 \(H\) is 0\.2 Å apart in pred\.cube and moved\.cube"):
        compare_densities(prediction, moved)
    swapped = reference.with_values(reference.values)
    swapped.atoms.numbers = [1, 8]
    with pytest.raises(IncompatibleInputsError, match="atom 0 is O in"):
        compare_densities(prediction, swapped)
    wrapped = reference.with_values(reference.values)  # a lattice translation is the same structure
    wrapped.atoms.positions[0] += CELL[0]
    compare_densities(prediction, wrapped)
