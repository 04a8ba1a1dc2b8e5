"""Uncertainty analysis: correlations, calibration bins of a calibrated normal error, and the plot."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rhograph.analysis.plots import plot_calibration
from rhograph.analysis.uncertainty import calibration_bins, correlations


def test_calibrated_normal_errors_lie_on_the_line(tmp_path):
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.01, 1.0, size=200_000)
    error = rng.normal(0.0, sigma)
    bins = calibration_bins(sigma, error, bins=10)
    assert bins.count.sum() == sigma.size and len(bins.sigma) == 10
    np.testing.assert_allclose(bins.abs_error, math.sqrt(2 / math.pi) * bins.sigma, rtol=0.03)
    np.testing.assert_allclose(bins.rmse[1:], bins.sigma[1:], rtol=0.03)  # (first bin: σ spread is wide)
    np.testing.assert_allclose(bins.expected_abs_error, math.sqrt(2 / math.pi) * bins.sigma)
    result = correlations(sigma, np.abs(error))
    assert 0.4 < result["pearson"] < 0.8 and 0.3 < result["spearman"] < 0.8 and result["count"] == sigma.size
    path = plot_calibration(tmp_path / "cal.png", bins, structures=([1.0, 2.0, 3.0], [1.5, 2.5, 2.9]))
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_correlation_edge_cases():
    assert correlations([1, 2, 3, 4], [2, 4, 6, 8])["pearson"] == pytest.approx(1.0)
    assert correlations([1, 2, 3, 4], [1, 3, 2, 10])["spearman"] == pytest.approx(0.8)
    assert math.isnan(correlations([1, 1, 1], [1, 2, 3])["pearson"])
    with pytest.raises(ValueError, match="3 predicted values for 2 actual"):
        correlations([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN/inf"):
        correlations([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="bins must be >= 1"):
        calibration_bins([1.0], [1.0], bins=0)
