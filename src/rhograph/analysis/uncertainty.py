"""How well a predicted uncertainty tracks the actual error: correlations and a binned calibration curve.

For an ensemble prediction ρ̄ with member spread σ (``rhograph predict --uncertainty``) against a reference
ρ, on voxels v or structures s:

* :func:`correlations` — Pearson r (linear) and Spearman ρ (rank) between predicted uncertainty and
  actual error (per voxel: σ_v against |ρ̄_v − ρ_v|; per structure: expected against actual ε_mae);
* :func:`calibration_bins` — voxels binned by σ (quantile bins, equal counts), with the mean σ, the mean
  observed |error| and its expectation ``sqrt(2/π)·σ`` under a normal error model (a calibrated σ puts the
  observed mean on that line; :func:`rhograph.analysis.plots.plot_calibration` draws it).

Arrays are flattened; sums in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["CalibrationBins", "calibration_bins", "correlations"]


def correlations(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """``{"pearson": r, "spearman": ρ, "count": n}`` between two equally long arrays (NaN if either is
    constant or there are fewer than 3 values).

    Raises:
        ValueError: different sizes or non-finite values.
    """
    x = np.asarray(predicted, dtype=np.float64).reshape(-1)
    y = np.asarray(actual, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"correlations: {x.size} predicted values for {y.size} actual ones")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("correlations: NaN/inf values")
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"pearson": float("nan"), "spearman": float("nan"), "count": int(x.size)}
    return {
        "pearson": float(stats.pearsonr(x, y).statistic),
        "spearman": float(stats.spearmanr(x, y).statistic),
        "count": int(x.size),
    }


@dataclass(frozen=True)
class CalibrationBins:
    """Voxels binned by predicted σ (e/Å³).

    Attributes:
        sigma: mean predicted σ per bin ``(B,)``.
        abs_error: mean observed |ρ̄ − ρ| per bin ``(B,)``.
        rmse: root-mean-square error per bin ``(B,)`` (equals σ for a calibrated normal error).
        count: voxels per bin ``(B,)``.
    """

    sigma: np.ndarray
    abs_error: np.ndarray
    rmse: np.ndarray
    count: np.ndarray

    @property
    def expected_abs_error(self) -> np.ndarray:
        """``sqrt(2/π)·σ``: the mean |error| of a normal error of standard deviation σ."""
        return math.sqrt(2.0 / math.pi) * self.sigma

    def rows(self) -> list[dict[str, float]]:
        return [
            {
                "sigma": float(s),
                "abs_error": float(e),
                "expected_abs_error": float(x),
                "rmse": float(r),
                "count": int(c),
            }
            for s, e, x, r, c in zip(
                self.sigma, self.abs_error, self.expected_abs_error, self.rmse, self.count, strict=True
            )
        ]


def calibration_bins(sigma: np.ndarray, error: np.ndarray, bins: int = 20) -> CalibrationBins:
    """Bin voxels into ``bins`` quantile bins of ``sigma`` (about equal counts; empty bins dropped).

    Args:
        sigma: predicted standard deviation per voxel (e/Å³).
        error: signed or absolute error ρ̄ − ρ per voxel (e/Å³).
        bins: number of bins.

    Raises:
        ValueError: different sizes, no values, or ``bins < 1``.
    """
    s = np.asarray(sigma, dtype=np.float64).reshape(-1)
    e = np.abs(np.asarray(error, dtype=np.float64).reshape(-1))
    if s.shape != e.shape or s.size == 0:
        raise ValueError(f"calibration_bins: {s.size} σ values for {e.size} errors")
    if bins < 1:
        raise ValueError(f"calibration_bins: bins must be >= 1, got {bins}")
    order = np.argsort(s, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, s.size)) if g.size]
    return CalibrationBins(
        sigma=np.array([s[g].mean() for g in groups]),
        abs_error=np.array([e[g].mean() for g in groups]),
        rmse=np.array([math.sqrt(float(np.square(e[g]).mean())) for g in groups]),
        count=np.array([g.size for g in groups]),
    )
