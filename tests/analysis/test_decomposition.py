"""Error decomposition into per-element Bader volumes (paper Table 2) on analytic densities."""

from __future__ import annotations

import numpy as np
import pytest

from rhograph.analysis.bader import bader
from rhograph.analysis.decomposition import VACUUM, combine_decompositions, decompose_error

CENTRES = np.array([[1.5, 1.5, 1.5], [4.5, 1.6, 1.4], [3.0, 4.5, 4.4]])
ELECTRONS = [8.0, 1.0, 1.0]
SIGMAS = [0.4, 0.35, 0.35]


def _pair(gaussian_grid, scale_o: float, scale_h: float, *, vacuum_cell: bool = False):
    kw = {"cell": np.eye(3) * 6.0, "shape": (40, 40, 40)}
    ref = gaussian_grid("OHH", CENTRES, ELECTRONS, SIGMAS, **kw)
    scaled = [ELECTRONS[0] * scale_o, ELECTRONS[1] * scale_h, ELECTRONS[2] * scale_h]
    pred = gaussian_grid("OHH", CENTRES, scaled, SIGMAS, **kw)
    return ref, pred


def test_error_confined_to_oxygen(gaussian_grid):
    ref, pred = _pair(gaussian_grid, 1.1, 1.0)
    d = decompose_error(ref, pred, vacuum_threshold=None)
    assert list(d.elements) == ["O", "H"]
    assert d.elements["O"].nmae == pytest.approx(10.0, rel=1e-3)
    assert d.elements["H"].nmae == pytest.approx(0.0, abs=0.02)
    assert d.share("O") == pytest.approx(100.0, abs=0.1)
    assert d.elements["H"].atoms == 2
    rows = {r["element"]: r for r in d.rows()}
    assert sum(r["error_share"] for r in rows.values()) == pytest.approx(100.0)
    assert sum(r["volume_fraction"] for r in rows.values()) == pytest.approx(100.0)
    assert rows["O"]["charge_fraction"] == pytest.approx(80.0, rel=1e-3)


def test_known_shares_and_whole_grid_nmae(gaussian_grid):
    ref, pred = _pair(gaussian_grid, 0.95, 1.2)  # |ΔN|: O 0.4, each H 0.2
    volumes = bader(ref, vacuum_threshold=None)
    d = decompose_error(ref, pred, volumes)
    assert d.elements["O"].nmae == pytest.approx(5.0, rel=1e-3)
    assert d.elements["H"].nmae == pytest.approx(20.0, rel=1e-3)
    assert d.share("O") == pytest.approx(50.0, rel=1e-3)
    assert d.share("H") == pytest.approx(50.0, rel=1e-3)
    assert d.nmae == pytest.approx(100 * 0.8 / 10.0, rel=1e-3)
    # the decomposition integrates the whole grid: its ε_mae is eq. 1
    from rhograph.analysis.metrics import nmae

    assert d.nmae == pytest.approx(nmae(ref, pred), rel=1e-6)


def test_vacuum_entry_and_pooling(gaussian_grid):
    ref, pred = _pair(gaussian_grid, 1.1, 1.0)
    d = decompose_error(ref, pred, vacuum_threshold=1e-3)
    assert VACUUM in d.elements
    assert sum(d.share(e) for e in d.elements) == pytest.approx(100.0)
    assert d.total_volume == pytest.approx(ref.cell_volume)
    ref2, pred2 = _pair(gaussian_grid, 1.0, 1.3)
    d2 = decompose_error(ref2, pred2, vacuum_threshold=1e-3)
    pooled = combine_decompositions([d, d2])
    assert pooled.structures == 2
    o = pooled.elements["O"]
    assert o.abs_error == pytest.approx(d.elements["O"].abs_error + d2.elements["O"].abs_error)
    assert o.atoms == 2
    assert pooled.elements["H"].nmae == pytest.approx(
        100
        * (d.elements["H"].abs_error + d2.elements["H"].abs_error)
        / (d.elements["H"].abs_reference + d2.elements["H"].abs_reference)
    )
    with pytest.raises(ValueError, match="no decompositions"):
        combine_decompositions([])


def test_mismatches_are_rejected(gaussian_grid):
    ref, pred = _pair(gaussian_grid, 1.1, 1.0)
    other = gaussian_grid("OHH", CENTRES, ELECTRONS, SIGMAS, cell=np.eye(3) * 6.0, shape=(20, 20, 20))
    with pytest.raises(ValueError, match="shape"):
        decompose_error(ref, other)
    with pytest.raises(ValueError, match="fit the grid"):
        decompose_error(ref, pred, bader(other))
    swapped = gaussian_grid("HOH", CENTRES, ELECTRONS, SIGMAS, cell=np.eye(3) * 6.0, shape=(40, 40, 40))
    with pytest.raises(ValueError, match="another structure"):
        decompose_error(ref, pred, bader(swapped))
