"""Figures of the paper's analyses, written as PNG files.

* :func:`plot_error_histogram` — per-structure ε_mae (%) histogram, optionally beside other distributions
  such as the DFT variability ε_mad (paper Figure 3);
* :func:`plot_density_slices` — prediction, target and difference on a lattice plane through the grid (e/Å³);
* :func:`plot_charge_transfer` — Δq against distance from the removed atom, DFT and model, and the
  histogram of |Δq − Δq̂| (paper Figure 7);
* :func:`plot_learning_curve` — test error against training-set size, log-log, with fitted power laws;
* :func:`plot_scaling` — runtime against system size, log-log, with fitted exponents t ∝ N^k (Figure 6);
* :func:`plot_calibration` — observed |error| against predicted σ of an ensemble (binned voxels), and
  expected against actual ε_mae per structure.

Figures are built on :class:`matplotlib.figure.Figure` with an explicit Agg canvas, so importing this
module neither selects a backend nor touches pyplot's global state. Every function writes atomically
(:func:`rhograph.io.atomic.atomic_path`) and returns the written path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from rhograph.errors import ConfigError
from rhograph.io.atomic import atomic_path
from rhograph.io.density_grid import DensityGrid

if TYPE_CHECKING:
    from rhograph.analysis.charge_transfer import ChargeTransfer
    from rhograph.analysis.uncertainty import CalibrationBins

__all__ = [
    "fit_power_law",
    "plot_calibration",
    "plot_charge_transfer",
    "plot_density_slices",
    "plot_error_histogram",
    "plot_learning_curve",
    "plot_scaling",
]

PathLike = str | os.PathLike[str]


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: PathLike, dpi: int = 120) -> Path:
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return target


def fit_power_law(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Least-squares fit of ``y = a · x^k`` on log-log axes; returns ``(k, a)``.

    Raises:
        ValueError: fewer than two points, or non-positive values.
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape or xa.size < 2:
        raise ValueError(f"power-law fit needs at least two (x, y) pairs, got shapes {xa.shape} and {ya.shape}")
    if (xa <= 0).any() or (ya <= 0).any():
        raise ValueError("power-law fit needs positive x and y")
    k, log_a = np.polyfit(np.log(xa), np.log(ya), 1)
    return float(k), float(np.exp(log_a))


def plot_error_histogram(
    path: PathLike,
    errors: Sequence[float] | np.ndarray,
    *,
    label: str = "ε_mae per structure (%)",
    others: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    bins: int = 50,
    title: str | None = None,
) -> Path:
    """Histogram of per-structure errors (percent), with mean and median marked.

    Args:
        path: PNG file to write.
        errors: one value per structure.
        label: legend / axis label of ``errors``.
        others: further distributions drawn on the same bins (e.g. ``{"DFT variability ε_mad (%)": ...}``).
        bins: number of bins over the common range.
    """
    series = {label: np.asarray(errors, dtype=np.float64).reshape(-1)}
    for name, values in (others or {}).items():
        series[name] = np.asarray(values, dtype=np.float64).reshape(-1)
    if any(v.size == 0 for v in series.values()):
        raise ValueError("error histogram: empty error list")
    everything = np.concatenate(list(series.values()))
    edges = np.histogram_bin_edges(everything, bins=bins)
    fig = _figure(6.0, 4.0)
    ax = fig.add_subplot()
    for name, values in series.items():
        ax.hist(
            values,
            bins=list(edges),
            alpha=0.6,
            label=f"{name}: mean {values.mean():.3g}, median {np.median(values):.3g}",
        )
    main = series[label]
    ax.axvline(main.mean(), color="k", lw=1, ls="--")
    ax.axvline(np.median(main), color="k", lw=1, ls=":")
    ax.set_xlabel(label if not others else "error (%)")
    ax.set_ylabel("structures")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _plane(grid: DensityGrid, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """2-D corner coordinates (Å) of the voxel faces of a lattice plane normal to grid ``axis``.

    Returns X, Y, each ``(Na + 1, Nb + 1)``: voxel (i, j) is the parallelogram centred on its grid point.
    """
    a, b = [i for i in range(3) if i != axis]
    va, vb = grid.voxel_vectors[a], grid.voxel_vectors[b]
    e1 = va / np.linalg.norm(va)
    e2 = vb - (vb @ e1) * e1
    e2 /= np.linalg.norm(e2)
    ia, ib = np.meshgrid(np.arange(grid.shape[a] + 1) - 0.5, np.arange(grid.shape[b] + 1) - 0.5, indexing="ij")
    corners = ia[..., None] * va + ib[..., None] * vb  # (Na + 1, Nb + 1, 3) relative to grid point (0, 0)
    return corners @ e1, corners @ e2


def plot_density_slices(
    path: PathLike,
    grid: DensityGrid,
    reference: DensityGrid | None = None,
    *,
    axis: int = 2,
    index: int | None = None,
    log_scale: bool = False,
) -> Path:
    """Density on a lattice plane: prediction, and with a reference also target and difference.

    Args:
        path: PNG file to write.
        grid: the (predicted) density, e/Å³.
        reference: target density on the same grid (adds the target and ``prediction − target`` panels).
        axis: grid axis normal to the plane (0, 1, 2).
        index: plane index along ``axis``; default the plane through the atom closest to the grid centre.
        log_scale: colour the densities by log10 ρ.
    """
    if axis not in (0, 1, 2):
        raise ConfigError(f"axis must be 0, 1 or 2, got {axis}")
    if reference is not None:
        from rhograph.analysis.metrics import check_same_grid

        check_same_grid(reference, grid, names=(reference.source or "reference", grid.source or "prediction"))
    n = grid.shape[axis]
    if index is None:
        index = n // 2
        if len(grid.atoms):
            assert grid.cell is not None
            frac = (grid.atoms.positions - grid.origin) @ np.linalg.inv(grid.cell)
            centre = np.abs(frac - 0.5).sum(axis=1).argmin()
            index = int(np.rint(frac[centre, axis] * n)) % n
    if not 0 <= index < n:
        raise ConfigError(f"slice index {index} outside 0..{n - 1}")
    x, y = _plane(grid, axis)
    take: list[slice | int] = [slice(None)] * 3
    take[axis] = index
    panels = [("prediction" if reference is not None else "density", grid.values[tuple(take)])]
    if reference is not None:
        target = reference.values[tuple(take)]
        panels += [("target", target), ("prediction − target", panels[0][1] - target)]
    fig = _figure(4.2 * len(panels), 3.8)
    densities = [p[1] for p in panels[:2]]
    vmax = max(float(d.max()) for d in densities)
    for k, (title, values) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        if title.startswith("prediction −"):
            limit = max(float(np.abs(values).max()), 1e-12)
            mesh = ax.pcolormesh(x, y, values, shading="flat", cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -limit, limit))
            label = "Δρ (e/Å³)"
        elif log_scale:
            floor = max(vmax * 1e-6, 1e-12)
            mesh = ax.pcolormesh(
                x,
                y,
                np.log10(np.maximum(values, floor)),
                shading="flat",
                cmap="viridis",
                vmin=np.log10(floor),
                vmax=np.log10(max(vmax, floor)),
            )
            label = "log10 ρ (e/Å³)"
        else:
            mesh = ax.pcolormesh(x, y, values, shading="flat", cmap="viridis", vmin=0.0, vmax=vmax)
            label = "ρ (e/Å³)"
        fig.colorbar(mesh, ax=ax, label=label, shrink=0.85)
        ax.set_aspect("equal")
        ax.set_title(title)
        ax.set_xlabel("Å")
    fig.suptitle(f"{grid.name}: plane {index} of {n} along grid axis {axis}")
    return _save(fig, path)


def plot_charge_transfer(
    path: PathLike,
    results: ChargeTransfer | Sequence[ChargeTransfer],
    *,
    bins: int = 30,
) -> Path:
    """Figure 7: Δq against distance from the removed atom (DFT and model) and the |Δq − Δq̂| histogram.

    Args:
        path: PNG file to write.
        results: one or several :class:`~rhograph.analysis.charge_transfer.ChargeTransfer` systems.
        bins: histogram bins of the absolute errors (stacked by element).
    """
    items = [results] if not isinstance(results, Sequence) else list(results)
    if not items:
        raise ValueError("charge-transfer plot: no results")
    distance = np.concatenate([r.distance for r in items])
    dq_dft = np.concatenate([r.dq_dft for r in items])
    dq_model = np.concatenate([r.dq_model for r in items])
    symbols = [s for r in items for s in r.symbols]
    error = np.abs(dq_dft - dq_model)
    fig = _figure(10.0, 4.0)
    ax, hx = fig.subplots(1, 2, width_ratios=[3, 2])
    ax.scatter(distance, dq_dft, s=28, facecolors="none", edgecolors="tab:blue", label="DFT")
    ax.scatter(distance, dq_model, s=10, color="tab:orange", label="model")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.axvline(items[0].near_radius, color="grey", lw=0.5, ls=":", label=f"near radius {items[0].near_radius:g} Å")
    ax.set_xlabel(f"distance from removed {items[0].removed_symbol} (Å)")
    ax.set_ylabel("Δq Bader (e)")
    ax.legend(fontsize="small")
    elements = list(dict.fromkeys(symbols))
    per_element = [error[[s == e for s in symbols]] for e in elements]
    edges = np.histogram_bin_edges(error, bins=bins)
    hx.hist(per_element, bins=list(edges), stacked=True, label=elements)
    hx.set_xlabel("|Δq − Δq̂| (e)")
    hx.set_ylabel("atoms")
    total = np.mean([r.total_error for r in items])
    near = np.mean([r.near_error for r in items])
    where = f" (mean of {len(items)})" if len(items) > 1 else ""
    hx.set_title(f"ε_total {total:.3f} e, near {near:.3f} e{where}", fontsize="medium")
    hx.legend(fontsize="small")
    return _save(fig, path)


def _loglog_with_fits(
    ax, series: Mapping[str, tuple[Sequence[float], Sequence[float]]], fit: bool, unit: str
) -> dict[str, float]:
    exponents = {}
    for k, (name, (xs, ys)) in enumerate(series.items()):
        x = np.asarray(xs, dtype=np.float64)
        y = np.asarray(ys, dtype=np.float64)
        colour = f"C{k}"
        label = name
        if fit and x.size >= 2:
            exponent, prefactor = fit_power_law(x, y)
            exponents[name] = exponent
            grid = np.geomspace(x.min(), x.max(), 50)
            ax.plot(grid, prefactor * grid**exponent, "--", color=colour, lw=1)
            label = f"{name} ({unit} ∝ N^{exponent:.2f})"
        ax.plot(x, y, "o-", color=colour, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())  # labels at every minor tick of a short range overlap
    ax.legend(fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    return exponents


def plot_learning_curve(
    path: PathLike,
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    fit: bool = True,
    xlabel: str = "training structures",
    ylabel: str = "test ε_mae (%)",
) -> Path:
    """Log-log learning curve: error against training-set size, one line per model, with power-law fits.

    Args:
        path: PNG file to write.
        series: ``{model name: (training-set sizes, errors)}``.
        fit: draw fitted ``error ∝ N^k`` lines and give k in the legend.
    """
    if not series:
        raise ValueError("learning curve: no series")
    fig = _figure(6.0, 4.5)
    ax = fig.add_subplot()
    _loglog_with_fits(ax, series, fit, "error")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _save(fig, path)


def plot_scaling(
    path: PathLike,
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    fit: bool = True,
    xlabel: str = "atoms",
    ylabel: str = "time (s)",
) -> Path:
    """Log-log runtime scaling (Figure 6): time against system size, with fitted exponents t ∝ N^k.

    Args:
        path: PNG file to write.
        series: ``{method name: (sizes, seconds)}``.
        fit: draw the fitted power laws and give their exponents in the legend.
    """
    if not series:
        raise ValueError("scaling plot: no series")
    fig = _figure(6.0, 4.5)
    ax = fig.add_subplot()
    _loglog_with_fits(ax, series, fit, "t")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _save(fig, path)


def plot_calibration(
    path: PathLike,
    bins: CalibrationBins,
    *,
    structures: tuple[Sequence[float], Sequence[float]] | None = None,
    title: str = "",
) -> Path:
    """Calibration of an ensemble's uncertainty.

    Left: binned voxels, observed mean |ρ̄ − ρ| and RMSE against the mean predicted σ (log-log), with the
    lines of a calibrated normal error (mean |error| = sqrt(2/π)·σ, RMSE = σ). Right (if ``structures``):
    actual against expected ε_mae per structure, with the diagonal.

    Args:
        path: PNG file to write.
        bins: :func:`rhograph.analysis.uncertainty.calibration_bins` of the voxels.
        structures: ``(expected ε_mae %, actual ε_mae %)`` per structure.
        title: figure title.
    """
    panels = 2 if structures is not None else 1
    fig = _figure(5.0 * panels, 4.5)
    ax = fig.add_subplot(1, panels, 1)
    positive = bins.sigma > 0
    sigma = bins.sigma[positive]
    ax.loglog(sigma, bins.abs_error[positive], "o-", label="observed mean |error|")
    ax.loglog(sigma, bins.rmse[positive], "s--", label="observed RMSE", alpha=0.7)
    if sigma.size:
        line = np.array([sigma.min(), sigma.max()])
        ax.loglog(line, np.sqrt(2.0 / np.pi) * line, "k-", lw=1, label="calibrated: sqrt(2/π)·σ")
        ax.loglog(line, line, "k:", lw=1, label="calibrated RMSE: σ")
    ax.set_xlabel("predicted σ (e/Å³), binned voxels")
    ax.set_ylabel("error (e/Å³)")
    ax.legend(fontsize=8)
    if structures is not None:
        expected = np.asarray(structures[0], dtype=np.float64)
        actual = np.asarray(structures[1], dtype=np.float64)
        ax2 = fig.add_subplot(1, panels, 2)
        ax2.plot(expected, actual, "o", alpha=0.7)
        top = float(max(expected.max(initial=0.0), actual.max(initial=0.0))) * 1.05 or 1.0
        ax2.plot([0.0, top], [0.0, top], "k:", lw=1, label="actual = expected")
        ax2.set_xlim(0.0, top)
        ax2.set_ylim(0.0, top)
        ax2.set_xlabel("expected ε_mae (%)")
        ax2.set_ylabel("actual ε_mae (%)")
        ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
