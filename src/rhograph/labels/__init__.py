"""Open DFT labels: Kohn–Sham densities of structures with PySCF (optional extra ``rhograph[dft]``).

* :func:`label_structures` — SCF per structure, density on a grid (cube for molecules, CHGCAR for periodic
  cells) and/or a compact label (basis + density matrix), electron-count check, manifest, resumable,
  parallel over structures;
* :class:`CompactDensity` / :class:`CompactSource` — evaluate compact labels anywhere, rebuild grids, draw
  training probes;
* :mod:`rhograph.labels.qm9` — a reproducible QM9-derived benchmark from the ``qm9pack`` geometries;
* :mod:`rhograph.labels.gpaw_dft` — periodic cells with GPAW instead (``LabelConfig(code="gpaw")``, optional extra
  ``rhograph[gpaw]``, GPL-3): PAW plane waves, CHGCAR of the valence density, all-electron density for Bader;
* :mod:`rhograph.labels.nmc` — an NMC-like materials set (layered Li(Ni,Co,Mn)O₂ cells) to label with GPAW.

PySCF and GPAW are imported only when a calculation or a compact label needs them.
"""

from rhograph.labels.compact import COMPACT_SUFFIX, CompactDensity, CompactSource
from rhograph.labels.config import DENSITY_KINDS, LabelConfig
from rhograph.labels.runner import LabelReport, label_structure, label_structures, output_files
from rhograph.labels.structures import NamedStructure, read_structures

__all__ = [
    "COMPACT_SUFFIX",
    "DENSITY_KINDS",
    "CompactDensity",
    "CompactSource",
    "LabelConfig",
    "LabelReport",
    "NamedStructure",
    "label_structure",
    "label_structures",
    "output_files",
    "read_structures",
]
