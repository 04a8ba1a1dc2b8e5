"""Grid-based Bader analysis: partition a density grid into atomic basins (zero-flux surfaces of ∇ρ).

Method (Tang, Sanville & Henkelman, J. Phys.: Condens. Matter 21, 084204 (2009); the original on-grid
scheme is Henkelman, Arnaldsson & Jónsson, Comput. Mater. Sci. 36, 354 (2006)):

1. **On-grid ascent.** Every voxel points to the one of its 26 neighbours with the largest
   ``(ρ_nb − ρ) / |Δr_nb|`` among the higher neighbours (Cartesian distances of the real, possibly
   skewed, voxel vectors). Voxels without a higher neighbour are the density maxima. Ties between equal
   densities are broken by the flat voxel index, so the ascent is a strict order and has no cycles.
2. **Near-grid trajectories.** From every voxel a steepest-ascent trajectory is followed on the grid
   with the correction vector of Tang et al.: at voxel p the index-space step is
   ``s = G⁻¹ g / max|G⁻¹ g|`` with ``g_a = ∂ρ/∂n_a`` (central differences along grid axis a) and
   ``G = V Vᵀ`` the metric of the voxel vectors ``V`` (rows), i.e. the true Cartesian gradient
   direction expressed in grid steps; the walker moves by ``round(s)`` and accumulates
   ``Δr ← Δr + s − round(s)``, stepping one extra grid point along any axis where ``|Δr| > ½``. If the
   near-grid step does not go uphill, the on-grid step of (1) is taken and ``Δr`` is reset. All
   trajectories advance together (vectorised lock-step).

   Tang et al. stop a trajectory at the first already assigned voxel and then repair the boundary voxels
   this mis-assigns (edge refinement: re-run until reaching an interior voxel, repeated until nothing
   changes). Here (a) voxels with no other on-grid basin within two voxels keep their on-grid label, and
   the other trajectories stop on reaching such a voxel or a maximum; (b) every voxel on a
   basin edge (a neighbour in another basin) is then walked all the way to its maximum, repeated until
   every edge voxel has been walked in full. Edge voxels thus carry exact near-grid assignments, which is
   what the refinement converges to; ``exhaustive=True`` walks every voxel to its maximum (the tests check
   that both agree). ``method="on-grid"`` gives the lattice-biased 2006 assignment of (1) alone.
3. **Atoms.** Each maximum (basin) is assigned to the nearest atom (minimum image in periodic
   directions); non-nuclear maxima therefore go to their nearest atom. A maximum that is as near to several
   atoms as the grid can tell (distances within one voxel diagonal of the nearest: the bond-centre maxima of
   a valence density of a homonuclear bond, as in silicon) is shared equally by them — assigning it whole to
   one of them by rounding would move a whole bond's charge (±1 e in Si) to one side. A symmetric maximum
   between grid points shows up as several grid maxima of exactly equal density (adjacent voxels, or, in skewed
   cells, voxels on either side of it): its position is taken as their common centre. The Bader program
   assigns such maxima whole; with a reference density whose maxima sit on the nuclei (``partition``) none is
   shared.

Periodic directions (``grid.pbc``) wrap; non-periodic ones do not (no neighbour beyond the grid edge,
one-sided differences there). Voxels with ``ρ < vacuum_threshold`` are vacuum: they belong to no atom and
their charge is reported separately (the ``-vac`` option of the Bader program).

Integrals: ``N_A = Σ_{v ∈ Ω_A} ρ_v · ΔV``, ``V_A = |Ω_A| · ΔV``; Bader charge ``q_A = Z_val,A − N_A``, with
``Z_val,A`` the electrons atom A brings *to this density* (Z for all-electron densities, ZVAL for VASP PAW,
the model card's counts for a prediction): :func:`~rhograph.analysis.valence.resolve_valence` finds them.

Reference density (Henkelman's ``-ref``): ``partition`` gives the density whose basins are used, e.g. the
all-electron AECCAR0 + AECCAR2 of VASP, whose maxima sit on the nuclei, while ``grid`` (the valence CHGCAR)
is integrated. Negative densities (small ones are normal in PAW pseudo densities) raise a
:class:`NegativeDensityWarning`; a density with no positive value is refused.
Units: Å, Å³, e/Å³, electrons.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
from scipy import ndimage

from rhograph.analysis.valence import resolve_valence
from rhograph.errors import DensityFileError, StructureError
from rhograph.io.density_grid import DensityGrid

log = logging.getLogger(__name__)

__all__ = [
    "BaderResult",
    "NegativeDensityWarning",
    "bader",
    "check_density",
    "minimum_image_distances",
    "sum_densities",
]

#: default vacuum threshold in e/Å³ (the Bader program's automatic vacuum value)
DEFAULT_VACUUM = 1e-3
_METHODS = ("near-grid", "on-grid")
#: pass 1 of the near-grid scheme trusts on-grid labels this many voxels away from any on-grid boundary
_DEEP_RADIUS = 2


class NegativeDensityWarning(UserWarning):
    """The density has negative values: they are integrated into the basins (or the vacuum) they fall in."""


@dataclass(frozen=True)
class BaderResult:
    """Bader partition of one density grid.

    ``labels`` index the basins (density maxima); ``atom_labels`` the atoms. ``-1`` marks vacuum.

    Shapes:
        labels: ``(N1, N2, N3)`` int32, basin index per voxel, ``-1`` = vacuum.
        maxima_indices: ``(M, 3)`` int, grid indices of the maxima.
        maxima_positions: ``(M, 3)`` Å (the centre of the maximum's plateau of equal density voxels).
        maxima_atoms: ``(M,)`` int, atom each basin is assigned to (the nearest; see ``shares``).
        maxima_distances: ``(M,)`` Å, distance of each maximum (or of the centre of a symmetric group of equal
            maxima) to its atom (minimum image).
        maxima_populations / maxima_volumes: ``(M,)`` electrons / Å³.
        atom_populations: ``(n_atoms,)`` electrons; atom_volumes: ``(n_atoms,)`` Å³.
        valence: ``(n_atoms,)`` electrons (NaN where unknown); charges: ``(n_atoms,)`` e,
            ``valence − population`` (NaN where the valence is unknown).
        symbols: n_atoms element symbols; positions: ``(n_atoms, 3)`` Å.
        valence_source: where the valence counts came from, in words.
        shares: ``(basin, atom, weight)`` arrays: the fraction of each basin that goes to each atom (weight 1
            for the nearest atom; ``1/k`` for each of the ``k`` atoms of a shared maximum, module docstring).
    """

    labels: np.ndarray
    maxima_indices: np.ndarray
    maxima_positions: np.ndarray
    maxima_atoms: np.ndarray
    maxima_distances: np.ndarray
    maxima_populations: np.ndarray
    maxima_volumes: np.ndarray
    atom_populations: np.ndarray
    atom_volumes: np.ndarray
    valence: np.ndarray
    charges: np.ndarray
    vacuum_population: float
    vacuum_volume: float
    voxel_volume: float
    symbols: list[str]
    positions: np.ndarray
    method: str
    vacuum_threshold: float | None
    valence_source: str = ""
    shares: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def num_atoms(self) -> int:
        return len(self.symbols)

    @property
    def total_population(self) -> float:
        """Σ atomic populations + vacuum charge = ∫ρ dV over the grid (electrons)."""
        return float(self.atom_populations.sum() + self.vacuum_population)

    @property
    def atom_labels(self) -> np.ndarray:
        """Atom index per voxel, ``(N1, N2, N3)`` int32, ``-1`` = vacuum."""
        lookup = np.append(self.maxima_atoms.astype(np.int32), np.int32(-1))
        return lookup[self.labels]  # index -1 picks the appended vacuum entry

    def integrate(self, values: np.ndarray) -> tuple[np.ndarray, float]:
        """Integrate another field on the same grid over these atomic volumes.

        Args:
            values: ``(N1, N2, N3)`` field (e.g. a predicted density in e/Å³ or ``|ρ − ρ̂|``).

        Returns:
            per-atom integrals ``(n_atoms,)`` and the vacuum integral (field units × Å³).
        """
        values = np.asarray(values)
        if values.shape != self.labels.shape:
            raise ValueError(f"field shape {values.shape} differs from the Bader grid {self.labels.shape}")
        m = len(self.maxima_atoms)
        sums = np.bincount(self.labels.ravel() + 1, weights=values.ravel().astype(np.float64), minlength=m + 1)
        return _to_atoms(sums[1:], self._shares(), self.num_atoms) * self.voxel_volume, float(
            sums[0] * self.voxel_volume
        )

    def _shares(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.shares is not None:
            return self.shares
        m = len(self.maxima_atoms)
        return np.arange(m), np.asarray(self.maxima_atoms), np.ones(m)

    def table(self) -> list[dict]:
        """One JSON-ready row per atom: index, symbol, position (Å), volume (Å³), population, valence, charge
        (``None`` for an unknown valence and its charge)."""
        return [
            {
                "index": i,
                "symbol": self.symbols[i],
                "x": float(self.positions[i, 0]),
                "y": float(self.positions[i, 1]),
                "z": float(self.positions[i, 2]),
                "volume": float(self.atom_volumes[i]),
                "population": float(self.atom_populations[i]),
                "valence": _finite_or_none(self.valence[i]),
                "charge": _finite_or_none(self.charges[i]),
            }
            for i in range(self.num_atoms)
        ]


# ---------------------------------------------------------------------------------------------- helpers
def _to_atoms(per_basin: np.ndarray, shares: tuple[np.ndarray, np.ndarray, np.ndarray], n_atoms: int) -> np.ndarray:
    """Per-atom sums of per-basin quantities, split by ``shares`` = (basin, atom, weight)."""
    basin, atom, weight = shares
    return np.bincount(atom, weights=per_basin[basin] * weight, minlength=n_atoms)


def _shared_maxima(dist: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(basin, atom, weight) of maxima split equally between the atoms within ``tolerance`` of the nearest."""
    nearest = dist.min(axis=1, keepdims=True)
    tied = dist <= nearest + tolerance
    basin, atom = np.nonzero(tied)
    weight = 1.0 / tied.sum(axis=1)[basin]
    return basin, atom, weight


def _plateau_centres(rho: np.ndarray, maxima: np.ndarray, pbc: np.ndarray, voxel_vectors: np.ndarray) -> np.ndarray:
    """Index-space offsets (M, 3) from each maximum voxel to the centre of its plateau: the maximum and those of
    its 26 neighbours with the same density (a symmetric maximum between grid points, e.g. a bond centre that
    the grid straddles, shows up as two or more voxels of equal value; the tie-break keeps one of them)."""
    shape = np.array(rho.shape)
    ijk = np.stack(np.unravel_index(maxima, rho.shape), axis=1)
    total = np.zeros((len(maxima), 3))
    count = np.ones(len(maxima))
    top = rho.ravel()[maxima]
    for offset in _offsets():
        nb = ijk + offset
        inside = np.all((nb >= 0) & (nb < shape) | pbc, axis=1)
        nb = np.where(inside[:, None], nb % shape, 0)
        same = inside & (rho[tuple(nb.T)] == top)
        total[same] += offset
        count += same
    return total / count[:, None]


def _symmetric_centres(
    positions: np.ndarray, values: np.ndarray, cell: np.ndarray, pbc: np.ndarray, radius: float
) -> np.ndarray:
    """Positions (M, 3) Å where maxima of exactly equal density within ``radius`` of each other are replaced by
    their common centre (minimum image): a symmetric maximum that falls between grid points can appear as two
    separate grid maxima of the same value on either side of it (skewed cells)."""
    centres = positions.copy()
    _, group = np.unique(values, return_inverse=True)
    for g in np.flatnonzero(np.bincount(group) > 1):
        members = np.flatnonzero(group == g)
        delta = positions[members][None, :, :] - positions[members][:, None, :]
        if pbc.any():
            frac = np.linalg.solve(cell.T, delta.reshape(-1, 3).T).T
            frac[:, pbc] -= np.round(frac[:, pbc])
            delta = (frac @ cell).reshape(delta.shape)
        near = np.linalg.norm(delta, axis=2) <= radius
        _, cluster = _connected(near)
        for c in np.unique(cluster):
            rows = np.flatnonzero(cluster == c)
            if len(rows) > 1:
                first = rows[0]
                centres[members[rows]] = positions[members[first]] + delta[first, rows].mean(axis=0)
    return centres


def _connected(adjacency: np.ndarray) -> tuple[int, np.ndarray]:
    from scipy.sparse.csgraph import connected_components

    return connected_components(adjacency, directed=False)


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def check_density(grid: DensityGrid, what: str = "density") -> None:
    """Refuse a density without any positive value; warn (:class:`NegativeDensityWarning`) about negative ones.

    Raises:
        DensityFileError: no voxel has ρ > 0 (all zero, or all negative): there is nothing to partition.
    """
    where = grid.source or f"<{what}>"
    values = grid.values
    top = float(values.max())
    if not top > 0.0:
        zero = top == 0.0 and float(values.min()) == 0.0
        problem = "zero everywhere" if zero else f"nowhere positive (max {top:.3g} e/Å³)"
        raise DensityFileError(where, f"{what} is {problem}: nothing to partition into Bader volumes")
    negative = values < 0
    count = int(negative.sum())
    if count:
        charge = float(values[negative].sum(dtype=np.float64)) * grid.voxel_volume
        warnings.warn(
            f"{where}: {count} of {values.size} voxels ({100 * count / values.size:.2g} %) of the {what} are "
            f"negative (min {float(values.min()):.3g} e/Å³, {charge:.3g} e in all); they count in the basin or "
            "vacuum they fall in (small negative values are normal in PAW / pseudopotential densities)",
            NegativeDensityWarning,
            stacklevel=3,
        )


def _offsets() -> np.ndarray:
    """The 26 neighbour offsets, ``(26, 3)`` int."""
    return np.array([o for o in product((-1, 0, 1), repeat=3) if o != (0, 0, 0)], dtype=np.int64)


def _pad(array: np.ndarray, pbc: np.ndarray, fill: float) -> np.ndarray:
    """Pad by one voxel: wrapped along periodic axes, ``fill`` along the others."""
    padded = np.pad(array, 1, mode="wrap")
    for axis in range(3):
        if not pbc[axis]:
            index: list[slice | int] = [slice(None)] * 3
            index[axis] = 0
            padded[tuple(index)] = fill
            index[axis] = -1
            padded[tuple(index)] = fill
    return padded


def _ongrid_next(rho: np.ndarray, pbc: np.ndarray, voxel_vectors: np.ndarray) -> np.ndarray:
    """Flat index of the steepest-ascent neighbour of every voxel (itself at maxima), ``(N,)`` int64."""
    shape = rho.shape
    n = rho.size
    index = np.arange(n, dtype=np.int64).reshape(shape)
    rho_pad = _pad(rho, pbc, -np.inf)
    index_pad = _pad(index, pbc, -1)
    best_score = np.full(shape, -1.0)
    best = index.copy()
    for o in _offsets():
        length = float(np.linalg.norm(o @ voxel_vectors))
        window = tuple(slice(1 + o[a], 1 + o[a] + shape[a]) for a in range(3))
        nb_rho = rho_pad[window]
        nb_index = index_pad[window]
        higher = (nb_rho > rho) | ((nb_rho == rho) & (nb_index > index))
        score = np.where(higher, (nb_rho - rho) / length, -1.0)
        better = score > best_score
        best_score = np.where(better, score, best_score)
        best = np.where(better, nb_index, best)
    return best.ravel()


def _resolve(pointer: np.ndarray) -> np.ndarray:
    """Follow pointers to their fixed points by pointer jumping (log₂ of the path length rounds)."""
    while True:
        jumped = pointer[pointer]
        if np.array_equal(jumped, pointer):
            return pointer
        pointer = jumped


def _step_field(rho: np.ndarray, pbc: np.ndarray, voxel_vectors: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Steepest-ascent direction in grid steps at the flat voxels ``where``, largest component ±1.

    Returns a ``(N, 3)`` float32 field, zero outside ``where`` and where ∇ρ = 0.
    """
    g_index = np.empty((len(where), 3))  # ∂ρ/∂n_a in e/Å³ per grid step
    for axis in range(3):
        if pbc[axis] and rho.shape[axis] > 2:
            g = 0.5 * (np.roll(rho, -1, axis=axis) - np.roll(rho, 1, axis=axis))
        elif rho.shape[axis] > 1:
            g = np.gradient(rho, axis=axis)  # central inside, one-sided at the edges
        else:
            g = np.zeros_like(rho)
        g_index[:, axis] = g.ravel()[where]
    metric_inv = np.linalg.inv(voxel_vectors @ voxel_vectors.T)
    step = g_index @ metric_inv  # Cartesian ∇ρ expressed in grid steps (metric_inv is symmetric)
    scale = np.abs(step).max(axis=1, keepdims=True)
    step = np.divide(step, scale, out=np.zeros_like(step), where=scale > 0)
    field = np.zeros((rho.size, 3), dtype=np.float32)
    field[where] = step
    return field


def _walk(
    rho_flat: np.ndarray,
    shape: tuple[int, int, int],
    pbc: np.ndarray,
    step_field: np.ndarray,
    ongrid: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
) -> np.ndarray:
    """Near-grid trajectories from the flat voxels ``start`` until each reaches a voxel with ``stop`` set.

    All walkers advance together; each step is uphill in the strict (ρ, index) order, so every walker
    reaches a maximum (``stop`` must be set at all maxima). Returns the flat stop voxel of each walker.
    """
    dims = np.asarray(shape, dtype=np.int64)
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.int64)
    result = np.empty(len(start), dtype=np.int64)
    slot = np.arange(len(start))
    cur = start.astype(np.int64)
    pos = np.stack(np.unravel_index(cur, shape), axis=1).astype(np.int64)  # (A, 3) grid indices
    dr = np.zeros((len(start), 3), dtype=np.float32)  # accumulated correction, grid steps
    steps = 0
    while len(cur):
        steps += 1
        s = step_field[cur]  # (A, 3)
        rounded = np.rint(s)
        dr += s - rounded
        extra = np.rint(dr)
        dr -= extra
        cand = pos + rounded.astype(np.int64) + extra.astype(np.int64)
        inside = np.ones(len(cur), dtype=bool)
        for a in range(3):
            if pbc[a]:
                cand[:, a] %= dims[a]
            else:
                inside &= (cand[:, a] >= 0) & (cand[:, a] < dims[a])
                np.clip(cand[:, a], 0, dims[a] - 1, out=cand[:, a])
        cand_flat = cand @ strides
        rho_c = rho_flat[cand_flat]
        rho_p = rho_flat[cur]
        uphill = inside & ((rho_c > rho_p) | ((rho_c == rho_p) & (cand_flat > cur)))
        fallback = ~uphill
        if fallback.any():  # near-grid step not uphill: on-grid step, reset the correction
            cand_flat[fallback] = ongrid[cur[fallback]]
            cand[fallback] = np.stack(np.unravel_index(cand_flat[fallback], shape), axis=1)
            dr[fallback] = 0.0
        cur = cand_flat
        pos = cand
        done = stop[cur]
        if done.any():
            result[slot[done]] = cur[done]
            keep = ~done
            cur, pos, dr, slot = cur[keep], pos[keep], dr[keep], slot[keep]
    log.debug("near-grid: %d trajectories in %d lock-steps", len(start), steps)
    return result


def _differs_nearby(labels: np.ndarray, vacuum: np.ndarray, pbc: np.ndarray, radius: int) -> np.ndarray:
    """True where another basin label occurs within ``radius`` voxels (box); vacuum counts as no label."""
    mode = ["wrap" if p else "nearest" for p in pbc]
    size = 2 * radius + 1
    high = ndimage.maximum_filter(np.where(vacuum, -1, labels), size=size, mode=mode)
    low = ndimage.minimum_filter(np.where(vacuum, np.iinfo(labels.dtype).max, labels), size=size, mode=mode)
    return (high != low) & ~vacuum


def _neargrid_labels(
    rho: np.ndarray,
    pbc: np.ndarray,
    voxel_vectors: np.ndarray,
    vacuum: np.ndarray,
    ongrid: np.ndarray,
    is_max: np.ndarray,
    basin_of_max: np.ndarray,
    exhaustive: bool,
) -> np.ndarray:
    """Near-grid basin label of every voxel (flat, ``-1`` in vacuum); see :func:`bader` for the scheme."""
    shape = rho.shape
    rho_flat = rho.ravel()
    active = np.flatnonzero(~vacuum.ravel())
    step_field = _step_field(rho, pbc, voxel_vectors, active)
    labels = np.full(rho.size, -1, dtype=np.int32)
    if exhaustive:
        start = active[~is_max[active]]
        labels[is_max] = basin_of_max[is_max]
        labels[start] = basin_of_max[_walk(rho_flat, shape, pbc, step_field, ongrid, start, is_max)]
        return labels
    # pass 1: deep inside an on-grid basin the label is taken as is; other walkers stop on reaching such a voxel
    ongrid_labels = np.where(vacuum.ravel(), -1, basin_of_max[_resolve(ongrid)]).astype(np.int32)
    deep = ~_differs_nearby(ongrid_labels.reshape(shape), vacuum, pbc, _DEEP_RADIUS).ravel() & ~vacuum.ravel()
    stop = deep | is_max
    labels[stop] = ongrid_labels[stop]
    start = active[~stop[active]]
    labels[start] = ongrid_labels[_walk(rho_flat, shape, pbc, step_field, ongrid, start, stop)]
    # pass 2 (edge refinement): every voxel next to another basin is walked all the way to its maximum;
    # repeated until no voxel on an edge is left that was not walked in full
    walked = is_max.copy()
    for _ in range(rho.size):
        edge = _differs_nearby(labels.reshape(shape), vacuum, pbc, 1).ravel()
        todo = np.flatnonzero(edge & ~walked)
        if not len(todo):
            break
        labels[todo] = basin_of_max[_walk(rho_flat, shape, pbc, step_field, ongrid, todo, is_max)]
        walked[todo] = True
    return labels


def minimum_image_distances(points: np.ndarray, positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Distances (Å) between every point and every position, minimum image along periodic axes.

    Shapes:
        points: ``(P, 3)`` Å; positions: ``(Q, 3)`` Å; cell: ``(3, 3)`` Å rows; pbc: ``(3,)`` bool.
        returns ``(P, Q)`` Å.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    pbc = np.asarray(pbc, dtype=bool)
    cell = np.asarray(cell, dtype=np.float64)
    shifts = np.array([s for s in product((-1, 0, 1), repeat=3) if all(pbc[a] or s[a] == 0 for a in range(3))])
    inv = np.linalg.inv(cell) if pbc.any() else None
    out = np.empty((len(points), len(positions)))
    chunk = max(1, 2_000_000 // max(1, len(positions) * len(shifts)))
    for lo in range(0, len(points), chunk):
        diff = points[lo : lo + chunk, None, :] - positions[None, :, :]  # (p, Q, 3)
        if inv is not None:
            frac = diff @ inv
            frac[..., pbc] -= np.rint(frac[..., pbc])
            diff = frac @ cell
            images = diff[:, :, None, :] + (shifts @ cell)[None, None, :, :]  # (p, Q, S, 3)
            out[lo : lo + chunk] = np.sqrt((images**2).sum(-1)).min(axis=-1)
        else:
            out[lo : lo + chunk] = np.sqrt((diff**2).sum(-1))
    return out


def sum_densities(grids: Sequence[DensityGrid]) -> DensityGrid:
    """The sum of densities on one grid, e.g. AECCAR0 + AECCAR2 as the reference of a Bader partition.

    Raises:
        ValueError: no grids. IncompatibleInputsError: grids that differ in shape, cell or origin.
    """
    if not grids:
        raise ValueError("sum_densities: no densities given")
    from rhograph.analysis.metrics import check_same_grid

    first = grids[0]
    total = np.asarray(first.values, dtype=np.float64).copy()
    for other in grids[1:]:
        check_same_grid(first, other)
        total += other.values
    name = " + ".join(g.source or f"density {k + 1}" for k, g in enumerate(grids))
    return DensityGrid(atoms=first.atoms.copy(), values=total, cell=first.cell, origin=first.origin, source=name)


# ---------------------------------------------------------------------------------------------- main
def bader(
    grid: DensityGrid,
    *,
    vacuum_threshold: float | None = DEFAULT_VACUUM,
    valence: np.ndarray | Sequence[float] | Mapping[str, float] | None = None,
    method: str = "near-grid",
    partition: DensityGrid | None = None,
    exhaustive: bool = False,
    card: Mapping[str, Any] | None = None,
) -> BaderResult:
    """Bader analysis of a density grid (see the module docstring for the algorithm).

    Args:
        grid: density in e/Å³ to integrate; ``grid.pbc`` decides which grid axes wrap.
        vacuum_threshold: voxels with ``ρ < vacuum_threshold`` (e/Å³, of the partitioning density) are
            vacuum; ``None`` assigns every voxel to an atom.
        valence: electrons each atom brings to this density: ``(n_atoms,)`` per atom, or a mapping element
            symbol -> electrons (other elements found as for ``None``). ``None`` (default): found by
            :func:`~rhograph.analysis.valence.resolve_valence` — the model ``card``, the POTCAR / OUTCAR beside
            a CHGCAR, or inferred from ∫ρ dV (Z for all-electron, the outer-shell counts for valence
            densities); unknown counts give NaN charges and a ``ValenceWarning``.
        method: ``"near-grid"`` (Tang et al. 2009, default) or ``"on-grid"`` (2006, lattice-biased).
        partition: optional density on the same grid whose basins are used (Henkelman's ``-ref``: e.g. the
            DFT reference when integrating a prediction, or the all-electron AECCAR0 + AECCAR2 of a VASP
            run); default ``grid`` itself.
        exhaustive: near-grid only: walk every voxel to its maximum instead of taking the label of voxels
            deep inside an on-grid basin (slower; used to check the default scheme).
        card: model card of the model that predicted ``grid`` (its ``electrons_per_element``), for ``valence``.

    Returns:
        a :class:`BaderResult`; ``charges = valence − atom_populations``.

    Raises:
        ValueError: unknown method or bad valence length.
        IncompatibleInputsError: ``partition`` on another grid.
        DensityFileError: ``grid`` or ``partition`` has no positive value.
        StructureError: density maxima exist but the structure has no atoms.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    atoms = grid.atoms
    n_atoms = len(atoms)
    if partition is not None:
        from rhograph.analysis.metrics import check_same_grid

        check_same_grid(grid, partition, names=(grid.source or "density", partition.source or "reference density"))
        check_density(partition, "reference density")
    check_density(grid)
    if valence is None or isinstance(valence, Mapping):
        resolved = resolve_valence(grid, given=valence, card=card)
        valence_arr, valence_source = resolved.values, resolved.source
    else:
        valence_arr = np.asarray(valence, dtype=np.float64).reshape(-1)
        valence_source = "given per atom"
        if len(valence_arr) != n_atoms:
            raise ValueError(f"valence has {len(valence_arr)} entries for {n_atoms} atoms")
    t0 = time.perf_counter()
    shape = grid.shape
    pbc = grid.pbc
    vv = grid.voxel_vectors
    rho = np.asarray((grid if partition is None else partition).values, dtype=np.float64)
    rho_flat = rho.ravel()
    vacuum = rho_flat < vacuum_threshold if vacuum_threshold is not None else np.zeros(rho_flat.size, dtype=bool)

    ongrid = _ongrid_next(rho, pbc, vv)
    is_max = (ongrid == np.arange(rho_flat.size)) & ~vacuum
    maxima = np.flatnonzero(is_max)
    basin_of_max = np.full(rho_flat.size, -1, dtype=np.int32)
    basin_of_max[maxima] = np.arange(len(maxima), dtype=np.int32)
    if method == "on-grid":
        labels = np.where(vacuum, np.int32(-1), basin_of_max[_resolve(ongrid)]).astype(np.int32)
    else:
        labels = _neargrid_labels(
            rho, pbc, vv, vacuum.reshape(shape), ongrid, is_max, basin_of_max, exhaustive=exhaustive
        )

    dv = grid.voxel_volume
    values = np.asarray(grid.values, dtype=np.float64).ravel()
    m = len(maxima)
    sums = np.bincount(labels + 1, weights=values, minlength=m + 1) * dv
    counts = np.bincount(labels + 1, minlength=m + 1) * dv
    maxima_positions = grid.grid_positions(maxima) + _plateau_centres(rho, maxima, pbc, vv) @ vv
    if m and n_atoms == 0:
        raise StructureError(f"{grid.source or '<density grid>'}: density has maxima but the structure has no atoms")
    if m:
        assert grid.cell is not None
        diagonal = max(float(np.linalg.norm(vv.T @ np.array(signs))) for signs in product((1, -1), repeat=3))
        centres = _symmetric_centres(maxima_positions, rho_flat[maxima], grid.cell, pbc, 1.5 * diagonal)
        dist = minimum_image_distances(centres, atoms.positions, grid.cell, pbc)
        maxima_atoms = dist.argmin(axis=1)
        maxima_distances = dist[np.arange(m), maxima_atoms]
        shares = _shared_maxima(dist, diagonal)
    else:
        maxima_atoms = np.zeros(0, dtype=np.int64)
        maxima_distances = np.zeros(0)
        shares = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    atom_pop = _to_atoms(sums[1:], shares, n_atoms)
    atom_vol = _to_atoms(counts[1:], shares, n_atoms)
    shared = np.unique(shares[0][shares[2] < 1])
    if len(shared):
        log.info(
            "%d of %d density maxima (%.3g e) are equally near several atoms (bond maxima of a valence density) "
            "and are shared equally between them; a reference density with nuclear maxima (--ref) avoids this",
            len(shared),
            m,
            float(sums[1:][shared].sum()),
        )
    far = maxima_distances > 1.0
    if far.any():
        log.info(
            "%d of %d density maxima lie more than 1 Å from any atom (non-nuclear maxima; %.3g e) and were "
            "assigned to their nearest atom",
            int(far.sum()),
            m,
            float(sums[1:][far].sum()),
        )
    seconds = time.perf_counter() - t0
    log.info(
        "Bader (%s): %d voxels, %d maxima, %d atoms in %.2f s (%.2g voxels/s)",
        method,
        rho_flat.size,
        m,
        n_atoms,
        seconds,
        rho_flat.size / max(seconds, 1e-9),
    )
    return BaderResult(
        labels=labels.reshape(shape),
        maxima_indices=np.stack(np.unravel_index(maxima, shape), axis=1),
        maxima_positions=maxima_positions,
        maxima_atoms=maxima_atoms,
        maxima_distances=maxima_distances,
        maxima_populations=sums[1:],
        maxima_volumes=counts[1:],
        atom_populations=atom_pop,
        atom_volumes=atom_vol,
        valence=valence_arr,
        charges=valence_arr - atom_pop,
        vacuum_population=float(sums[0]),
        vacuum_volume=float(counts[0]),
        voxel_volume=dv,
        symbols=atoms.get_chemical_symbols(),
        positions=np.array(atoms.positions, dtype=np.float64),
        method=method,
        vacuum_threshold=vacuum_threshold,
        valence_source=valence_source,
        shares=shares,
    )
