"""Density error measures on a common grid and their summary over a data set.

* ε_mae (paper eq. 1, Jørgensen & Bhowmik, npj Comput. Mater. 8, 183 (2022)):
  ``ε_mae = ∫|ρ − ρ̂| dV / ∫|ρ| dV`` over the whole grid, reported in percent as ``nmae``. On a uniform
  grid the voxel volume cancels: ``ε_mae = Σ|ρ_v − ρ̂_v| / Σ|ρ_v|``.
* MAE ``= mean_v |ρ_v − ρ̂_v|`` and RMSE ``= sqrt(mean_v (ρ_v − ρ̂_v)²)`` over the grid points, in e/Å³.

Every function accepts plain arrays (same shape) or :class:`~rhograph.io.density_grid.DensityGrid` objects;
two grids must agree in shape, cell and origin (a clear ``ValueError`` otherwise). ``ρ`` is the reference
(DFT) density and ``ρ̂`` the prediction; sums are accumulated in float64.
"""

from __future__ import annotations

import numpy as np

from rhograph.errors import IncompatibleInputsError
from rhograph.io.density_grid import DensityGrid

__all__ = ["check_same_grid", "check_same_structure", "grid_errors", "mae", "nmae", "rmse", "summarize"]

#: tolerances for "same grid": cell vectors and origin in Å
CELL_ATOL = 1e-4
ORIGIN_ATOL = 1e-4
#: tolerance for "same structure": atom positions in Å (cube files store Bohr with 6 decimals)
POSITION_ATOL = 1e-3


def _name(grid: DensityGrid, default: str) -> str:
    return grid.source or default


def check_same_grid(first: DensityGrid, second: DensityGrid, *, names: tuple[str, str] | None = None) -> None:
    """Raise ``ValueError`` unless both grids have the same shape, cell and origin (within 1e-4 Å).

    Args:
        first, second: the two grids.
        names: labels for the message (default the grids' source files or "first"/"second").
    """
    a, b = names or (_name(first, "first grid"), _name(second, "second grid"))
    if first.shape != second.shape:
        raise IncompatibleInputsError(f"grids differ in shape: {a} has {first.shape}, {b} has {second.shape}")
    assert first.cell is not None and second.cell is not None
    if not np.allclose(first.cell, second.cell, rtol=0.0, atol=CELL_ATOL):
        diff = float(np.abs(first.cell - second.cell).max())
        raise IncompatibleInputsError(f"grids differ in cell (max difference {diff:.3g} Å): {a} vs {b}")
    if not np.allclose(first.origin, second.origin, rtol=0.0, atol=ORIGIN_ATOL):
        raise IncompatibleInputsError(
            f"grids differ in origin: {a} has {first.origin.tolist()} Å, {b} has {second.origin.tolist()} Å"
        )


def check_same_structure(
    first: DensityGrid, second: DensityGrid, *, names: tuple[str, str] | None = None, tolerance: float = POSITION_ATOL
) -> None:
    """Raise :class:`~rhograph.errors.IncompatibleInputsError` unless both grids hold the same atoms in the same
    order (same elements; positions within ``tolerance`` Å, minimum image along periodic axes of the first).
    """
    a, b = names or (_name(first, "first grid"), _name(second, "second grid"))
    sym_a, sym_b = first.atoms.get_chemical_symbols(), second.atoms.get_chemical_symbols()
    if len(sym_a) != len(sym_b):
        raise IncompatibleInputsError(f"structures differ: {a} has {len(sym_a)} atoms, {b} has {len(sym_b)}")
    for i, (x, y) in enumerate(zip(sym_a, sym_b, strict=True)):
        if x != y:
            raise IncompatibleInputsError(f"structures differ: atom {i} is {x} in {a} but {y} in {b}")
    if not sym_a:
        return
    diff = np.asarray(second.atoms.positions, dtype=np.float64) - first.atoms.positions
    assert first.cell is not None
    pbc = first.pbc
    if pbc.any():
        frac = diff @ np.linalg.inv(first.cell)
        frac[:, pbc] -= np.rint(frac[:, pbc])
        diff = frac @ first.cell
    distance = np.linalg.norm(diff, axis=1)
    worst = int(distance.argmax())
    if distance[worst] > tolerance:
        raise IncompatibleInputsError(
            f"structures differ: atom {worst} ({sym_a[worst]}) is {distance[worst]:.3g} Å apart in {a} and {b}"
        )


