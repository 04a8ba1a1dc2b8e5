"""Charge transfer on removing one atom: DFT versus model Bader charges (paper eq. 3, Figure 7).

Jørgensen & Bhowmik, npj Comput. Mater. 8, 183 (2022), "Charge transfer in NMC cathode": one Li atom is
removed from a structure (and the structure relaxed); the Bader charges (Tang, Sanville & Henkelman 2009,
:mod:`rhograph.analysis.bader`) of the full and of the reduced structure are computed from the DFT density
and from the predicted density. For every remaining atom n

    Δq_n = q_n(removed) − q_n(full),      q = Z_val − N_Bader   (electrons),

from DFT (Δq_n) and from the model (Δq̂_n). Eq. 3 sums the absolute differences over the atoms of a system
and averages over the systems i of a test set:

    ε_total = (1/|S|) Σ_{i∈S} Σ_{n=1}^{|Q^i|} |Δq_n^i − Δq̂_n^i|.

:class:`ChargeTransfer` holds one system (``total_error`` is the inner sum, ``near_error`` the inner sum
restricted to atoms within ``near_radius`` of the removed atom — the paper does not state its radius, the
default here is 4 Å); :func:`mean_errors` is the outer average. Atoms of the two structures are matched by
position (per element, minimum total displacement, minimum image in periodic directions), which also
identifies the removed atom; distances are measured in the full structure from the removed atom (minimum
image). Units: Å, electrons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import ase
import numpy as np
from scipy.optimize import linear_sum_assignment

from rhograph.analysis.bader import BaderResult, bader, minimum_image_distances
from rhograph.analysis.metrics import check_same_grid
from rhograph.errors import ConfigError, StructureError
from rhograph.io.density_grid import DensityGrid

__all__ = [
    "AtomMatch",
    "ChargeTransfer",
    "charge_transfer",
    "charge_transfer_from_bader",
    "match_removed_atom",
    "mean_errors",
]

#: default radius (Å) of the "near atoms" of eq. 3
NEAR_RADIUS = 4.0
#: default largest displacement (Å) of a matched atom between the full and the reduced structure
MATCH_TOLERANCE = 1.0


@dataclass(frozen=True)
class AtomMatch:
    """Correspondence between a structure and the same structure with one atom removed.

    Shapes:
        full_index: ``(N − 1,)`` int, index in the full structure of each atom of the reduced structure.
        displacement: ``(N − 1,)`` Å, minimum-image distance between the matched positions.
    """

    removed_index: int
    full_index: np.ndarray
    displacement: np.ndarray


def match_removed_atom(full: ase.Atoms, removed: ase.Atoms, *, tolerance: float = MATCH_TOLERANCE) -> AtomMatch:
    """Match the atoms of ``removed`` to those of ``full`` by position and find the removed atom.

    Atoms of each element are paired by minimum total displacement (Hungarian assignment on minimum-image
    distances in the full structure's cell); the one unpaired atom of ``full`` is the removed one.

    Raises:
        StructureError: the structures do not differ by exactly one atom, or a matched atom moved more than
            ``tolerance`` Å.
    """
    n_full, n_removed = len(full), len(removed)
    count_full = Counter(full.get_chemical_symbols())
    count_removed = Counter(removed.get_chemical_symbols())
    extra = count_full - count_removed
    missing = count_removed - count_full
    if n_full != n_removed + 1 or sum(extra.values()) != 1 or missing:
        raise StructureError(
            f"structures differ by more than one atom: full has {n_full} atoms {dict(count_full)}, reduced has "
            f"{n_removed} atoms {dict(count_removed)}; expected the same atoms less one"
        )
    cell = np.asarray(full.cell.array)
    pbc = np.asarray(full.pbc, dtype=bool)
    full_symbols = np.array(full.get_chemical_symbols())
    removed_symbols = np.array(removed.get_chemical_symbols())
    full_index = np.empty(n_removed, dtype=np.int64)
    displacement = np.empty(n_removed)
    removed_index = -1
    for element in count_full:
        fi = np.flatnonzero(full_symbols == element)
        ri = np.flatnonzero(removed_symbols == element)
        dist = minimum_image_distances(removed.positions[ri], full.positions[fi], cell, pbc)  # (r, f)
        rows, cols = linear_sum_assignment(dist)
        full_index[ri[rows]] = fi[cols]
        displacement[ri[rows]] = dist[rows, cols]
        if len(fi) > len(ri):
            removed_index = int(np.setdiff1d(fi, fi[cols])[0])
    worst = int(np.argmax(displacement)) if n_removed else -1
    if n_removed and displacement[worst] > tolerance:
        raise StructureError(
            f"atom {worst} ({removed_symbols[worst]}) of the reduced structure is {displacement[worst]:.3f} Å from "
            f"its closest match in the full structure (tolerance {tolerance} Å): not the same structure less one atom"
        )
    return AtomMatch(removed_index=removed_index, full_index=full_index, displacement=displacement)


@dataclass(frozen=True)
class ChargeTransfer:
    """Change of Bader charges on removing one atom, from DFT and from the model, for one system.

    Shapes (one entry per remaining atom, in the order of the reduced structure):
        symbols: element symbols; full_index: ``(N − 1,)`` index in the full structure.
        distance: ``(N − 1,)`` Å, minimum-image distance to the removed atom (full structure).
        dq_dft, dq_model: ``(N − 1,)`` e, Δq = q(removed) − q(full).
    """

    symbols: list[str]
    full_index: np.ndarray
    distance: np.ndarray
    dq_dft: np.ndarray
    dq_model: np.ndarray
    removed_index: int
    removed_symbol: str
    removed_position: np.ndarray
    near_radius: float
    name: str = ""

    @property
    def abs_error(self) -> np.ndarray:
        """``|Δq − Δq̂|`` per remaining atom, e."""
        return np.abs(self.dq_dft - self.dq_model)

    @property
    def near(self) -> np.ndarray:
        """Atoms within ``near_radius`` of the removed atom, ``(N − 1,)`` bool."""
        return self.distance <= self.near_radius

    @property
    def total_error(self) -> float:
        """Inner sum of eq. 3: ``Σ_n |Δq_n − Δq̂_n|`` over all remaining atoms, e."""
        return float(self.abs_error.sum())

    @property
    def near_error(self) -> float:
        """Inner sum of eq. 3 over the atoms within ``near_radius`` only, e."""
        return float(self.abs_error[self.near].sum())

    def rows(self) -> list[dict]:
        """One JSON/CSV-ready row per remaining atom."""
        return [
            {
                "index": n,
                "full_index": int(self.full_index[n]),
                "symbol": self.symbols[n],
                "distance": float(self.distance[n]),
                "dq_dft": float(self.dq_dft[n]),
                "dq_model": float(self.dq_model[n]),
                "abs_error": float(self.abs_error[n]),
                "near": bool(self.near[n]),
            }
            for n in range(len(self.symbols))
        ]

    def summary(self) -> dict:
        return {
            "name": self.name,
            "removed_index": self.removed_index,
            "removed_symbol": self.removed_symbol,
            "removed_position": self.removed_position.tolist(),
            "atoms": len(self.symbols),
            "total_error": self.total_error,
            "near_error": self.near_error,
            "near_radius": self.near_radius,
            "near_atoms": int(self.near.sum()),
        }


def charge_transfer_from_bader(
    full: ase.Atoms,
    removed: ase.Atoms,
    full_ref: BaderResult,
    removed_ref: BaderResult,
    full_pred: BaderResult,
    removed_pred: BaderResult,
    *,
    near_radius: float = NEAR_RADIUS,
    tolerance: float = MATCH_TOLERANCE,
    name: str = "",
) -> ChargeTransfer:
    """:class:`ChargeTransfer` from four Bader analyses (full / reduced structure × DFT / model)."""
    for result, atoms, what in (
        (full_ref, full, "full"),
        (full_pred, full, "full"),
        (removed_ref, removed, "reduced"),
        (removed_pred, removed, "reduced"),
    ):
        if result.num_atoms != len(atoms):
            raise StructureError(f"Bader result with {result.num_atoms} atoms for the {what} structure of {len(atoms)}")
    match = match_removed_atom(full, removed, tolerance=tolerance)
    idx = match.full_index
    dq_dft = removed_ref.charges - full_ref.charges[idx]
    dq_model = removed_pred.charges - full_pred.charges[idx]
    removed_position = np.array(full.positions[match.removed_index])
    distance = minimum_image_distances(full.positions[idx], removed_position, full.cell.array, full.pbc)[:, 0]
    return ChargeTransfer(
        symbols=removed.get_chemical_symbols(),
        full_index=idx,
        distance=distance,
        dq_dft=dq_dft,
        dq_model=dq_model,
        removed_index=match.removed_index,
        removed_symbol=full.get_chemical_symbols()[match.removed_index],
        removed_position=removed_position,
        near_radius=near_radius,
        name=name,
    )


def _same_structure(a: DensityGrid, b: DensityGrid, tolerance: float) -> None:
    names = (a.source or "reference", b.source or "prediction")
    check_same_grid(a, b, names=names)
    if a.atoms.get_chemical_symbols() != b.atoms.get_chemical_symbols() or (
        len(a.atoms) and np.abs(a.atoms.positions - b.atoms.positions).max() > tolerance
    ):
        raise StructureError(f"{names[1]}: not the structure of {names[0]} (atoms differ)")


def charge_transfer(
    full_ref: DensityGrid,
    removed_ref: DensityGrid,
    full_pred: DensityGrid,
    removed_pred: DensityGrid,
    *,
    near_radius: float = NEAR_RADIUS,
    tolerance: float = MATCH_TOLERANCE,
    partition: str = "own",
    all_electron: tuple[DensityGrid, DensityGrid] | None = None,
    name: str = "",
    **bader_options,
) -> ChargeTransfer:
    """Charge transfer on removing one atom, from DFT and from predicted densities.

    Args:
        full_ref, removed_ref: DFT densities of the full and of the reduced structure (e/Å³).
        full_pred, removed_pred: predicted densities on the same grids and structures.
        near_radius: radius in Å of the near atoms of eq. 3.
        tolerance: largest displacement (Å) of a matched atom between the full and the reduced structure.
        partition: ``"own"`` (each density is partitioned by its own Bader volumes, as the Bader program
            run on the predicted density; default) or ``"reference"`` (predictions are integrated over the
            DFT Bader volumes).
        all_electron: all-electron densities (full, reduced) on the same grids, e.g. GPAW's
            ``rhograph label --all-electron`` files or VASP's AECCAR0 + AECCAR2: then every density (DFT and
            predicted) is integrated over the Bader volumes of its structure's all-electron density, whose maxima
            sit on the nuclei (Henkelman's ``-ref``; ``partition`` is then moot).
        name: label of the system for tables.
        **bader_options: passed to :func:`~rhograph.analysis.bader.bader` (``vacuum_threshold``,
            ``valence``, ``method``; ``valence`` cancels in Δq).

    Raises:
        StructureError: the structures do not differ by exactly one atom, or a prediction's structure differs
            from its reference.
        ValueError: a prediction is on another grid than its reference.
    """
    if partition not in ("own", "reference"):
        raise ConfigError(f"partition must be 'own' or 'reference', got {partition!r}")
    match = match_removed_atom(full_ref.atoms, removed_ref.atoms, tolerance=tolerance)  # fail early
    _same_structure(full_ref, full_pred, 1e-3)
    _same_structure(removed_ref, removed_pred, 1e-3)
    bader_options.pop("partition", None)
    valence_full = bader_options.pop("valence", None)
    if valence_full is None:  # Δq does not depend on it: Z, so no count has to be found
        valence_full = full_ref.atoms.numbers.astype(np.float64)
    valence_removed = np.asarray(valence_full)[match.full_index]
    if all_electron is not None:
        from rhograph.analysis.metrics import check_same_grid

        for density, reference in ((full_ref, all_electron[0]), (removed_ref, all_electron[1])):
            check_same_grid(density, reference, names=(density.source or "density", reference.source or "AE density"))
        volumes_full, volumes_removed = all_electron
    else:
        volumes_full, volumes_removed = None, None
    b_full_ref = bader(full_ref, valence=valence_full, partition=volumes_full, **bader_options)
    b_removed_ref = bader(removed_ref, valence=valence_removed, partition=volumes_removed, **bader_options)
    if partition == "reference" and all_electron is None:
        volumes_full, volumes_removed = full_ref, removed_ref
    b_full_pred = bader(full_pred, valence=valence_full, partition=volumes_full, **bader_options)
    b_removed_pred = bader(removed_pred, valence=valence_removed, partition=volumes_removed, **bader_options)
    return charge_transfer_from_bader(
        full_ref.atoms,
        removed_ref.atoms,
        b_full_ref,
        b_removed_ref,
        b_full_pred,
        b_removed_pred,
        near_radius=near_radius,
        tolerance=tolerance,
        name=name,
    )


def mean_errors(results: Sequence[ChargeTransfer]) -> dict[str, float]:
    """Outer average of eq. 3 over systems: mean ``total_error`` and mean ``near_error`` (e)."""
    if not results:
        raise ValueError("mean_errors: no charge-transfer results given")
    return {
        "systems": len(results),
        "total_error": float(np.mean([r.total_error for r in results])),
        "near_error": float(np.mean([r.near_error for r in results])),
    }
