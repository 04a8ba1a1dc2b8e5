"""Graph samples: one structure with its atom graph and (optionally) probes, as a dict of numpy arrays.

A sample holds the fields of :mod:`rhograph.keys` with *local* indices (atoms ``0..N-1``, probes ``0..M-1``);
:func:`rhograph.data.collate.collate` concatenates samples into a batch. Image offsets are stored as int64
here (exact) and converted to the float dtype of the batch by ``collate``.
"""

from __future__ import annotations

import ase
import numpy as np
from ase.data import chemical_symbols

from rhograph import keys
from rhograph.data.neighbors import atom_graph, check_structure, lattice_shifts, probe_graph, squared_lengths
from rhograph.errors import StructureError

#: Largest atomic number with an embedding row (the embedding table has rows 0..118; 0 is unused).
MAX_ATOMIC_NUMBER = 118
#: Atoms closer than this (Å) to another atom or to a periodic image of any atom (itself included) are
#: refused by :func:`make_sample`: no bond is that short (H₂: 0.74 Å), and models trained on real
#: structures predict densities of ±10⁹ e/Å³ for such overlaps. A cell vector shorter than this, or a cell
#: so skewed that lattice points come this close, is refused for the same reason.
MIN_ATOM_DISTANCE = 0.5

_ATOM_KEYS = (
    keys.ATOMIC_NUMBERS,
    keys.POSITIONS,
    keys.CELL,
    keys.ATOM_EDGES,
    keys.ATOM_EDGE_OFFSETS,
    keys.NUM_ATOMS,
)


