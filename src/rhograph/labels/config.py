"""Settings of a DFT labelling run (:class:`LabelConfig`).

Two kinds of density can be written:

* ``valence`` (default): Kohn–Sham with GTH pseudopotentials (``gth-pbe``) and a GTH basis
  (``gth-dzvp``). The density of the valence electrons only; smooth at the nuclei like the PAW
  pseudo-densities in the VASP CHGCARs that the DeepDFT models were trained on, so a regular grid resolves
  it and ∫ρ dV on the grid equals the valence electron count to ~10⁻⁵.
* ``all-electron``: no pseudopotential (default basis ``def2-svp``); the density has cusps at the nuclei
  that a grid of 0.1 Å spacing cannot resolve (see ``docs/labels.md``).

Two codes compute them: PySCF (``code="pyscf"``, Gaussian basis sets, molecules and cells) and GPAW
(``code="gpaw"``, PAW with plane waves, periodic cells only; optional extra ``rhograph[gpaw]``, GPL-3). A GPAW
label is the PAW pseudo (valence) density with its compensation charges, like a VASP CHGCAR, and on request
the all-electron density (``all_electron_grid``) for Bader analysis (see :mod:`rhograph.labels.gpaw_dft`).

Settings split into those that determine the density (compared when a run is resumed in a directory
labelled before, :meth:`LabelConfig.density_settings`) and solver settings that may change between runs
(``xc_grid_level``, ``max_cycle``, ``conv_tol``, ``electron_tolerance``; :meth:`LabelConfig.solver_settings`,
recorded with every structure in the manifest). The solver defaults (XC grid level 1, ``conv_tol`` 10⁻⁸) were
chosen by ``benchmarks/label_qm9.py``: against the earlier level 3 / 10⁻⁹ they change a QM9 label by
~0.002 % ε_mae (the allowed difference is 0.05 %) and make it about 3× cheaper.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rhograph.config import check_choice, check_positive
from rhograph.errors import ConfigError

DENSITY_KINDS = ("valence", "all-electron")
#: DFT codes that make labels
CODES = ("pyscf", "gpaw")
#: GPAW plane-wave cutoff in eV when ``ecut`` is not given
DEFAULT_ECUT = 400.0
#: compression suffixes the density writers understand (None = plain text)
COMPRESSION_CHOICES = (None, ".gz", ".zz", ".lz4", ".zst")

#: defaults per density kind: (basis, pseudopotential)
_DEFAULT_BASIS = {"valence": "gth-dzvp", "all-electron": "def2-svp"}
_DEFAULT_PSEUDO = {"valence": "gth-pbe", "all-electron": None}

#: relative tolerance of the electron-count check for a smooth (valence) density
VALENCE_ELECTRON_TOLERANCE = 1e-3
#: eV per Hartree (CODATA 2018), for the smearing widths and energies of both codes
HARTREE_EV = 27.211386245988


def import_optional(module: str, hint: str) -> Any:
    """Import an optional DFT code, or raise ``ImportError`` with ``hint`` (what to install)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(hint) from exc


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
        xc_grid_level: PySCF integration-grid level (0–9) for the XC term of molecules (default 1; level 0
            changes QM9 densities by ~0.07 % ε_mae, level 1 by ~0.002 % against level 3).
        max_cycle: SCF iteration limit; a structure that does not converge within it fails.
        conv_tol: SCF energy convergence threshold in Hartree.
        write_grid: write the density grid (cube for molecules, CHGCAR for periodic cells).
        write_compact: also write the compact label ``<name>.dm.npz`` (basis + density matrix).
        compression: suffix of the grid files (``.gz``, ``.zz``, ``.lz4``, ``.zst``) or ``None``.
        electron_tolerance: allowed |∫ρ dV − N| / N on the grid; ``None`` = 10⁻³ for valence
            densities, plus an estimate of the cusp aliasing for all-electron ones.
        code: ``pyscf`` (default) or ``gpaw`` (periodic cells; PAW, plane waves). With ``gpaw`` the grid is
            GPAW's own real-space grid (spacing at most ``spacing``, sizes rounded up to efficient FFT
            lengths), ``smearing`` is Gaussian (VASP's ISMEAR=0), ``spin=None`` polarises cells with Mn, Fe,
            Co, Ni, … (initial moments in :data:`rhograph.labels.gpaw_dft.INITIAL_MAGMOMS`) and ``spin=0``
            does not; ``basis``, ``pseudo``, ``ke_cutoff`` and compact labels are PySCF's and not allowed.
        ecut: GPAW plane-wave cutoff in eV (``None``: 400 eV).
        kpt_density: GPAW: k-points per Å⁻¹ along each reciprocal vector (ASE's ``kptdensity``: a mesh of
            ``ceil(2π |b_i| · kpt_density)`` points, Γ-centred), so cells of any shape get a comparable
            sampling; overrides ``kpts``. ``None``: the ``kpts`` mesh for every cell.
        all_electron_grid: GPAW: also write the all-electron density (core + valence, VASP's
            AECCAR0 + AECCAR2) as ``all-electron/<name>_AECCAR``, the reference density of Bader analysis.
        ae_refinement: GPAW: the all-electron grid is this many times finer than the label grid per axis
            (default 1: the label grid, as VASP's AECCARs, so it can be the Bader reference of the CHGCAR).
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
    xc_grid_level: int = 1
    max_cycle: int = 100
    conv_tol: float = 1e-8
    write_grid: bool = True
    write_compact: bool = False
    compression: str | None = None
    electron_tolerance: float | None = None
    code: str = "pyscf"
    ecut: float | None = None
    kpt_density: float | None = None
    all_electron_grid: bool = False
    ae_refinement: int = 1

    def __post_init__(self) -> None:
        check_choice("code", self.code, CODES)
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
            raise ConfigError(f"spin (2S) must be >= 0, got {self.spin}")
        if not 0 <= self.xc_grid_level <= 9:
            raise ConfigError(f"xc_grid_level must be in 0..9, got {self.xc_grid_level}")
        kpts = tuple(int(k) for k in self.kpts)
        if len(kpts) != 3 or min(kpts) < 1:
            raise ConfigError(f"kpts must be three positive integers, got {self.kpts!r}")
        object.__setattr__(self, "kpts", kpts)
        if not (self.write_grid or self.write_compact):
            raise ConfigError("nothing to write: enable write_grid and/or write_compact")
        if self.density == "all-electron" and self.pseudo is not None:
            raise ConfigError(f"an all-electron density takes no pseudopotential, got pseudo={self.pseudo!r}")
        if self.code == "gpaw":
            self._check_gpaw()
        else:
            gpaw_only = {
                "ecut": self.ecut,
                "kpt_density": self.kpt_density,
                "all_electron_grid": self.all_electron_grid,
            }
            used = [key for key, value in gpaw_only.items() if value not in (None, False)]
            if used:
                raise ConfigError(f"{', '.join(used)} apply to code='gpaw' only, got code={self.code!r}")

    def _check_gpaw(self) -> None:
        if self.ecut is not None:
            check_positive("ecut", self.ecut)
        if self.kpt_density is not None:
            check_positive("kpt_density", self.kpt_density)
        if not 1 <= self.ae_refinement <= 4:
            raise ConfigError(f"ae_refinement must be in 1..4, got {self.ae_refinement}")
        if self.density != "valence":
            raise ConfigError(
                "code='gpaw' writes the PAW valence density; add the all-electron density with "
                f"all_electron_grid=True (--all-electron), got density={self.density!r}"
            )
        pyscf_only = {"basis": self.basis, "pseudo": self.pseudo, "ke_cutoff": self.ke_cutoff}
        used = [key for key, value in pyscf_only.items() if value is not None]
        if self.write_compact:
            used.append("write_compact")
        if used:
            raise ConfigError(f"{', '.join(used)} apply to code='pyscf' only (GPAW uses PAW setups and plane waves)")
        if self.spin not in (None, 0):
            raise ConfigError(f"code='gpaw' takes spin=None (polarised when a magnetic element is present) or 0, "
                              f"got {self.spin}")  # fmt: skip

    # ------------------------------------------------------------------ resolved values
    @property
    def resolved_basis(self) -> str:
        return self.basis or _DEFAULT_BASIS[self.density]

    @property
    def resolved_pseudo(self) -> str | None:
        return self.pseudo or _DEFAULT_PSEUDO[self.density]

    @property
    def resolved_ecut(self) -> float:
        return DEFAULT_ECUT if self.ecut is None else float(self.ecut)

    def density_settings(self) -> dict[str, Any]:
        """The settings that determine the written densities (JSON-ready, defaults resolved).

        The keys are field names, so ``LabelConfig(**settings)`` rebuilds the configuration. PySCF settings
        carry no ``code`` key (label directories made before GPAW existed stay valid).
        """
        if self.code == "gpaw":
            return {
                "code": "gpaw",
                "density": self.density,
                "xc": self.xc.upper(),
                "ecut": self.resolved_ecut,
                "spacing": self.spacing,
                "kpts": list(self.kpts),
                "kpt_density": self.kpt_density,
                "charge": self.charge,
                "spin": self.spin,
                "smearing": self.smearing,
                "ae_refinement": self.ae_refinement,
            }
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
        }

    def solver_settings(self) -> dict[str, Any]:
        """Accuracy settings of the solver (JSON-ready): recorded with each structure, free to change between
        runs of one directory (their effect on the density is below the label tolerance)."""
        return {"xc_grid_level": self.xc_grid_level, "conv_tol": self.conv_tol, "max_cycle": self.max_cycle}

    def to_dict(self) -> dict[str, Any]:
        """All fields (JSON-ready)."""
        data = dataclasses.asdict(self)
        data["kpts"] = list(self.kpts)
        return data
