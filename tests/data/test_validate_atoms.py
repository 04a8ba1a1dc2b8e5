"""One structure validator: prediction and labelling refuse the same structures with the same messages."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from rhograph.data.graph import validate_atoms
from rhograph.errors import StructureError
from rhograph.inference.structures import check_structure
from rhograph.labels.scf import is_periodic

BAD = {
    "empty": Atoms(),
    "nan": Atoms("H2", positions=[[0, 0, 0], [np.nan, 0, 0]]),
    "flat cell": Atoms("H", cell=[[1, 0, 0], [2, 0, 0], [0, 0, 1]], pbc=True),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_prediction_and_labels_refuse_the_same_structures_naming_them(case):
    atoms = BAD[case]
    with pytest.raises(StructureError) as shared:
        validate_atoms(atoms, "in.xyz")
    for check in (check_structure, is_periodic):
        with pytest.raises(StructureError) as caught:
            check(atoms, "in.xyz")
        assert str(caught.value) == str(shared.value) and str(caught.value).startswith("in.xyz: ")
