"""Test helpers shipped with rhograph: symmetry asserts for density models and tiny fixtures.

Example::

    from rhograph.testing import assert_invariant, random_probes, small_periodic_cell, tiny_model

    atoms = small_periodic_cell(0)
    assert_invariant(tiny_model("deepdft-painn"), atoms, random_probes(atoms, 20))
"""

from rhograph.testing.asserts import (
    TRANSFORMS,
    assert_equivariant_vectors,
    assert_invariant,
    encode,
    model_batch,
    predict_density,
    transformed,
)
from rhograph.testing.structures import (
    TINY_OVERRIDES,
    random_probes,
    random_reflection,
    random_rotation,
    small_molecule,
    small_periodic_cell,
    tiny_model,
)

__all__ = [
    "TINY_OVERRIDES",
    "TRANSFORMS",
    "assert_equivariant_vectors",
    "assert_invariant",
    "encode",
    "model_batch",
    "predict_density",
    "random_probes",
    "random_reflection",
    "random_rotation",
    "small_molecule",
    "small_periodic_cell",
    "tiny_model",
    "transformed",
]
