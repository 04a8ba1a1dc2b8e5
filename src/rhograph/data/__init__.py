"""rhograph.data: neighbour lists, graph samples, probe sampling and batching.

Training- and dataset-stream helpers live in :mod:`rhograph.data.pool` and :mod:`rhograph.data.splits`.
"""

from rhograph.data.collate import batch_to, collate
from rhograph.data.graph import MIN_ATOM_DISTANCE, check_atom_distances, make_sample, replace_probes, validate_atoms
from rhograph.data.grid_neighbors import grid_points, grid_probe_graph
from rhograph.data.neighbors import atom_graph, probe_graph
from rhograph.data.probes import fixed_validation_probes, sample_grid_probes

__all__ = [
    "MIN_ATOM_DISTANCE",
    "atom_graph",
    "batch_to",
    "check_atom_distances",
    "collate",
    "fixed_validation_probes",
    "grid_points",
    "grid_probe_graph",
    "make_sample",
    "probe_graph",
    "replace_probes",
    "sample_grid_probes",
    "validate_atoms",
]
