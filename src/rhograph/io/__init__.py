"""File formats: density grids (CHGCAR, cube, numpy), compression and on-disk datasets. No torch models."""

from rhograph.io.chgcar import read_chgcar, write_chgcar
from rhograph.io.cube import read_cube, write_cube
from rhograph.io.dataset import DensityDataset
from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import density_format, read_density, write_density

__all__ = [
    "DensityDataset",
    "DensityGrid",
    "density_format",
    "read_chgcar",
    "read_cube",
    "read_density",
    "write_chgcar",
    "write_cube",
    "write_density",
]
