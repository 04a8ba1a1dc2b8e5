"""Open DFT labels: Kohn–Sham densities of structures with PySCF (optional extra ``rhograph[dft]``).

* :func:`label_structures` — SCF per structure, density on a grid (cube for molecules, CHGCAR for periodic
  cells) and/or a compact label (basis + density matrix), electron-count check, manifest, resumable,
  parallel over structures;
* :class:`CompactDensity` / :class:`CompactSource` — evaluate compact labels anywhere, rebuild grids, draw
  training probes;
* :mod:`rhograph.labels.qm9` — a reproducible QM9-derived benchmark from the ``qm9pack`` geometries.

PySCF is imported only when a calculation or a compact label needs it.
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
