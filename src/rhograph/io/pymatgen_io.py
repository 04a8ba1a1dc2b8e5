"""Conversions between rhograph and pymatgen: structures and volumetric data.

pymatgen is an optional dependency (``pip install rhograph[pymatgen]``); it is imported only when one of
these functions is called.

Units (see ``docs/conventions.md``): a :class:`~rhograph.io.density_grid.DensityGrid` holds ρ in e/Å³;
pymatgen's :class:`~pymatgen.io.vasp.outputs.Chgcar` holds what the CHGCAR file holds, ``ρ·V_cell``
(electrons per cell, so ``data["total"].sum() / ngridpts`` is the electron count), on a grid whose point
``(0, 0, 0)`` sits on the lattice origin. :func:`grid_to_pymatgen` multiplies by the cell volume and
:func:`grid_from_pymatgen` divides by it; a non-zero grid origin is removed by translating the atoms by
``−origin``, as the CHGCAR writer does.
"""

from __future__ import annotations

from typing import Any

import ase
import numpy as np

from rhograph.errors import ConfigError, StructureError
from rhograph.io.density_grid import DensityGrid

__all__ = ["atoms_from_pymatgen", "grid_from_pymatgen", "grid_to_pymatgen", "is_pymatgen_structure"]

_INSTALL_HINT = "pymatgen is not installed; install it with `pip install rhograph[pymatgen]`"


def _adaptor() -> Any:
    try:
        from pymatgen.io.ase import AseAtomsAdaptor
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return AseAtomsAdaptor


def is_pymatgen_structure(obj: object) -> bool:
    """True for a pymatgen ``Structure`` / ``IStructure`` / ``Molecule`` / ``IMolecule`` (without importing
    pymatgen when ``obj`` is something else)."""
    if not type(obj).__module__.startswith("pymatgen"):
        return False
    from pymatgen.core.structure import IMolecule, IStructure

    return isinstance(obj, IStructure | IMolecule)


def atoms_from_pymatgen(obj: Any) -> ase.Atoms:
    """ASE ``Atoms`` of a pymatgen ``Structure`` (periodic as its lattice says) or ``Molecule`` (non-periodic,
    no cell), through ``pymatgen.io.ase.AseAtomsAdaptor``. Only species and positions are kept.

    Raises:
        StructureError: a disordered structure (partial occupancies) or one ASE cannot hold.
    """
    try:
        converted = _adaptor().get_atoms(obj)
    except ValueError as exc:  # e.g. "ASE Atoms only supports ordered structures"
        raise StructureError(f"<pymatgen {type(obj).__name__}>: cannot convert to ASE Atoms ({exc})") from exc
    return ase.Atoms(
        numbers=converted.numbers, positions=converted.positions, cell=converted.cell.array, pbc=converted.pbc
    )


def grid_to_pymatgen(grid: DensityGrid) -> Any:
    """A pymatgen ``Chgcar`` of a density grid (``data["total"] = ρ·V_cell``, ``data["diff"]`` the same for the
    magnetisation if the grid has one); the structure's lattice is the grid cell and keeps ``grid.pbc``.

    Derived fields (``grid.fields``) are not carried over. No augmentation data (``data_aug`` empty).
    """
    _adaptor()
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.vasp.outputs import Chgcar

    assert grid.cell is not None
    atoms = grid.atoms
    pbc = grid.pbc
    lattice = Lattice(grid.cell, pbc=(bool(pbc[0]), bool(pbc[1]), bool(pbc[2])))
    structure = Structure(
        lattice,
        atoms.get_chemical_symbols(),
        np.asarray(atoms.positions, dtype=np.float64) - grid.origin,
        coords_are_cartesian=True,
    )
    volume = grid.cell_volume
    data = {"total": np.asarray(grid.values, dtype=np.float64) * volume}
    if grid.spin is not None:
        data["diff"] = np.asarray(grid.spin, dtype=np.float64) * volume
    return Chgcar(structure, data)


def grid_from_pymatgen(obj: Any, *, volume_scaled: bool | None = None, source: str | None = None) -> DensityGrid:
    """A :class:`DensityGrid` of a pymatgen ``VolumetricData`` (``Chgcar``, ``Locpot``, ``Elfcar``, …).

    Args:
        obj: the pymatgen object.
        volume_scaled: whether ``obj.data`` holds field·V_cell (the CHGCAR convention) and must be divided by
            the cell volume. ``None`` (default): ``True`` for ``Chgcar``, ``False`` for ``Locpot`` and
            ``Elfcar``; other ``VolumetricData`` carry no unit, so it must be given (e.g. pymatgen's
            ``VolumetricData.from_cube`` keeps the cube's e/Bohr³ as they are: pass ``False`` and convert).
        source: name for error messages (default ``<pymatgen Chgcar>``).

    For a density the total goes to ``values`` and a collinear magnetisation (``diff``, or
    ``spin_up``/``spin_down``) to ``spin``; non-collinear data gives ``spin = None``. For other fields
    (``volume_scaled=False``) ``values`` is the primary block (``obj.data_key``) and ``spin`` is ``None``.
    The origin is zero; ``atoms.pbc`` comes from the lattice.

    Raises:
        ConfigError: not a ``VolumetricData``, or ``volume_scaled`` needed but not given.
        DensityFileError: non-finite values or a non-positive cell volume (via :class:`DensityGrid`).
    """
    _adaptor()
    from pymatgen.io.common import VolumetricData
    from pymatgen.io.vasp.outputs import Chgcar, Elfcar, Locpot

    where = source or f"<pymatgen {type(obj).__name__}>"
    if not isinstance(obj, VolumetricData):
        raise ConfigError(f"{where}: expected a pymatgen VolumetricData (Chgcar, Locpot, …), got {type(obj).__name__}")
    if volume_scaled is None:
        if isinstance(obj, Chgcar):
            volume_scaled = True
        elif isinstance(obj, Locpot | Elfcar):
            volume_scaled = False
        else:
            raise ConfigError(
                f"{where}: a {type(obj).__name__} carries no unit; pass volume_scaled=True if its data are "
                "ρ·V_cell (the CHGCAR convention) or False if they are ρ itself"
            )
    atoms = atoms_from_pymatgen(obj.structure)
    cell = np.asarray(obj.structure.lattice.matrix, dtype=np.float64)
    data = dict(obj.data.items())  # plain dict: no deprecated-key look-ups
    spin: np.ndarray | None = None
    if not volume_scaled:  # a field that is not a density (potential, ELF): its primary block only
        total = np.asarray(data[getattr(obj, "data_key", "total")])
    elif "spin_up" in data and "spin_down" in data:
        total = np.asarray(data["spin_up"]) + np.asarray(data["spin_down"])
        spin = np.asarray(data["spin_up"]) - np.asarray(data["spin_down"])
    else:
        total = np.asarray(data["total"])
        noncollinear = {"diff_x", "diff_y", "diff_z"} <= set(data)
        spin = np.asarray(data["diff"]) if "diff" in data and not noncollinear else None
    scale = 1.0 / abs(float(np.linalg.det(cell))) if volume_scaled else 1.0
    return DensityGrid(
        atoms=atoms,
        values=total * scale,
        cell=cell,
        spin=None if spin is None else spin * scale,
        source=where,
    )