def _pair(reference: DensityGrid | np.ndarray, prediction: DensityGrid | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of both arguments after checking that they describe the same grid."""
    if isinstance(reference, DensityGrid) and isinstance(prediction, DensityGrid):
        check_same_grid(reference, prediction, names=(_name(reference, "reference"), _name(prediction, "prediction")))
    ref = reference.values if isinstance(reference, DensityGrid) else np.asarray(reference)
    pred = prediction.values if isinstance(prediction, DensityGrid) else np.asarray(prediction)
    if ref.shape != pred.shape:
        raise IncompatibleInputsError(f"reference shape {ref.shape} differs from prediction shape {pred.shape}")
    if ref.size == 0:
        raise ValueError("empty density arrays")
    return ref, pred


def nmae(
    reference: DensityGrid | np.ndarray,
    prediction: DensityGrid | np.ndarray,
    voxel_volume: float | None = None,
) -> float:
    """ε_mae of paper eq. 1 in percent: ``100 · ∫|ρ − ρ̂| dV / ∫|ρ| dV``.

    Args:
        reference: DFT density ρ (e/Å³), array or grid.
        prediction: predicted density ρ̂ on the same grid.
        voxel_volume: ΔV in Å³ (optional; it cancels on a uniform grid and is only checked to be positive).

    Raises:
        ValueError: different grids, or a reference with ∫|ρ| dV = 0.
    """
    if voxel_volume is not None and not voxel_volume > 0:
        raise ValueError(f"voxel_volume must be positive, got {voxel_volume}")
    ref, pred = _pair(reference, prediction)
    ref64 = ref.astype(np.float64, copy=False)
    denominator = float(np.abs(ref64).sum())
    if denominator == 0.0:
        raise IncompatibleInputsError("ε_mae undefined: the reference density is zero everywhere")
    return 100.0 * float(np.abs(ref64 - pred).sum()) / denominator


def mae(reference: DensityGrid | np.ndarray, prediction: DensityGrid | np.ndarray) -> float:
    """Mean absolute error over the grid points, e/Å³."""
    ref, pred = _pair(reference, prediction)
    return float(np.abs(ref.astype(np.float64) - pred).mean())


def rmse(reference: DensityGrid | np.ndarray, prediction: DensityGrid | np.ndarray) -> float:
    """Root-mean-square error over the grid points, e/Å³."""
    ref, pred = _pair(reference, prediction)
    return float(np.sqrt(np.square(ref.astype(np.float64) - pred).mean()))


def grid_errors(reference: DensityGrid, prediction: DensityGrid) -> dict[str, float]:
    """All error measures of one structure: ``nmae`` (%), ``mae``, ``rmse`` (e/Å³), electrons of both."""
    return {
        "nmae": nmae(reference, prediction),
        "mae": mae(reference, prediction),
        "rmse": rmse(reference, prediction),
        "electrons_ref": reference.electrons,
        "electrons_pred": prediction.electrons,
    }


def summarize(errors: np.ndarray | list[float], names: list[str] | None = None, *, worst: int = 5) -> dict:
    """Summary of per-structure errors (e.g. ε_mae in percent) over a data set.

    Args:
        errors: one value per structure, ``(S,)``.
        names: structure names for the worst list (default the indices as strings).
        worst: how many of the largest errors to list.

    Returns:
        JSON-ready dict: ``count``, ``mean``, ``std``, ``min``, ``median``, ``p95`` (95th percentile, linear
        interpolation), ``max`` and ``worst`` (list of ``{"name", "value"}``, largest first).

    Raises:
        ValueError: no errors, NaN/inf errors, or names of the wrong length.
    """
    values = np.asarray(errors, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("summarize: no errors given")
    if not np.isfinite(values).all():
        raise ValueError(f"summarize: {int((~np.isfinite(values)).sum())} NaN/inf errors")
    labels = [str(i) for i in range(values.size)] if names is None else [str(n) for n in names]
    if len(labels) != values.size:
        raise ValueError(f"summarize: {len(labels)} names for {values.size} errors")
    order = np.argsort(-values, kind="stable")[: max(0, worst)]
    return {
        "count": int(values.size),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "max": float(values.max()),
        "worst": [{"name": labels[i], "value": float(values[i])} for i in order],
    }
