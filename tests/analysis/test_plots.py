"""Every figure is written as a valid PNG through an atomic write and its path returned."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import image

from rhograph.analysis import plots
from rhograph.analysis.charge_transfer import ChargeTransfer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _assert_png(path, tmp_path):
    assert path.is_file()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 0  # not a blank canvas
    assert not list(tmp_path.rglob("*.tmp*"))  # no temporary left behind


def test_error_histogram(tmp_path):
    rng = np.random.default_rng(0)
    errors = rng.lognormal(-1.0, 0.5, size=200)
    path = plots.plot_error_histogram(tmp_path / "hist.png", errors, others={"DFT ε_mad (%)": errors * 1.5})
    _assert_png(path, tmp_path)
    with pytest.raises(ValueError, match="empty"):
        plots.plot_error_histogram(tmp_path / "empty.png", [])


def test_density_slices(tmp_path, gaussian_grid, skewed_cell):
    target = gaussian_grid(
        "OH", [[2.0, 2.0, 2.0], [3.5, 3.0, 2.5]], [8.0, 1.0], [0.5, 0.4], cell=skewed_cell, shape=(24, 24, 20)
    )
    prediction = target.with_values(target.values * 1.05)
    path = plots.plot_density_slices(tmp_path / "sub" / "slices.png", prediction, reference=target)
    _assert_png(path, tmp_path)
    single = plots.plot_density_slices(tmp_path / "single.png", prediction, axis=0, index=3, log_scale=True)
    _assert_png(single, tmp_path)
    assert image.imread(path).shape[1] > image.imread(single).shape[1]  # three panels versus one
    with pytest.raises(ValueError, match="axis"):
        plots.plot_density_slices(tmp_path / "bad.png", prediction, axis=3)
    with pytest.raises(ValueError, match="index"):
        plots.plot_density_slices(tmp_path / "bad.png", prediction, index=99)


def test_charge_transfer_plot(tmp_path):
    rng = np.random.default_rng(1)
    n = 30
    results = [
        ChargeTransfer(
            symbols=["O", "Ni", "Co"] * (n // 3),
            full_index=np.arange(n),
            distance=rng.uniform(1.5, 9.0, n),
            dq_dft=rng.normal(0, 0.05, n),
            dq_model=rng.normal(0, 0.05, n),
            removed_index=n,
            removed_symbol="Li",
            removed_position=np.zeros(3),
            near_radius=4.0,
        )
        for _ in range(2)
    ]
    _assert_png(plots.plot_charge_transfer(tmp_path / "ct.png", results), tmp_path)
    _assert_png(plots.plot_charge_transfer(tmp_path / "ct1.png", results[0]), tmp_path)


def test_log_log_plots_and_fit(tmp_path):
    n = np.array([12, 24, 96, 384, 1536])
    k, a = plots.fit_power_law(n, 0.01 * n**1.0)
    assert k == pytest.approx(1.0) and a == pytest.approx(0.01)
    series = {"model": (n, 0.01 * n), "DFT": (n[:3], 1e-3 * n[:3] ** 3.0)}
    _assert_png(plots.plot_scaling(tmp_path / "scaling.png", series), tmp_path)
    sizes = [1000, 3000, 10000, 30000, 100000]
    curve = {"PaiNN": (sizes, [3.0, 1.8, 1.0, 0.6, 0.35]), "SchNet": (sizes, [4.0, 2.6, 1.5, 1.0, 0.6])}
    _assert_png(plots.plot_learning_curve(tmp_path / "curve.png", curve), tmp_path)
    with pytest.raises(ValueError, match="positive"):
        plots.fit_power_law([1, 2], [0, 1])
    with pytest.raises(ValueError, match="two"):
        plots.fit_power_law([1], [1])
