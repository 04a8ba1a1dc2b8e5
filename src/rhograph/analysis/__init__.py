"""Analysis of densities on grids: error measures, Bader partitioning, charge transfer, variability, plots.

numpy / scipy / matplotlib only (never torch or :mod:`rhograph.train`). Modules:

* :mod:`~rhograph.analysis.metrics` — ε_mae (paper eq. 1) as ``nmae`` in percent, MAE, RMSE, summaries;
* :mod:`~rhograph.analysis.compare` — every error measure of a prediction against a reference (``rhograph compare``);
* :mod:`~rhograph.analysis.bader` — grid-based Bader analysis (Tang, Sanville & Henkelman 2009);
* :mod:`~rhograph.analysis.valence` — the valence electron counts Bader charges are taken against;
* :mod:`~rhograph.analysis.decomposition` — ε_mae per element's Bader volumes (paper Table 2);
* :mod:`~rhograph.analysis.charge_transfer` — Δq on removing an atom, DFT vs model (paper eq. 3, Figure 7);
* :mod:`~rhograph.analysis.variability` — ε_mad across K densities (paper eq. 2);
* :mod:`~rhograph.analysis.plots` — PNG figures (imported on demand; it loads matplotlib).
"""

from rhograph.analysis.bader import BaderResult, bader
from rhograph.analysis.charge_transfer import ChargeTransfer, charge_transfer, mean_errors
from rhograph.analysis.compare import DensityComparison, compare_densities
from rhograph.analysis.decomposition import ErrorDecomposition, combine_decompositions, decompose_error
from rhograph.analysis.metrics import check_same_grid, check_same_structure, grid_errors, mae, nmae, rmse, summarize
from rhograph.analysis.variability import Variability, variability

__all__ = [
    "BaderResult",
    "ChargeTransfer",
    "DensityComparison",
    "ErrorDecomposition",
    "Variability",
    "bader",
    "charge_transfer",
    "check_same_grid",
    "check_same_structure",
    "combine_decompositions",
    "compare_densities",
    "decompose_error",
    "grid_errors",
    "mae",
    "mean_errors",
    "nmae",
    "rmse",
    "summarize",
    "variability",
]
