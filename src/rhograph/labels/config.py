"""Settings of a DFT labelling run (:class:`LabelConfig`).

Two kinds of density can be written:

* ``valence`` (default): Kohn–Sham with GTH pseudopotentials (``gth-pbe``) and a GTH basis
  (``gth-dzvp``). The density of the valence electrons only; smooth at the nuclei like the PAW
  pseudo-densities in the VASP CHGCARs that the DeepDFT models were trained on, so a regular grid resolves
  it and ∫ρ dV on the grid equals the valence electron count to ~10⁻⁵.
* ``all-electron``: no pseudopotential (default basis ``def2-svp``); the density has cusps at the nuclei
  that a grid of 0.1 Å spacing cannot resolve (see ``docs/labels.md``).

Settings split into those that determine the density (compared when a run is resumed in a directory
labelled before, :meth:`LabelConfig.density_settings`) and solver settings that may change between runs
(``max_cycle``, ``conv_tol``, ``electron_tolerance``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rhograph.config import check_choice, check_positive

DENSITY_KINDS = ("valence", "all-electron")
#: compression suffixes the density writers understand (None = plain text)
COMPRESSION_CHOICES = (None, ".gz", ".zz", ".lz4", ".zst")

#: defaults per density kind: (basis, pseudopotential)
_DEFAULT_BASIS = {"valence": "gth-dzvp", "all-electron": "def2-svp"}
_DEFAULT_PSEUDO = {"valence": "gth-pbe", "all-electron": None}

#: relative tolerance of the electron-count check for a smooth (valence) density
VALENCE_ELECTRON_TOLERANCE = 1e-3


@dataclass(frozen=True, kw_only=True)
class LabelConfig:
    """How structures are turned into density labels.

    Args:
        density: ``valence`` (pseudopotential density, default) or ``all-electron``.
        xc: exchange–correlation functional, any name PySCF's libxc interface knows (default ``PBE``).
        basis: Gaussian basis set; ``None`` picks ``gth-dzvp`` (valence) or ``def2-svp`` (all-electron).
        pseudo: pseudopotential for ``valence`` (default ``gth-pbe``); use a GTH basis with it, and the
            GTH set of the functional (``gth-pbe`` for PBE, ``gth-blyp``, ``gth-pade`` for LDA, ...).
        spacing: target grid spacing in Å; the grid has ``ceil(length / spacing)`` points along each
            cell vector (so the actual spacing is at most this).
        vacuum: empty space in Å added on each side of a molecule's extent to make its box.
        kpts: Monkhorst–Pack mesh for periodic cells (``(1, 1, 1)`` = Γ point only).
        ke_cutoff: plane-wave cutoff in Hartree of the periodic Coulomb solver (``None``: PySCF's choice
            from its precision target).
        charge: total charge of every structure.
        spin: 2S (number of unpaired electrons); ``None`` means 0 for an even electron count and 1 for
            an odd one. A non-zero spin runs unrestricted Kohn–Sham and also stores ρ↑ − ρ↓.
        smearing: Gaussian smearing width in eV (0 = integer occupations). The VASP data of the paper
            used 0.1 eV Gaussian smearing; for molecules and insulators it makes no visible difference.
        density_fit: density fitting of the Coulomb term for molecules (much faster, tiny error).
        xc_grid_level: PySCF integration-grid level (0–9) for the XC term of molecules.
        max_cycle: SCF iteration limit; a structure that does not converge within it fails.
        conv_tol: SCF energy convergence threshold in Hartree.
        write_grid: write the density grid (cube for molecules, CHGCAR for periodic cells).
        write_compact: also write the compact label ``<name>.dm.npz`` (basis + density matrix).
        compression: suffix of the grid files (``.gz``, ``.zz``, ``.lz4``, ``.zst``) or ``None``.
        electron_tolerance: allowed |∫ρ dV − N| / N on the grid; ``None`` = 10⁻³ for valence
            densities, plus an estimate of the cusp aliasing for all-electron ones.
    """

    density: str = "valence"
    xc: str = "PBE"
    basis: str | None = None
    pseudo: str | None = None
    spacing: float = 0.15
    vacuum: float = 4.0
    kpts: tuple[int, int, int] = (1, 1, 1)
    ke_cutoff: float | None = None
    charge: int = 0
    spin: int | None = None
    smearing: float = 0.0
    density_fit: bool = True
    xc_grid_level: int = 3
    max_cycle: int = 100
    conv_tol: float = 1e-9
    write_grid: bool = True
    write_compact: bool = False
    compression: str | None = None
    electron_tolerance: float | None = None

    def __post_init__(self) -> None:
        check_choice("density", self.density, DENSITY_KINDS)
        check_choice("compression", self.compression, COMPRESSION_CHOICES)
        check_positive("spacing", self.spacing)
        check_positive("vacuum", self.vacuum, strict=False)
        check_positive("max_cycle", self.max_cycle)
        check_positive("conv_tol", self.conv_tol)
        check_positive("smearing", self.smearing, strict=False)
        if self.ke_cutoff is not None:
            check_positive("ke_cutoff", self.ke_cutoff)
        if self.electron_tolerance is not None:
            check_positive("electron_tolerance", self.electron_tolerance)
        if self.spin is not None and self.spin < 0:
            raise ValueError(f"spin (2S) must be >= 0, got {self.spin}")
        if not 0 <= self.xc_grid_level <= 9:
            raise ValueError(f"xc_grid_level must be in 0..9, got {self.xc_grid_level}")
        kpts = tuple(int(k) for k in self.kpts)
        if len(kpts) != 3 or min(kpts) < 1:
            raise ValueError(f"kpts must be three positive integers, got {self.kpts!r}")
        object.__setattr__(self, "kpts", kpts)
        if not (self.write_grid or self.write_compact):
            raise ValueError("nothing to write: enable write_grid and/or write_compact")
        if self.density == "all-electron" and self.pseudo is not None:
            raise ValueError(f"an all-electron density takes no pseudopotential, got pseudo={self.pseudo!r}")

    # ------------------------------------------------------------------ resolved values
    @property
    def resolved_basis(self) -> str:
        return self.basis or _DEFAULT_BASIS[self.density]

    @property
    def resolved_pseudo(self) -> str | None:
        return self.pseudo or _DEFAULT_PSEUDO[self.density]

    def density_settings(self) -> dict[str, Any]:
        """The settings that determine the written densities (JSON-ready, defaults resolved)."""
        return {
            "density": self.density,
            "xc": self.xc.upper(),
            "basis": self.resolved_basis,
            "pseudo": self.resolved_pseudo,
            "spacing": self.spacing,
            "vacuum": self.vacuum,
            "kpts": list(self.kpts),
            "ke_cutoff": self.ke_cutoff,
            "charge": self.charge,
            "spin": self.spin,
            "smearing": self.smearing,
            "density_fit": self.density_fit,
            "xc_grid_level": self.xc_grid_level,
        }

    def to_dict(self) -> dict[str, Any]:
        """All fields (JSON-ready)."""
        data = dataclasses.asdict(self)
        data["kpts"] = list(self.kpts)
        return data
