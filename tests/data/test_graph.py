"""make_sample / replace_probes: fields, shapes, local indices and structure validation."""

from __future__ import annotations

import ase
import ase.build
import numpy as np
import pytest

from rhograph import keys
from rhograph.data import atom_graph, make_sample, probe_graph, replace_probes
from rhograph.errors import StructureError


@pytest.fixture
def crystal() -> ase.Atoms:
    atoms = ase.build.bulk("NaCl", "rocksalt", a=5.6)
    atoms.rattle(0.05, seed=0)
    return atoms


def test_sample_fields(crystal: ase.Atoms) -> None:
    rng = np.random.default_rng(0)
    probes = rng.random((30, 3)) @ crystal.cell.array
    density = rng.random(30)
    sample = make_sample(crystal, probes, cutoff=4.0, density=density)
    assert set(sample) == {
        keys.ATOMIC_NUMBERS,
        keys.POSITIONS,
        keys.CELL,
        keys.ATOM_EDGES,
        keys.ATOM_EDGE_OFFSETS,
        keys.PROBE_POSITIONS,
        keys.PROBE_EDGES,
        keys.PROBE_EDGE_OFFSETS,
        keys.DENSITY,
        keys.NUM_ATOMS,
        keys.NUM_PROBES,
    }
    assert sample[keys.ATOMIC_NUMBERS].tolist() == [11, 17]
    assert sample[keys.CELL].shape == (1, 3, 3)
    assert sample[keys.NUM_ATOMS].tolist() == [2] and sample[keys.NUM_PROBES].tolist() == [30]
    edges, offsets = atom_graph(crystal.positions, crystal.cell.array, crystal.pbc, 4.0)
    np.testing.assert_array_equal(sample[keys.ATOM_EDGES], edges)
    np.testing.assert_array_equal(sample[keys.ATOM_EDGE_OFFSETS], offsets)
    edges, offsets = probe_graph(crystal.positions, crystal.cell.array, crystal.pbc, probes, 4.0)
    np.testing.assert_array_equal(sample[keys.PROBE_EDGES], edges)
    np.testing.assert_array_equal(sample[keys.PROBE_EDGE_OFFSETS], offsets)
    assert sample[keys.PROBE_EDGES][0].max() < 2 and sample[keys.PROBE_EDGES][1].max() < 30
    np.testing.assert_array_equal(sample[keys.DENSITY], density)


def test_atoms_only_sample_and_lone_atom() -> None:
    sample = make_sample(ase.Atoms("H", positions=[[1.0, 2.0, 3.0]]))
    assert sample[keys.ATOM_EDGES].shape == (2, 0)
    assert sample[keys.PROBE_POSITIONS].shape == (0, 3) and sample[keys.PROBE_EDGES].shape == (2, 0)
    assert sample[keys.NUM_PROBES].tolist() == [0] and keys.DENSITY not in sample


def test_replace_probes_keeps_the_atom_graph(crystal: ase.Atoms) -> None:
    rng = np.random.default_rng(1)
    sample = make_sample(crystal, rng.random((10, 3)))
    new_probes = rng.random((25, 3)) * 4.0
    replaced = replace_probes(sample, crystal, new_probes, density=np.ones(25))
    fresh = make_sample(crystal, new_probes, density=np.ones(25))
    assert replaced.keys() == fresh.keys()
    for key in fresh:
        np.testing.assert_array_equal(replaced[key], fresh[key])
    assert replaced[keys.ATOM_EDGES] is sample[keys.ATOM_EDGES]  # not recomputed
    moved = crystal.copy()
    moved.positions += 0.1
    with pytest.raises(ValueError, match="do not match"):
        replace_probes(sample, moved, new_probes)


@pytest.mark.parametrize(
    ("atoms", "message"),
    [
        (ase.Atoms(), "no atoms"),
        (
            ase.Atoms(numbers=[1, 0], positions=[[0, 0, 0], [1, 0, 0]]),
            r"invalid atomic number\(s\) \[0\] at atom index \[1\]",
        ),
        (ase.Atoms(numbers=[6, 119], positions=[[0, 0, 0], [1, 0, 0]]), r"\[119\].*1\.\.118"),
        (ase.Atoms("H2", positions=[[0, 0, 0], [np.inf, 0, 0]]), r"atoms \[1\] are not finite"),
        (ase.Atoms("H", cell=[3.0, 3.0, 0.0], pbc=True), "linearly dependent"),
    ],
)
def test_invalid_structures(atoms: ase.Atoms, message: str) -> None:
    with pytest.raises(StructureError, match=message):
        make_sample(atoms)


def test_invalid_probes(crystal: ase.Atoms) -> None:
    with pytest.raises(ValueError, match="density must have shape"):
        make_sample(crystal, np.zeros((4, 3)), density=np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        make_sample(crystal, np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="without probe_positions"):
        make_sample(crystal, None, density=np.zeros(3))


@pytest.mark.parametrize(
    ("atoms", "cutoff", "match"),
    [
        # two atoms on top of each other (the case), the pair named with elements and distance
        (
            ase.Atoms("H2O", positions=[[0, 0, 0], [1.0, 0, 0], [1.0, 0, 0]]),
            4.0,
            r"atoms 1 \(H\) and 2 \(O\) are 0\.000 Å",
        ),
        # close across the periodic boundary only
        (ase.Atoms("HO", positions=[[0, 0, 0.1], [0, 0, 2.9]], cell=[5, 5, 3], pbc=True), 4.0, r"periodic image"),
        # an atom and its own image in a too short cell vector
        (ase.Atoms("O", cell=[5, 5, 0.3], pbc=True), 4.0, r"atom 0 \(O\) is 0\.300 Å from its own periodic image"),
        # a model cutoff below the minimum distance still finds the pair
        (ase.Atoms("H2", positions=[[0, 0, 0], [0.3, 0, 0]]), 0.2, r"0\.300 Å apart"),
    ],
)
def test_atoms_closer_than_the_minimum_distance_are_refused(atoms, cutoff, match) -> None:
    from rhograph.data import MIN_ATOM_DISTANCE

    assert MIN_ATOM_DISTANCE == 0.5  # documented in docs/prediction.md
    with pytest.raises(StructureError, match=match):
        make_sample(atoms, None, cutoff=cutoff)


def test_atoms_at_the_minimum_distance_and_non_periodic_neighbours_pass() -> None:
    make_sample(ase.Atoms("H2", positions=[[0, 0, 0], [0.5, 0, 0]]), None, cutoff=4.0)
    # close across a boundary that is not periodic: no image, no problem
    make_sample(ase.Atoms("HO", positions=[[0, 0, 0.1], [0, 0, 2.9]], cell=[5, 5, 3], pbc=[1, 1, 0]), None)
