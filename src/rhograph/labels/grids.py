"""Label grids: the box of a molecule, the grid shape of a cell, ρ on the grid, and the electron-count check.

Molecules sit in an orthorhombic box spanning their extent plus ``vacuum`` on each side (DeepDFT's QM9
VASP cells leave at least 4 Å). Periodic cells use their own lattice. Either way the grid has
``ceil(|a_i| / spacing)`` points along cell vector ``a_i``, with point ``(i, j, k)`` at
``origin + (i/N1, j/N2, k/N3) @ cell`` (corner-aligned, the :class:`~rhograph.io.DensityGrid` convention).
Box and shape come from :mod:`rhograph.data.grid_geometry`, the builder prediction uses too.

Electron-count check: the grid sum ``Σ ρ ΔV`` must match the electron count ``N`` of the calculation within

    tolerance = rel · N                                           (valence density, rel = 10⁻³)
    tolerance = rel · N + 1.5 Σ_atoms n_1s Σ_{G≠0} (a² / (a² + G²))²     (all-electron)

A valence (pseudopotential) density is smooth: at 0.15 Å its grid sum is within 3·10⁻⁴ N for H–F. An
all-electron density has a cusp ``∝ exp(−a r)``, ``a = 2Z / a₀``, at every nucleus that no practical grid
resolves; by Poisson summation the Riemann sum of a 1s density deviates from its integral by
``Σ_{G≠0} (a² / (a² + G²))² cos(G·R)`` per electron, ``G`` running over the reciprocal lattice of the
voxel vectors and ``R`` the nucleus relative to the grid. The second term bounds that for ``n_1s = min(Z, 2)``
electrons per atom (factor 1.5 for the outer s shells). It is large on usual grids (≈ 20 % of N for water
at 0.1 Å): all-electron grids are coarse pictures of the cusps, and compact labels are the better form.
"""

from __future__ import annotations

import functools

import ase
import numpy as np

from rhograph.data.grid_geometry import GridSpec, grid_shape, molecule_box
from rhograph.io.density_grid import DensityGrid
from rhograph.labels.config import VALENCE_ELECTRON_TOLERANCE, LabelConfig
from rhograph.labels.evaluate import evaluate_density
from rhograph.labels.scf import ScfResult

BOHR_ANGSTROM = 0.52917721092
#: grid points generated and evaluated per step (bounds the memory of the position array)
GRID_CHUNK = 1 << 18

__all__ = ["density_on_grid", "electron_tolerance", "grid_shape", "label_geometry", "labelled_atoms", "molecule_box"]


def label_geometry(atoms: ase.Atoms, config: LabelConfig, periodic: bool) -> GridSpec:
    """The label grid of a structure: its lattice (periodic) or its vacuum box (molecule), at ``config.spacing``."""
    if periodic:
        cell, origin = np.asarray(atoms.cell.array, dtype=np.float64), np.zeros(3)
    else:
        cell, origin = molecule_box(atoms.positions, config.vacuum)
    return GridSpec(cell=cell, shape=grid_shape(cell, config.spacing), origin=origin)


def labelled_atoms(atoms: ase.Atoms, cell: np.ndarray, periodic: bool) -> ase.Atoms:
    """A copy of the structure as it is stored with its labels (molecules get the box as their cell)."""
    out = ase.Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=cell, pbc=periodic)
    return out


def density_on_grid(result: ScfResult, atoms: ase.Atoms, spec: GridSpec, *, source: str | None = None) -> DensityGrid:
    """Evaluate the SCF density (and spin density, if unrestricted) on the grid ``spec`` (values e/Å³ float32)."""
    shape = spec.shape
    grid = DensityGrid(
        atoms=atoms, values=np.zeros(shape, dtype=np.float32), cell=spec.cell, origin=spec.origin, source=source
    )
    values = grid.values.reshape(-1)  # a view: filled in place
    dm_spin = result.dm_spin
    spin = None if dm_spin is None else np.zeros(grid.num_points, dtype=np.float32)
    for start in range(0, grid.num_points, GRID_CHUNK):
        flat = np.arange(start, min(start + GRID_CHUNK, grid.num_points))
        positions = grid.grid_positions(flat)  # (chunk, 3) Å
        values[flat] = evaluate_density(result.system, result.dm, positions, kpts=result.kpts)
        if spin is not None and dm_spin is not None:
            spin[flat] = evaluate_density(result.system, dm_spin, positions, kpts=result.kpts)
    if spin is not None:
        grid.spin = spin.reshape(shape)
    return grid


@functools.lru_cache(maxsize=256)
def _cusp_sum(z: int, reciprocal_key: tuple[float, ...], images: int = 32) -> float:
    """``Σ_{G≠0} (a² / (a² + G²))²`` for nuclear charge ``z`` on a grid with reciprocal rows ``b_i`` (1/Å)."""
    reciprocal = np.asarray(reciprocal_key).reshape(3, 3)
    a2 = (2.0 * z / BOHR_ANGSTROM) ** 2
    k = np.arange(-images, images + 1, dtype=np.float64)
    total = 0.0
    for k1 in k:  # one plane of reciprocal vectors at a time: (2M+1)² vectors
        n = np.stack(np.meshgrid([k1], k, k, indexing="ij"), axis=-1).reshape(-1, 3)
        g2 = ((n @ reciprocal) ** 2).sum(axis=1)
        g2 = g2[g2 > 0]
        total += float(np.sum((a2 / (a2 + g2)) ** 2))
    return total


def cusp_allowance(numbers: np.ndarray, voxel_vectors: np.ndarray) -> float:
    """Bound (electrons) on the grid-sum error from the nuclear cusps of all atoms (module docstring)."""
    reciprocal = 2.0 * np.pi * np.linalg.inv(np.asarray(voxel_vectors, dtype=np.float64)).T  # rows b_i, 1/Å
    key = tuple(np.round(reciprocal, 9).ravel().tolist())
    return 1.5 * sum(min(z, 2) * _cusp_sum(z, key) for z in np.asarray(numbers).tolist())


def electron_tolerance(config: LabelConfig, numbers: np.ndarray, voxel_vectors: np.ndarray, electrons: int) -> float:
    """Allowed |Σ ρ ΔV − N| in electrons for a grid with these voxel vectors (Å, rows)."""
    if config.electron_tolerance is not None:
        return config.electron_tolerance * electrons
    tolerance = VALENCE_ELECTRON_TOLERANCE * electrons
    if config.density == "all-electron":
        tolerance += cusp_allowance(numbers, voxel_vectors)
    return tolerance
