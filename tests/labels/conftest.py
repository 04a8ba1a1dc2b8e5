"""Shared fixtures of the DFT-label tests: two tiny molecules and a tiny periodic cell, labelled once.

Settings are the cheapest that still resolve the valence densities: the minimal GTH basis (gth-szv),
0.15 Å grids, a 30 Ha plane-wave cutoff for the cell. Each SCF takes about a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "labels"
WATER = FIXTURES / "water.xyz"
H2 = FIXTURES / "h2.xyz"
LIH = FIXTURES / "lih.extxyz"

#: valence electrons with GTH pseudopotentials: O 6 + 2 H; 2 H; Li 3 (1s semicore) + H 1
VALENCE_ELECTRONS = {"water": 8, "h2": 2, "lih": 4}


def tiny_config(**overrides):
    from rhograph.labels import LabelConfig

    settings = {"basis": "gth-szv", "spacing": 0.15, "ke_cutoff": 30.0, "write_compact": True}
    settings.update(overrides)
    return LabelConfig(**settings)


@pytest.fixture(scope="session")
def labelled(tmp_path_factory):
    """``(out_dir, report)`` of labelling water, H2 and the LiH cell in one process."""
    pytest.importorskip("pyscf")
    from rhograph.labels import label_structures, read_structures

    out = tmp_path_factory.mktemp("labels")
    structures = read_structures([WATER, H2, LIH])
    report = label_structures(structures, out, tiny_config(), workers=1, threads=1)
    return out, report
