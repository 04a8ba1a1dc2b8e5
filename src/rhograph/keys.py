"""Field names, shapes and units of the flat batch dictionaries used everywhere in rhograph.

One place for the graph conventions (nequip's ``_keys.py`` idea).

Batches are *flat concatenations* of several structures with index vectors, never padded tensors.

Edge direction: row 0 of an edge index is the **sender** (always an atom, j), row 1 the **receiver**
(an atom i for atom–atom edges, a probe p for probe edges). Indices are global (already offset by the
number of atoms / probes of earlier structures in the batch).

Edge vector (Å): ``r_receiver − (r_sender + n · cell)``, where ``n`` is the integer periodic image offset
of the sender, stored as float in the same dtype as positions, and ``cell`` is the cell of the structure
the edge belongs to (rows are lattice vectors). Distances are recomputed from these inside the model so
that gradients with respect to probe positions exist.

Units: positions Å, cells Å (rows = lattice vectors), densities e/Å³.
"""

from __future__ import annotations

#: (num_atoms,) int64 — atomic numbers Z.
ATOMIC_NUMBERS = "atomic_numbers"
#: (num_atoms, 3) float — Cartesian positions in Å.
POSITIONS = "positions"
#: (num_structures, 3, 3) float — cell of each structure, rows are lattice vectors in Å
#: (zeros allowed for non-periodic structures; offsets are then all zero).
CELL = "cell"
#: (num_atoms,) int64 — index of the structure each atom belongs to.
ATOM_BATCH = "atom_batch"
#: (2, num_atom_edges) int64 — row 0 sender atom j, row 1 receiver atom i.
ATOM_EDGES = "atom_edges"
#: (num_atom_edges, 3) float — integer image offset n of the sender.
ATOM_EDGE_OFFSETS = "atom_edge_offsets"
#: (num_probes, 3) float — probe positions in Å.
PROBE_POSITIONS = "probe_positions"
#: (num_probes,) int64 — index of the structure each probe belongs to.
PROBE_BATCH = "probe_batch"
#: (2, num_probe_edges) int64 — row 0 sender atom, row 1 receiver probe.
PROBE_EDGES = "probe_edges"
#: (num_probe_edges, 3) float — integer image offset n of the sender atom.
PROBE_EDGE_OFFSETS = "probe_edge_offsets"
#: (num_probes,) float — target density at the probes in e/Å³.
DENSITY = "density"
#: (num_structures,) int64 — atoms per structure.
NUM_ATOMS = "num_atoms"
#: (num_structures,) int64 — probes per structure.
NUM_PROBES = "num_probes"

#: Default graph cutoff of the paper models, Å.
DEFAULT_CUTOFF = 4.0
#: Largest model cutoff accepted, Å: neighbour lists grow as r_cut³, and a cutoff beyond this is a damaged
#: or mistyped config (the paper models use 4 Å), not a model that could run.
MAX_CUTOFF = 20.0
