"""Variability of K densities of one structure, e.g. from different XC functionals (paper eq. 2).

Jørgensen & Bhowmik, npj Comput. Mater. 8, 183 (2022), "Prediction accuracy": for every grid point the
median of the K densities is the reference and the mean absolute deviation around it is integrated,

    ε_mad = ∫_V (1/K) Σ_{k=1}^{K} |ρ_k(x) − ρ_median(x)| dV / ∫_V |ρ_1(x)| dV,

reported in percent. The denominator is the first density ρ_1, exactly as printed in eq. 2
(``normalize="first"``, default); ``normalize="median"`` divides by ∫|ρ_median| dV instead (the two differ
by the spread of the electron counts). For even K the median is the mean of the two middle values
(numpy). The paper finds 0.60 % on average over 1000 QM9 molecules with eight functionals.

Besides ε_mad, each member's own deviation ``100 · ∫|ρ_k − ρ_median| dV / ∫|ρ_1| dV`` is reported (which
functional is farthest from the consensus); ε_mad is their mean. Units: densities e/Å³, results percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rhograph.analysis.metrics import check_same_grid
from rhograph.errors import ConfigError, IncompatibleInputsError
from rhograph.io.density_grid import DensityGrid

__all__ = ["Variability", "variability"]

_NORMALIZE = ("first", "median")
#: grid points per slab (times K) processed at once, to bound memory on large grids
_SLAB_POINTS = 4_000_000


@dataclass(frozen=True)
class Variability:
    """Result of :func:`variability`.

    Shapes:
        member_deviation: ``(K,)`` percent, ``100 · ∫|ρ_k − ρ_median| dV / denominator``.
        electrons: ``(K,)`` electrons, ∫ρ_k dV.
    """

    emad: float
    member_deviation: np.ndarray
    electrons: np.ndarray
    names: list[str]
    normalize: str

    def summary(self) -> dict:
        return {
            "emad": self.emad,
            "normalize": self.normalize,
            "members": [
                {"name": n, "deviation": float(d), "electrons": float(e)}
                for n, d, e in zip(self.names, self.member_deviation, self.electrons, strict=True)
            ],
        }


#: Largest displacement (Å) of an atom between two densities still counted as the same structure.
POSITION_TOLERANCE = 1e-3


def check_same_structure(
    first: DensityGrid, second: DensityGrid, *, names: tuple[str, str], tolerance: float = POSITION_TOLERANCE
) -> None:
    """Refuse two densities of different structures (elements, their order, or positions beyond ``tolerance`` Å,
    periodic images allowed along periodic axes).

    Raises:
        IncompatibleInputsError: naming both files and the first difference.
    """
    a, b = first.atoms, second.atoms
    if a.get_chemical_formula() != b.get_chemical_formula() or list(a.numbers) != list(b.numbers):
        raise IncompatibleInputsError(
            f"{names[1]} holds another structure ({b.get_chemical_formula()}) than {names[0]} "
            f"({a.get_chemical_formula()}); ε_mad compares densities of one structure"
        )
    delta = b.positions - a.positions
    if a.pbc.any() and abs(np.linalg.det(a.cell.array)) > 0:
        frac = np.linalg.solve(a.cell.array.T, delta.T).T
        frac[:, a.pbc] -= np.round(frac[:, a.pbc])
        delta = frac @ a.cell.array
    moved = np.linalg.norm(delta, axis=1)
    if moved.max() > tolerance:
        index = int(moved.argmax())
        raise IncompatibleInputsError(
            f"{names[1]} holds another geometry than {names[0]}: atom {index} ({a.get_chemical_symbols()[index]}) "
            f"is {moved[index]:.3g} Å away; ε_mad compares densities of one structure"
        )


def variability(grids: Sequence[DensityGrid | np.ndarray], *, normalize: str = "first") -> Variability:
    """ε_mad of paper eq. 2 (percent) over K ≥ 2 densities of the same structure on the same grid.

    Args:
        grids: the K densities (e/Å³), as grids (checked for equal shape, cell and origin) or arrays of one
            shape (a uniform grid: the voxel volume cancels).
        normalize: ``"first"`` (∫|ρ_1| dV, eq. 2 as printed) or ``"median"`` (∫|ρ_median| dV).

    Raises:
        ValueError: fewer than two densities, different grids or structures, unknown ``normalize``, or a zero
            denominator.
    """
    if normalize not in _NORMALIZE:
        raise ConfigError(f"normalize must be one of {_NORMALIZE}, got {normalize!r}")
    if len(grids) < 2:
        raise ConfigError(f"variability needs at least 2 densities of the same structure, got {len(grids)}")
    names = []
    arrays = []
    for k, g in enumerate(grids):
        if isinstance(g, DensityGrid):
            first = grids[0]
            if isinstance(first, DensityGrid) and k:
                pair = (first.source or "density 1", g.source or f"density {k + 1}")
                check_same_grid(first, g, names=pair)
                check_same_structure(first, g, names=pair)
            names.append(g.source or f"density {k + 1}")
            arrays.append(g.values)
        else:
            names.append(f"density {k + 1}")
            arrays.append(np.asarray(g))
        if arrays[-1].shape != arrays[0].shape:
            raise IncompatibleInputsError(
                f"{names[-1]}: grid shape {arrays[-1].shape} differs from {names[0]} {arrays[0].shape}"
            )
    k_count = len(arrays)
    flat = [a.reshape(-1) for a in arrays]
    size = flat[0].size
    deviation = np.zeros(k_count)
    median_abs = 0.0
    slab = max(1, _SLAB_POINTS // k_count)
    for lo in range(0, size, slab):
        stack = np.stack([f[lo : lo + slab] for f in flat]).astype(np.float64)  # (K, slab)
        median = np.median(stack, axis=0)
        deviation += np.abs(stack - median).sum(axis=1)
        median_abs += float(np.abs(median).sum())
    first_abs = float(np.abs(flat[0].astype(np.float64)).sum())
    denominator = first_abs if normalize == "first" else median_abs
    if denominator == 0.0:
        raise IncompatibleInputsError(f"ε_mad undefined: ∫|ρ| dV of the {normalize} density is zero")
    member = 100.0 * deviation / denominator
    dv = grids[0].voxel_volume if isinstance(grids[0], DensityGrid) else 1.0
    electrons = np.array([float(f.sum(dtype=np.float64)) * dv for f in flat])
    if not isinstance(grids[0], DensityGrid):
        electrons[:] = np.nan  # unknown voxel volume
    return Variability(
        emad=float(member.mean()),
        member_deviation=member,
        electrons=electrons,
        names=names,
        normalize=normalize,
    )
