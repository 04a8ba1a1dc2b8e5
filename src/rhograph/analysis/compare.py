"""Compare a predicted density with a reference on the same grid: every error measure of one pair.

``ε_mae`` is eq. 1 of Jørgensen & Bhowmik (npj Comput. Mater. 8, 183 (2022)) in percent,
``100 · ∫|ρ − ρ̂| dV / ∫|ρ| dV`` (:func:`~rhograph.analysis.metrics.nmae`); MAE, RMSE and the largest
absolute error are over the grid points in e/Å³; ``∫ρ dV`` of each density in electrons. ``ρ`` is the
reference and ``ρ̂`` the prediction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rhograph.analysis.metrics import check_same_grid, check_same_structure, mae, nmae, rmse
from rhograph.io.density_grid import DensityGrid

__all__ = ["DensityComparison", "compare_densities"]


@dataclass(frozen=True)
class DensityComparison:
    """Errors of a prediction against a reference on one grid.

    Attributes:
        prediction, reference: names (file paths) of the two densities.
        shape: grid shape ``(N1, N2, N3)``; num_points: ``N1·N2·N3``.
        nmae: ε_mae in percent (paper eq. 1).
        mae, rmse, max_abs_error: over the grid points, e/Å³.
        max_error_position: Cartesian position (Å) of the largest absolute error.
        electrons_prediction, electrons_reference: ∫ρ̂ dV and ∫ρ dV in electrons.
    """

    prediction: str
    reference: str
    shape: tuple[int, int, int]
    num_points: int
    nmae: float
    mae: float
    rmse: float
    max_abs_error: float
    max_error_position: tuple[float, float, float]
    electrons_prediction: float
    electrons_reference: float

    @property
    def electrons_difference(self) -> float:
        """∫ρ̂ dV − ∫ρ dV in electrons."""
        return self.electrons_prediction - self.electrons_reference

    def to_dict(self) -> dict:
        """JSON-ready dict of every field plus ``electrons_difference``; units in the key descriptions above."""
        data = asdict(self)
        data["shape"] = list(self.shape)
        data["max_error_position"] = list(self.max_error_position)
        data["electrons_difference"] = self.electrons_difference
        return data


def compare_densities(prediction: DensityGrid, reference: DensityGrid) -> DensityComparison:
    """All error measures of ``prediction`` against ``reference``.

    Args:
        prediction: the predicted density ρ̂ (e/Å³).
        reference: the reference density ρ (e/Å³), e.g. DFT.

    Raises:
        IncompatibleInputsError: the grids differ in shape, cell or origin, or the structures differ (elements,
            order, positions beyond 1e-3 Å); the message names both densities.
    """
    names = (prediction.source or "prediction", reference.source or "reference")
    check_same_grid(prediction, reference, names=names)
    check_same_structure(prediction, reference, names=names)
    diff = np.abs(prediction.values.astype(np.float64) - reference.values)
    worst = int(diff.argmax())
    position = prediction.grid_positions(np.array([worst]))[0]
    return DensityComparison(
        prediction=names[0],
        reference=names[1],
        shape=prediction.shape,
        num_points=prediction.num_points,
        nmae=nmae(reference, prediction),
        mae=mae(reference, prediction),
        rmse=rmse(reference, prediction),
        max_abs_error=float(diff.flat[worst]),
        max_error_position=(float(position[0]), float(position[1]), float(position[2])),
        electrons_prediction=prediction.electrons,
        electrons_reference=reference.electrons,
    )