def validate_atoms(
    atoms: ase.Atoms, source: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check a structure and return ``(numbers (N,) int64, positions (N,3) Å, cell (3,3) Å, pbc (3,) bool)``.

    The one structure validator of the package: prediction (:func:`rhograph.inference.predict`), labelling
    (:func:`rhograph.labels.scf.is_periodic`) and training samples (:func:`make_sample`) run it once per structure.

    Args:
        atoms: the structure.
        source: a name for messages (a file, ``<atoms>``); messages start with it when given.

    Raises:
        StructureError: no atoms, an atomic number outside 1..118, non-finite positions or cell, or
            periodic cell vectors that are zero / linearly dependent.
    """
    where = f"{source}: " if source else ""
    if len(atoms) == 0:
        raise StructureError(f"{where}structure {atoms.get_chemical_formula() or '<empty>'} has no atoms")
    numbers = np.asarray(atoms.numbers, dtype=np.int64)
    bad = np.flatnonzero((numbers < 1) | (numbers > MAX_ATOMIC_NUMBER))
    if len(bad):
        raise StructureError(
            f"{where}invalid atomic number(s) {numbers[bad][:10].tolist()} at atom index {bad[:10].tolist()}; "
            f"atomic numbers must be in 1..{MAX_ATOMIC_NUMBER}"
        )
    try:
        positions, cell, pbc = check_structure(atoms.positions, atoms.cell.array, atoms.pbc)
    except StructureError as exc:
        if not where:
            raise
        raise StructureError(f"{where}{exc}") from exc
    return numbers, positions, cell, pbc


def check_atom_distances(
    numbers: np.ndarray,
    positions: np.ndarray,
    cell: np.ndarray,
    edges: np.ndarray,
    offsets: np.ndarray,
    *,
    min_distance: float = MIN_ATOM_DISTANCE,
) -> None:
    """Refuse atoms closer than ``min_distance`` Å, periodic images included.

    Args:
        numbers, positions, cell: as returned by :func:`validate_atoms`.
        edges, offsets: the atom graph (:func:`~rhograph.data.neighbors.atom_graph`) with a cutoff of at
            least ``min_distance`` (every closer pair is one of its edges).

    Raises:
        StructureError: naming the closest pair (indices, elements, distance, image offset) and the formula.
    """
    if edges.shape[1] == 0:
        return
    d2 = squared_lengths(positions[edges[1]], positions[edges[0]], lattice_shifts(offsets, cell))
    k = int(np.argmin(d2))
    if d2[k] >= min_distance * min_distance:
        return
    sender, receiver = int(edges[0, k]), int(edges[1, k])
    offset = offsets[k] if sender > receiver else -offsets[k]  # the image belongs to the larger index
    i, j = sorted((sender, receiver))
    symbols = chemical_symbols
    formula = ase.Atoms(numbers=numbers).get_chemical_formula()
    distance = float(np.sqrt(d2[k]))
    shift = tuple(offset.tolist())
    if i == j:
        pair = f"atom {i} ({symbols[numbers[i]]}) is {distance:.3f} Å from its own periodic image {shift}"
    else:
        image = f" (atom {j} in the periodic image {shift})" if offset.any() else ""
        pair = f"atoms {i} ({symbols[numbers[i]]}) and {j} ({symbols[numbers[j]]}) are {distance:.3f} Å apart{image}"
    raise StructureError(
        f"structure {formula}: {pair}; atoms closer than {min_distance} Å are refused (atoms on top of each other, "
        "or a cell too small or too skewed for its atoms)"
    )


def _probe_arrays(
    probe_positions: np.ndarray | None, density: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    if probe_positions is None:
        if density is not None:
            raise ValueError("density given without probe_positions")
        return np.zeros((0, 3), dtype=np.float64), None
    probes = np.asarray(probe_positions, dtype=np.float64)
    if probes.ndim != 2 or probes.shape[1] != 3:
        raise ValueError(f"probe_positions must have shape (M, 3), got {probes.shape}")
    if not np.isfinite(probes).all():
        raise ValueError("probe_positions contain NaN/inf")
    if density is None:
        return probes, None
    values = np.asarray(density)
    if values.shape != (len(probes),):
        raise ValueError(f"density must have shape ({len(probes)},) to match the probes, got {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("density contains NaN/inf")
    return probes, values


def _probe_part(
    positions: np.ndarray,
    cell: np.ndarray,
    pbc: np.ndarray,
    probe_positions: np.ndarray | None,
    cutoff: float,
    density: np.ndarray | None,
) -> dict[str, np.ndarray]:
    probes, values = _probe_arrays(probe_positions, density)
    edges, offsets = probe_graph(positions, cell, pbc, probes, cutoff)
    part = {
        keys.PROBE_POSITIONS: probes,
        keys.PROBE_EDGES: edges,
        keys.PROBE_EDGE_OFFSETS: offsets,
        keys.NUM_PROBES: np.array([len(probes)], dtype=np.int64),
    }
    if values is not None:
        part[keys.DENSITY] = values
    return part


def make_sample(
    atoms: ase.Atoms,
    probe_positions: np.ndarray | None = None,
    cutoff: float = keys.DEFAULT_CUTOFF,
    density: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Build the graph sample of one structure.

    Args:
        atoms: the structure (positions Å; ``cell`` and ``pbc`` define the periodic images).
        probe_positions: (M, 3) probe positions in Å, or ``None`` for an atoms-only sample (M = 0).
        cutoff: graph cutoff in Å for atom–atom and atom→probe edges.
        density: (M,) target density at the probes in e/Å³ (stored under ``keys.DENSITY``).

    Returns:
        dict with ``ATOMIC_NUMBERS (N,) int64``, ``POSITIONS (N,3)``, ``CELL (1,3,3)``, ``ATOM_EDGES (2,E)``,
        ``ATOM_EDGE_OFFSETS (E,3) int64``, ``PROBE_POSITIONS (M,3)``, ``PROBE_EDGES (2,P)``,
        ``PROBE_EDGE_OFFSETS (P,3) int64``, ``NUM_ATOMS (1,)``, ``NUM_PROBES (1,)`` and ``DENSITY (M,)``
        when given; local indices.

    Raises:
        StructureError: invalid structure (see :func:`validate_atoms`) or atoms closer than
            :data:`MIN_ATOM_DISTANCE` (see :func:`check_atom_distances`).
        ValueError: malformed probes / density or a non-positive cutoff.
    """
    numbers, positions, cell, pbc = validate_atoms(atoms)
    edges, offsets = atom_graph(positions, cell, pbc, cutoff)
    if cutoff >= MIN_ATOM_DISTANCE:
        check_atom_distances(numbers, positions, cell, edges, offsets)
    else:
        check_atom_distances(numbers, positions, cell, *atom_graph(positions, cell, pbc, MIN_ATOM_DISTANCE))
    sample = {
        keys.ATOMIC_NUMBERS: numbers,
        keys.POSITIONS: positions,
        keys.CELL: cell[None],
        keys.ATOM_EDGES: edges,
        keys.ATOM_EDGE_OFFSETS: offsets,
        keys.NUM_ATOMS: np.array([len(numbers)], dtype=np.int64),
    }
    sample.update(_probe_part(positions, cell, pbc, probe_positions, cutoff, density))
    return sample


def replace_probes(
    sample: dict[str, np.ndarray],
    atoms: ase.Atoms,
    probe_positions: np.ndarray | None,
    cutoff: float = keys.DEFAULT_CUTOFF,
    density: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """A new sample with the atom part of ``sample`` (not recomputed) and probes built for new points.

    Args:
        sample: a sample of ``atoms`` from :func:`make_sample`.
        atoms: the same structure (its ``pbc`` is not stored in the sample).
        probe_positions, cutoff, density: as in :func:`make_sample`.

    Raises:
        ValueError: ``atoms`` does not match the sample.
    """
    numbers, positions, cell, pbc = validate_atoms(atoms)
    if not (
        np.array_equal(numbers, sample[keys.ATOMIC_NUMBERS])
        and np.array_equal(positions, sample[keys.POSITIONS])
        and np.array_equal(cell, sample[keys.CELL][0])
    ):
        raise ValueError("atoms do not match the sample (numbers, positions or cell differ)")
    new = {key: sample[key] for key in _ATOM_KEYS}
    new.update(_probe_part(positions, cell, pbc, probe_positions, cutoff, density))
    return new
