"""File formats: density grids (CHGCAR, cube, numpy), compression and on-disk datasets. No torch models."""
from rhograph.io.density_grid import DensityGrid

__all__ = ["DensityGrid"]
