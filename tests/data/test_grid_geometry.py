"""One grid builder: prediction and labelling put a molecule in the same box with the same grid."""

from __future__ import annotations

import numpy as np
from ase.build import molecule

from rhograph.data.grid_geometry import GridSpec, grid_shape, molecule_box
from rhograph.inference.grids import make_grid
from rhograph.labels.config import LabelConfig
from rhograph.labels.grids import label_geometry


def test_prediction_and_label_grids_of_a_molecule_coincide():
    atoms = molecule("CH3CH2OH")
    predicted_atoms, spec = make_grid(atoms, grid_step=0.15, vacuum=4.0)
    label = label_geometry(atoms, LabelConfig(spacing=0.15, vacuum=4.0), periodic=False)
    np.testing.assert_allclose(spec.cell, label.cell, atol=1e-12)
    assert spec.shape == label.shape == grid_shape(label.cell, 0.15)
    # the prediction translates the atoms so that its box starts at 0; the label keeps them and moves the box
    np.testing.assert_allclose(predicted_atoms.positions - spec.origin, atoms.positions - label.origin, atol=1e-12)


def test_grid_shape_keeps_the_spacing_at_most_the_step():
    cell = np.array([[5.0, 0.0, 0.0], [2.5, 4.33, 0.0], [0.0, 0.0, 0.3]])
    shape = grid_shape(cell, 0.2)
    assert shape == (25, 25, 2)
    assert np.all(np.linalg.norm(GridSpec(cell, shape, np.zeros(3)).voxel_vectors, axis=1) <= 0.2 + 1e-12)


def test_molecule_box_of_a_single_atom_has_the_vacuum_on_both_sides():
    cell, origin = molecule_box(np.array([[1.0, 2.0, 3.0]]), 4.0)
    np.testing.assert_allclose(np.diag(cell), 8.0)
    np.testing.assert_allclose(origin, [-3.0, -2.0, -1.0])
