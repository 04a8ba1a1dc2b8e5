"""Spherically averaged free-atom densities with the label settings: the tables of the atomic baseline.

One Kohn–Sham calculation per element, with exactly the functional, basis and pseudopotential (or
all-electron) of the training labels (:class:`~rhograph.labels.config.LabelConfig`). Open-shell atoms are
spin-polarised: every spin multiplicity allowed by the electron count up to ``2S = 6`` is tried and the
lowest-energy converged one kept (Hund's rule, found rather than assumed). The density is then averaged over
a 302-point Lebedev sphere at every radius, which removes the orientation a partly filled shell picks.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import ase
import numpy as np

from rhograph.labels.config import LabelConfig
from rhograph.models.baseline import AtomicDensityTables

log = logging.getLogger(__name__)

#: Lebedev points of the spherical average (exact for polynomials of degree 29 on the sphere)
ANGULAR_POINTS = 302
#: largest 2S tried for an atom
MAX_SPIN = 6


def free_atom(atomic_number: int, config: LabelConfig) -> tuple[Any, dict[str, Any]]:
    """The lowest-energy converged spin state of one atom: ``(ScfResult, {spin, energy_hartree, electrons})``.

    Raises:
        RuntimeError: no spin state converged.
    """
    from rhograph.labels.scf import build_system

    atoms = ase.Atoms(numbers=[int(atomic_number)], positions=[[0.0, 0.0, 0.0]], pbc=False)
    base = dataclasses.replace(config, spin=None, charge=0, smearing=0.0)
    electrons = int(build_system(atoms, base, f"Z={atomic_number}").nelectron)
    best = None
    tried = []
    spin = None
    for candidate in range(electrons % 2, min(electrons, MAX_SPIN) + 1, 2):
        try:
            result = _atom_scf(atoms, dataclasses.replace(base, spin=candidate), f"Z={atomic_number}")
        except RuntimeError as exc:  # more unpaired electrons than the basis has orbitals for
            if "mo_occ" not in str(exc):
                raise
            continue
        tried.append((candidate, result.energy, result.converged))
        if result.converged and (best is None or result.energy < best.energy - 1e-6):
            best, spin = result, candidate
    if best is None:
        raise RuntimeError(f"no spin state of Z={atomic_number} converged ({tried})")
    info = {"spin": spin, "energy_hartree": best.energy, "electrons": best.electrons, "tried": tried}
    return best, info


def _atom_scf(atoms: ase.Atoms, config: LabelConfig, name: str) -> Any:
    """Kohn–Sham of one atom; a plain SCF that oscillates between degenerate shells is finished with
    PySCF's second-order (Newton) solver from where it stopped."""
    import time

    from rhograph.labels.scf import ScfResult, _make_solver, build_system

    start = time.perf_counter()
    system = build_system(atoms, config, name)
    mf = _make_solver(system, config, None)
    mf.kernel()
    if not mf.converged:
        mf = mf.newton()
        mf.kernel(mf.make_rdm1())
    dm = np.asarray(mf.make_rdm1())
    if system.spin != 0:
        dm = dm[0] + dm[1]
    return ScfResult(
        system=system,
        dm=dm,
        dm_spin=None,
        kpts=None,
        energy=float(mf.e_tot),
        converged=bool(mf.converged),
        cycles=int(getattr(mf, "cycles", -1)),
        electrons=int(system.nelectron),
        seconds=time.perf_counter() - start,
    )


def spherical_average(result: Any, radii: np.ndarray) -> np.ndarray:
    """``⟨ρ(r n̂)⟩_n̂`` in e/Å³ at ``radii`` (Å) of an atom at the origin."""
    from pyscf import dft

    from rhograph.labels.evaluate import evaluate_density

    grid = dft.LebedevGrid.MakeAngularGrid(ANGULAR_POINTS)  # (P, 4): unit vectors and weights (sum 1)
    directions, weights = grid[:, :3], grid[:, 3]
    points = (radii[:, None, None] * directions[None, :, :]).reshape(-1, 3)
    rho = evaluate_density(result.system, result.dm, points).reshape(len(radii), len(directions))
    return rho @ weights


def free_atom_tables(
    elements: Sequence[int], config: LabelConfig, *, cutoff: float = 4.0, points: int = 801
) -> AtomicDensityTables:
    """Radial tables of the spherically averaged free atoms of ``elements`` on ``[0, cutoff]`` Å.

    The settings record the label settings, and per element the spin state chosen, its energy and the
    electrons (valence electrons with a pseudopotential).
    """
    radii = np.linspace(0.0, float(cutoff), int(points))
    elements = sorted(set(int(z) for z in elements))
    values = []
    per_element: dict[str, Any] = {}
    for z in elements:
        result, info = free_atom(z, config)
        values.append(spherical_average(result, radii))
        per_element[str(z)] = {key: info[key] for key in ("spin", "energy_hartree", "electrons")}
        log.info(
            "free atom Z=%d: 2S=%d, E=%.6f Ha, %d electrons", z, info["spin"], info["energy_hartree"], info["electrons"]
        )
    settings = {"label_settings": config.density_settings(), "atoms": per_element, "angular_points": ANGULAR_POINTS}
    return AtomicDensityTables(tuple(elements), radii, np.stack(values), settings)
