"""Kohn–Sham DFT of one structure with PySCF: molecules with ``pyscf.gto``, periodic cells with ``pyscf.pbc``.

A structure is a molecule when ``atoms.pbc`` is all false and a periodic cell when it is all true (mixed
periodicity is rejected). PySCF is imported inside the functions (optional dependency ``rhograph[dft]``).

Units: ASE positions and cells in Å go in (PySCF is told ``unit='Angstrom'``); energies come out in
Hartree; density matrices are in the atomic-orbital basis of the returned PySCF object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import ase
import numpy as np

from rhograph.errors import StructureError
from rhograph.labels.config import HARTREE_EV, LabelConfig, import_optional

INSTALL_HINT = "PySCF is needed for DFT labels: install rhograph[dft] (pip install 'rhograph[dft]')"


def import_pyscf() -> Any:
    """Import PySCF or raise ``ImportError`` telling the user to install ``rhograph[dft]``."""
    return import_optional("pyscf", INSTALL_HINT)


def is_periodic(atoms: ase.Atoms, name: str = "<structure>") -> bool:
    """``True`` for a 3-D periodic cell, ``False`` for a molecule.

    Raises:
        StructureError: empty structure, non-finite positions, an unknown element, periodicity in only
            some directions, or a periodic cell without volume.
    """
    from rhograph.data.graph import validate_atoms

    validate_atoms(atoms, name)  # the package's one structure validator
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.all():
        volume = abs(float(np.linalg.det(atoms.cell.array)))
        if not volume > 1e-6:
            raise StructureError(f"{name}: periodic structure has a degenerate cell (volume {volume:.3g} Å³)")
        return True
    if pbc.any():
        raise StructureError(
            f"{name}: periodic along {pbc.tolist()} only; label molecules (no periodicity) or 3-D periodic "
            "cells (slabs and wires are not supported)"
        )
    return False


@dataclass
class ScfResult:
    """Outcome of one Kohn–Sham calculation.

    Args:
        system: the built ``pyscf.gto.Mole`` or ``pyscf.pbc.gto.Cell``.
        dm: total density matrix (α + β), ``(nao, nao)`` (molecule, Γ-point cell) or ``(nk, nao, nao)``
            complex (k-point sampling).
        dm_spin: α − β density matrix of the same shape for unrestricted runs, else ``None``.
        kpts: absolute k-points in 1/Bohr, ``(nk, 3)``, or ``None`` for Γ-only / molecules.
        energy: total energy in Hartree.
        converged: whether the SCF met ``conv_tol`` within ``max_cycle`` iterations.
        cycles: SCF iterations done.
        electrons: electrons in the calculation (valence electrons with a pseudopotential).
        seconds: wall time of the SCF.
        xc_grid: the molecular XC integration grid ``(points Bohr (M, 3), weights (M,))``, or ``None``
            (cells): it integrates ρ over all space, which checks a label box without a density grid.
    """

    system: Any
    dm: np.ndarray
    dm_spin: np.ndarray | None
    kpts: np.ndarray | None
    energy: float
    converged: bool
    cycles: int
    electrons: int
    seconds: float
    xc_grid: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def periodic(self) -> bool:
        return hasattr(self.system, "lattice_vectors")


def _atom_list(atoms: ase.Atoms) -> list[tuple[int, tuple[float, float, float]]]:
    return [
        (int(z), (float(p[0]), float(p[1]), float(p[2]))) for z, p in zip(atoms.numbers, atoms.positions, strict=True)
    ]


def _build(system: Any, config: LabelConfig, name: str) -> Any:
    """Build ``system`` with the configured spin (auto: lowest spin allowed by the electron count)."""
    system.spin = 0 if config.spin is None else config.spin
    try:
        system.build()
    except RuntimeError as exc:
        if config.spin is not None or "spin" not in str(exc):
            raise StructureError(f"{name}: {exc}") from exc
        system.spin = system.nelectron % 2
        system.build()
    except KeyError as exc:  # PySCF raises KeyError/RuntimeError for elements missing from a basis
        raise StructureError(
            f"{name}: basis {config.resolved_basis!r} or pseudopotential {config.resolved_pseudo!r} "
            f"has no entry for {exc}"
        ) from exc
    return system


def build_system(atoms: ase.Atoms, config: LabelConfig, name: str = "<structure>") -> Any:
    """The PySCF ``Mole`` (molecule) or ``Cell`` (periodic) for ``atoms`` with the configured basis."""
    import_pyscf()
    periodic = is_periodic(atoms, name)
    if periodic:
        from pyscf.pbc import gto as pbcgto

        system = pbcgto.Cell()
        system.a = np.asarray(atoms.cell.array, dtype=np.float64)
        if config.ke_cutoff is not None:
            system.ke_cutoff = config.ke_cutoff
    else:
        from pyscf import gto

        system = gto.Mole()
    system.atom = _atom_list(atoms)
    system.unit = "Angstrom"
    system.basis = config.resolved_basis
    if config.resolved_pseudo is not None:
        system.pseudo = config.resolved_pseudo
    system.charge = config.charge
    system.verbose = 0
    return _build(system, config, name)


#: largest memory in bytes that the cached XC-grid orbital values of one molecule may take
AO_CACHE_BYTES = 2 * 1024**3
_CACHED_NUMINT: Any = None


def cached_numint() -> Any:
    """A PySCF ``NumInt`` that evaluates the basis functions on the XC grid once per SCF, not once per cycle.

    PySCF's ``NumInt.block_loop`` recomputes the orbital values (and gradients, for GGAs) on every block of the
    integration grid in every SCF cycle, ~40 % of a QM9 label at XC grid level 1. The grid does not change
    during an SCF, so this subclass keeps a copy of each block's values (when all of them take at most
    :data:`AO_CACHE_BYTES`) and yields the copies from the second cycle on: the same numbers, in the same order
    (``benchmarks/label_qm9.py``). PySCF's XC code only reads the yielded arrays.
    """
    global _CACHED_NUMINT
    if _CACHED_NUMINT is None:
        from pyscf.dft import numint

        class CachedAONumInt(numint.NumInt):
            def block_loop(self, mol, grids, nao=None, deriv=0, max_memory=2000, non0tab=None, blksize=None,
                           buf=None):  # fmt: skip
                parent = super().block_loop
                if grids.coords is None or non0tab is not None or blksize is not None:
                    yield from parent(mol, grids, nao, deriv, max_memory, non0tab, blksize, buf)
                    return
                comp = (deriv + 1) * (deriv + 2) * (deriv + 3) // 6
                size = comp * grids.coords.shape[0] * (nao or mol.nao) * 8
                key = (id(mol), id(grids), id(grids.coords), deriv, nao)  # blocks of any size serve
                cache = getattr(self, "_ao_cache", None)
                if cache is not None and cache[0] == key:
                    yield from cache[1]
                    return
                if size > AO_CACHE_BYTES:
                    yield from parent(mol, grids, nao, deriv, max_memory, non0tab, blksize, buf)
                    return
                blocks = []
                for ao, mask, weight, coords in parent(mol, grids, nao, deriv, max_memory, non0tab, blksize, buf):
                    blocks.append((ao.copy(order="K"), mask, weight, coords))  # ao lives in a reused buffer
                    yield blocks[-1]
                self._ao_cache = (key, blocks)

        _CACHED_NUMINT = CachedAONumInt
    return _CACHED_NUMINT()


def _make_solver(system: Any, config: LabelConfig, kpts: np.ndarray | None) -> Any:
    unrestricted = system.spin != 0
    if hasattr(system, "lattice_vectors"):
        from pyscf.pbc import dft as pbcdft

        if kpts is None:
            mf = (pbcdft.UKS if unrestricted else pbcdft.RKS)(system)
        else:
            mf = (pbcdft.KUKS if unrestricted else pbcdft.KRKS)(system, kpts)
        if config.resolved_pseudo is None:
            mf = mf.density_fit()  # all-electron cells: Gaussian density fitting, not plane waves
    else:
        from pyscf import dft

        mf = (dft.UKS if unrestricted else dft.RKS)(system)
        mf._numint = cached_numint()
        mf.grids.level = config.xc_grid_level
        if config.density_fit:
            mf = mf.density_fit()
    mf.xc = config.xc
    mf.max_cycle = config.max_cycle
    mf.conv_tol = config.conv_tol
    mf.verbose = 0
    if config.smearing > 0:
        mf = mf.smearing(sigma=config.smearing / HARTREE_EV, method="gauss")
    return mf


def run_scf(atoms: ase.Atoms, config: LabelConfig, name: str = "<structure>") -> ScfResult:
    """Kohn–Sham DFT of ``atoms`` with the settings of ``config``.

    A calculation that does not converge is returned with ``converged=False`` (the caller decides; the
    labelling driver writes nothing for it).

    Raises:
        StructureError: the structure cannot be set up (see :func:`is_periodic`, missing basis entries).
    """
    start = time.perf_counter()
    system = build_system(atoms, config, name)
    kpts = None
    if hasattr(system, "lattice_vectors") and config.kpts != (1, 1, 1):
        kpts = system.make_kpts(list(config.kpts))
    mf = _make_solver(system, config, kpts)
    if not hasattr(system, "lattice_vectors") and config.density_fit:
        # the 3-centre integrals once, in memory (PySCF falls back to disk when they do not fit), instead of
        # recomputing them twice per SCF cycle; the same fitted Coulomb term, ~15 % less time for QM9
        mf.with_df.build()
    energy = float(mf.kernel())
    dm = np.asarray(mf.make_rdm1())
    dm_spin = None
    if system.spin != 0:  # unrestricted: dm has a leading (α, β) axis
        dm, dm_spin = dm[0] + dm[1], dm[0] - dm[1]
    return ScfResult(
        system=system,
        dm=dm,
        dm_spin=dm_spin,
        kpts=kpts,
        energy=energy,
        converged=bool(mf.converged),
        cycles=int(getattr(mf, "cycles", -1)),
        electrons=int(system.nelectron),
        seconds=time.perf_counter() - start,
        xc_grid=None if kpts is not None or not hasattr(mf, "grids") or hasattr(system, "lattice_vectors")
        else (np.asarray(mf.grids.coords), np.asarray(mf.grids.weights)),
    )  # fmt: skip
