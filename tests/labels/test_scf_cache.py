"""The XC-grid orbital cache of the molecular SCF: same SCF as PySCF's own ``NumInt``, orbitals evaluated once."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyscf")

from pyscf.dft import numint

from rhograph.labels import read_structures
from rhograph.labels.scf import _make_solver, build_system

from .conftest import WATER, tiny_config


def _scf(numint_object):
    config = tiny_config()
    mol = build_system(read_structures([WATER])[0].atoms, config)
    mf = _make_solver(mol, config, None)
    if numint_object is not None:
        mf._numint = numint_object
    energy = mf.kernel()
    return energy, mf.make_rdm1(), mf


def test_cached_orbitals_give_the_same_scf_and_are_evaluated_once(monkeypatch):
    reference_energy, reference_dm, _ = _scf(numint.NumInt())
    calls = []
    original = numint.NumInt.eval_ao

    def counting_eval_ao(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(numint.NumInt, "eval_ao", staticmethod(counting_eval_ao))
    energy, dm, mf = _scf(None)  # the solver's default: the cached NumInt
    assert type(mf._numint).__name__ == "CachedAONumInt"
    assert energy == reference_energy
    np.testing.assert_array_equal(dm, reference_dm)
    blocks = len(mf._numint._ao_cache[1])
    assert mf.cycles > 3 and len(calls) == blocks  # one pass over the grid for the whole SCF


def test_orbitals_too_large_for_the_cache_are_not_kept(monkeypatch):
    monkeypatch.setattr("rhograph.labels.scf.AO_CACHE_BYTES", 1)
    energy, _, mf = _scf(None)
    reference_energy, _, _ = _scf(numint.NumInt())
    assert getattr(mf._numint, "_ao_cache", None) is None
    assert energy == reference_energy
