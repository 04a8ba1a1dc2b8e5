"""Labels of periodic cells with GPAW (PAW, plane waves): the open stand-in for the paper's VASP runs.

GPAW (GPL-3) is an optional dependency, ``rhograph[gpaw]``, imported only inside the functions here; it needs
libxc and BLAS from the system and its PAW setups from the ``gpaw-data`` package (docs/labels.md).

One calculation: PBE (or ``config.xc``) in plane-wave mode with ``config.resolved_ecut`` eV, a Γ-centred
Monkhorst–Pack mesh (``config.kpts``, or one per cell from ``config.kpt_density``), Gaussian smearing of
``config.smearing`` eV (VASP's ISMEAR=0, SIGMA) and, with ``spin=None``, spin polarisation started from the
moments of :data:`INITIAL_MAGMOMS` (or those stored with the structure). The real-space grid is GPAW's own:
``ceil(|a_i| / spacing)`` points along each cell vector rounded up to an efficient FFT length, so the label
spacing is at most ``config.spacing``.

Written densities (e/Å³ in memory, ρ·V_cell in the CHGCAR, the :class:`~rhograph.io.DensityGrid` convention:
point ``(i, j, k)`` at ``(i/N1, j/N2, k/N3) @ cell``, GPAW's grid order):

* ``<name>_CHGCAR``: the pseudo (valence) density plus the PAW compensation charges, as in a VASP CHGCAR, so
  ``∫ρ dV`` equals the valence electrons of GPAW's setups (``Σ_atoms N_v − charge``); the magnetisation
  ρ↑ − ρ↓ as the second block of spin-polarised cells;
* ``all-electron/<name>_AECCAR`` (``config.all_electron_grid``): the all-electron density, core + valence
  (VASP's AECCAR0 + AECCAR2), on the label grid (or ``ae_refinement`` times finer), whose ``∫ρ dV`` is
  ``Σ Z − charge`` (GPAW normalises the PAW corrections): the reference density of Bader analysis;
* ``gpaw-logs/<name>.txt``: GPAW's own log of the calculation (setups, k-points, SCF iterations, timings).

The sub-folders keep the label folder itself a data set of valence densities (``rhograph train`` reads files,
not folders).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import ase
import numpy as np

from rhograph.errors import StructureError
from rhograph.io.density_grid import DensityGrid
from rhograph.labels.config import HARTREE_EV, VALENCE_ELECTRON_TOLERANCE, LabelConfig, import_optional

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "GPAW is needed for --code gpaw: install rhograph[gpaw] (pip install 'rhograph[gpaw]'; GPL-3; it compiles "
    "against libxc and BLAS: apt-get install libxc-dev libopenblas-dev g++ and CC=g++, see docs/labels.md)"
)
#: initial magnetic moments (μB) of spin-polarised cells, ferromagnetic start; other elements start at 0
INITIAL_MAGMOMS = {"V": 2.0, "Cr": 3.0, "Mn": 3.0, "Fe": 4.0, "Co": 1.0, "Ni": 1.0, "Cu": 0.5}
#: density mixer of spin-polarised cells: GPAW's advice for magnetic systems (slower mixing, of the spin
#: difference). Measured on the first two cells of `rhograph data nmc --seed 0` (PBE, 400 eV, 0.1 eV
#: smearing): the 15-atom Li-vacancy cell Li3Mn2CoNiO8, which GPAW's default Pulay mixer left at a density
#: change of 10^-3 after 100 iterations, converged in 42; the 16-atom Li4Ni3CoO8, which the default converged
#: in 28, took 42 (same energy to 0.01 meV). Slower on easy cells, but no failures.
SPIN_MIXER = {"method": "difference", "beta": 0.02, "nmaxold": 5, "weight": 100.0}
#: folder (inside the label directory) of the all-electron densities, so the label folder stays a data set
ALL_ELECTRON_DIR = "all-electron"
#: folder (inside the label directory) of GPAW's text logs, ``<name>.txt`` (SCF iterations, setups, timings)
LOG_DIR = "gpaw-logs"


def import_gpaw() -> Any:
    """Import GPAW or raise ``ImportError`` telling the user to install ``rhograph[gpaw]``."""
    return import_optional("gpaw", INSTALL_HINT)


def versions() -> dict[str, str]:
    """Versions of GPAW and its PAW data package (for the manifest)."""
    found = {}
    try:
        import gpaw

        found["gpaw"] = gpaw.__version__
        import gpaw_data

        found["gpaw_data"] = gpaw_data.__version__
    except (ImportError, AttributeError):  # pragma: no cover - depends on the environment
        pass
    return found


def all_electron_file(name: str, config: LabelConfig) -> str:
    """Path of the all-electron density of ``name`` relative to the label directory."""
    return f"{ALL_ELECTRON_DIR}/{name}_AECCAR{config.compression or ''}"


def kpoint_mesh(cell: np.ndarray, config: LabelConfig) -> tuple[int, int, int]:
    """The Monkhorst–Pack mesh of a cell: ``config.kpts``, or ``ceil(2π |b_i| kpt_density)`` per axis."""
    if config.kpt_density is None:
        return config.kpts
    reciprocal = np.linalg.inv(np.asarray(cell, dtype=np.float64)).T  # rows b_i / 2π, 1/Å
    lengths = 2.0 * np.pi * np.linalg.norm(reciprocal, axis=1)
    n1, n2, n3 = (max(1, math.ceil(length * config.kpt_density - 1e-9)) for length in lengths)
    return (n1, n2, n3)


def initial_magmoms(atoms: ase.Atoms, config: LabelConfig) -> np.ndarray | None:
    """Initial moments (μB) per atom, or ``None`` for a calculation without spin polarisation.

    Moments stored with the structure win; otherwise :data:`INITIAL_MAGMOMS` by element. ``spin=0`` and
    cells without any moment are not polarised.
    """
    if config.spin == 0:
        return None
    stored = atoms.get_initial_magnetic_moments()
    if stored.ndim == 1 and np.any(stored != 0):
        return np.asarray(stored, dtype=np.float64)
    moments = np.array([INITIAL_MAGMOMS.get(s, 0.0) for s in atoms.get_chemical_symbols()])
    return moments if np.any(moments != 0) else None


def _occupations(config: LabelConfig) -> dict[str, Any]:
    if config.smearing == 0:
        return {"width": 0.0}
    return {"name": "methfessel-paxton", "width": float(config.smearing), "order": 0}  # order 0 = Gaussian


def _check_electrons(what: str, value: float, expected: float, tolerance: float) -> str | None:
    if abs(value - expected) > tolerance:
        return (
            f"electron count check failed: {what} ∫ρ dV = {value:.5f}, expected {expected:g} ± {tolerance:.3g} "
            "(grid too coarse?)"
        )
    return None


def label_cell(
    name: str, atoms: ase.Atoms, out_dir: Path, config: LabelConfig, entry: dict[str, Any], files: list[str]
) -> dict[str, Any]:
    """Run GPAW on one periodic cell, check ∫ρ dV and write ``files`` (names in ``out_dir``: the CHGCAR and, with
    ``config.all_electron_grid``, :func:`all_electron_file`); returns the filled manifest entry.

    Never raises for a cell that cannot be labelled: ``entry["status"]`` becomes ``failed`` with a reason.
    """
    from rhograph.io.formats import write_density
    from rhograph.labels.scf import is_periodic

    try:
        periodic = is_periodic(atoms, name)
        entry["periodic"] = periodic
        if not periodic:
            raise StructureError(f"{name}: code 'gpaw' labels periodic cells; label molecules with code 'pyscf'")
        log_file = out_dir / LOG_DIR / f"{name}.txt"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        result = _run(atoms, config, entry, log_file)
    except StructureError as exc:
        entry.update(status="failed", reason=str(exc))
        return entry
    except Exception as exc:  # GPAW raises many types for cells it cannot handle
        log.debug("%s: GPAW failed", name, exc_info=True)
        entry.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
        return entry
    if result is None:
        entry.update(status="failed", reason=f"SCF did not converge in {config.max_cycle} iterations")
        return entry
    grid, all_electron = result
    tolerance = (config.electron_tolerance or VALENCE_ELECTRON_TOLERANCE) * entry["electrons"]
    entry["electron_tolerance"] = tolerance
    problem = _check_electrons("valence", grid.electrons, entry["electrons"], tolerance)
    if problem is None and all_electron is not None:
        electrons = float(entry["electrons_all_electron_expected"])
        problem = _check_electrons(
            "all-electron", all_electron.electrons, electrons, tolerance / entry["electrons"] * electrons
        )
    if problem is not None:
        entry.update(status="failed", reason=problem)
        return entry
    for file_name in files:
        path = out_dir / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        is_all_electron = file_name.startswith(ALL_ELECTRON_DIR + "/")
        write_density(path, all_electron if is_all_electron and all_electron is not None else grid)
    entry.update(status="done", files=files)
    return entry


def calculator_parameters(
    atoms: ase.Atoms, config: LabelConfig, log_file: str | Path
) -> tuple[dict[str, Any], np.ndarray | None]:
    """The GPAW keyword arguments of a label calculation of ``atoms`` (plane waves, k-point mesh, smearing, spin
    and its mixer as described in the module docstring) and the initial magnetic moments (``None``: not
    spin-polarised); shared with ``benchmarks/scaling.py`` so that it times exactly a label's SCF."""
    from gpaw import PW

    magmoms = initial_magmoms(atoms, config)
    parameters: dict[str, Any] = {
        "mode": PW(config.resolved_ecut),
        "xc": config.xc,
        "h": config.spacing,
        "kpts": {"size": kpoint_mesh(np.asarray(atoms.cell.array, dtype=np.float64), config), "gamma": True},
        "occupations": _occupations(config),
        "charge": config.charge,
        "spinpol": magmoms is not None,
        "maxiter": config.max_cycle,
        "txt": str(log_file),
    }
    if magmoms is not None:
        parameters["mixer"] = dict(SPIN_MIXER)
    return parameters, magmoms


