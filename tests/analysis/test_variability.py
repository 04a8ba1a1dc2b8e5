"""ε_mad of paper eq. 2 on analytic sets of densities."""

from __future__ import annotations

import numpy as np
import pytest

from rhograph.analysis.variability import variability


def test_scaled_copies_give_the_known_value(gaussian_grid):
    kw = {"cell": np.eye(3) * 5.0, "shape": (20, 20, 20)}
    base = gaussian_grid("O", [[2.5, 2.5, 2.5]], [8.0], [0.6], **kw)
    grids = [base.with_values(base.values * f) for f in (1.0, 1.1, 0.8)]
    # median = ρ everywhere; deviations 0, 0.1ρ, 0.2ρ; mean 0.1ρ; ρ_1 = ρ
    result = variability(grids)
    assert result.emad == pytest.approx(10.0, rel=1e-5)
    np.testing.assert_allclose(result.member_deviation, [0.0, 10.0, 20.0], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(result.electrons, [8.0, 8.8, 6.4], rtol=1e-3)
    # eq. 2 divides by the first density, not by the median
    reordered = variability([grids[1], grids[0], grids[2]])
    assert reordered.emad == pytest.approx(10.0 / 1.1, rel=1e-5)
    assert variability([grids[1], grids[0], grids[2]], normalize="median").emad == pytest.approx(10.0, rel=1e-5)
    assert result.summary()["members"][2]["deviation"] == pytest.approx(20.0, rel=1e-5)


def test_two_densities_and_plain_arrays():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.0, 1.0, size=(5, 6, 7))
    b = rng.uniform(0.0, 1.0, size=(5, 6, 7))
    # K = 2: the median is the mean, each deviates by |a − b| / 2
    expected = 100 * (np.abs(a - b) / 2).sum() / a.sum()
    assert variability([a, b]).emad == pytest.approx(expected, rel=1e-10)
    # K even: numpy median of the middle two values
    c, d = a * 0.5, a * 2.0
    stack = np.stack([a, b, c, d])
    med = np.median(stack, axis=0)
    expected = 100 * np.abs(stack - med).mean(axis=0).sum() / a.sum()
    assert variability([a, b, c, d]).emad == pytest.approx(expected, rel=1e-10)


def test_errors(gaussian_grid):
    a = gaussian_grid("O", [[2.5, 2.5, 2.5]], [8.0], [0.6], cell=np.eye(3) * 5.0, shape=(20, 20, 20))
    b = gaussian_grid("O", [[2.5, 2.5, 2.5]], [8.0], [0.6], cell=np.eye(3) * 5.2, shape=(20, 20, 20))
    with pytest.raises(ValueError, match="at least 2"):
        variability([a])
    with pytest.raises(ValueError, match="cell"):
        variability([a, b])
    with pytest.raises(ValueError, match="shape"):
        variability([np.ones((2, 2, 2)), np.ones((2, 2, 3))])
    with pytest.raises(ValueError, match="normalize"):
        variability([a, a], normalize="mean")
    with pytest.raises(ValueError, match="zero"):
        variability([np.zeros((2, 2, 2)), np.ones((2, 2, 2))])
