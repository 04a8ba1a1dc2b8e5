"""Tiny synthetic density data sets for tests and examples.

A synthetic structure is 2–4 atoms (H, C, O) at random positions in a small periodic cubic cell; its
density is a sum of element-specific Gaussians around the atoms (periodic images included), so a model
can learn it from the atom types and distances alone.
"""

from __future__ import annotations

from pathlib import Path

import ase
import numpy as np

from rhograph.io.density_grid import DensityGrid

#: element -> (height e/Å³, width Å)
GAUSSIANS = {1: (0.4, 0.45), 6: (1.5, 0.55), 8: (2.5, 0.5)}


#: Smallest distance (Å) between the atoms of a synthetic structure (periodic images included).
_MIN_SEPARATION = 0.7


def _min_image_distance(positions: np.ndarray, box: float) -> float:
    """Smallest distance between two atoms of a cubic periodic cell of edge ``box`` (minimum image)."""
    d = positions[:, None, :] - positions[None, :, :]
    d -= box * np.round(d / box)
    r = np.linalg.norm(d, axis=-1)
    return float(r[~np.eye(len(positions), dtype=bool)].min())


def synthetic_grid(rng: np.random.Generator, *, box: float = 4.0, points: int = 10) -> DensityGrid:
    """A random periodic structure and its Gaussian-sum density on a ``points³`` grid."""
    natoms = int(rng.integers(2, 5))
    numbers = rng.choice(list(GAUSSIANS), size=natoms)
    cell = np.eye(3) * box
    positions = rng.uniform(0.0, box, size=(natoms, 3))
    while _min_image_distance(positions, box) < _MIN_SEPARATION:  # no overlapping atoms (see MIN_ATOM_DISTANCE)
        positions = rng.uniform(0.0, box, size=(natoms, 3))
    atoms = ase.Atoms(numbers=numbers, positions=positions, cell=cell, pbc=True)
    frac = np.stack(np.meshgrid(*(np.arange(points) / points,) * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    values = np.zeros(len(frac))
    for z, pos in zip(numbers, atoms.get_scaled_positions(), strict=True):
        d = frac - pos
        d -= np.round(d)  # minimum image (the Gaussians are narrow compared with the cell)
        r2 = ((d @ cell) ** 2).sum(axis=1)
        height, width = GAUSSIANS[int(z)]
        values += height * np.exp(-r2 / (2 * width**2))
    return DensityGrid(atoms=atoms, values=values.reshape(points, points, points).astype(np.float32), cell=cell)


def write_dataset(directory: Path, count: int, seed: int = 0, fmt: str = "CHGCAR") -> Path:
    """Write ``count`` synthetic grids as CHGCAR (or cube) files into ``directory``."""
    from rhograph.io.formats import write_density

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        name = f"struct_{i:03d}.cube" if fmt == "cube" else f"struct_{i:03d}.CHGCAR"
        write_density(directory / name, synthetic_grid(rng))
    return directory