def _run(
    atoms: ase.Atoms, config: LabelConfig, entry: dict[str, Any], log_file: Path
) -> tuple[DensityGrid, DensityGrid | None] | None:
    """The SCF and the density grids (``None`` if the SCF did not converge); fills ``entry`` as it goes."""
    import_gpaw()
    from gpaw import GPAW, KohnShamConvergenceError

    cell = np.asarray(atoms.cell.array, dtype=np.float64)
    stored = ase.Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=cell, pbc=True)
    work = stored.copy()
    parameters, magmoms = calculator_parameters(work, config, log_file)
    if magmoms is not None:
        work.set_initial_magnetic_moments(magmoms)
    entry["kpts"] = list(parameters["kpts"]["size"])
    entry["spin_polarised"] = magmoms is not None
    entry["solver"] = {
        "max_cycle": config.max_cycle,
        "convergence": "GPAW defaults",
        "mode": "pw",
        "setups": "paw",
        "mixer": parameters.get("mixer") or "GPAW default",
    }
    start = time.perf_counter()
    calc = GPAW(**parameters)
    work.calc = calc
    try:
        energy = float(work.get_potential_energy())
        converged = True
    except KohnShamConvergenceError:
        energy, converged = float("nan"), False
    entry.update(
        converged=converged,
        scf_seconds=round(time.perf_counter() - start, 3),
        cycles=int(calc.get_number_of_iterations()),
    )
    setups = {s.symbol: float(s.Nv) for s in calc.setups}
    entry["setup_valence"] = dict(sorted(setups.items()))
    entry["electrons"] = float(sum(s.Nv for s in calc.setups)) - config.charge
    if not converged:
        return None
    entry["energy_ev"] = energy
    entry["energy_hartree"] = energy / HARTREE_EV
    if magmoms is not None:
        entry["magnetic_moment"] = round(float(calc.get_magnetic_moment()), 5)
        entry["magnetic_moments"] = [round(float(m), 4) for m in calc.get_magnetic_moments()]

    start = time.perf_counter()
    values = np.asarray(calc.get_pseudo_density())  # e/Å³, compensation charges included
    spin = None
    if magmoms is not None:
        spin = np.asarray(calc.get_pseudo_density(spin=0)) - np.asarray(calc.get_pseudo_density(spin=1))
    grid = DensityGrid(atoms=stored, values=values, cell=cell, spin=spin)
    entry["grid_shape"] = list(grid.shape)
    entry["electrons_grid"] = grid.electrons
    all_electron = None
    if config.all_electron_grid:
        ae_values = calc.get_all_electron_density(gridrefinement=config.ae_refinement)
        all_electron = DensityGrid(atoms=stored, values=ae_values, cell=cell)
        entry["all_electron_grid_shape"] = list(all_electron.shape)
        entry["electrons_all_electron_expected"] = float(atoms.numbers.sum()) - config.charge
        entry["electrons_all_electron"] = all_electron.electrons
    entry["grid_seconds"] = round(time.perf_counter() - start, 3)
    return grid, all_electron
