"""Compact density labels: a Gaussian basis and a density matrix instead of a grid (``<name>.dm.npz``).

The density of a Kohn–Sham calculation is exactly

    ρ(r) = Σ_μν D_μν φ_μ(r) φ_ν(r)*        (k-sampled cells: averaged over the k-points)

so storing the basis functions φ (atoms, exponents, contraction coefficients) and ``D`` lets ρ be evaluated
anywhere: training draws probes at arbitrary points (no grid aliasing) and any grid can be rebuilt. For a
QM9 molecule the file is ~30 kB, against ~10 MB for a cube file of the same density.

File format (``numpy.savez_compressed``, readable with ``allow_pickle=False``; nothing in it is executed):

* ``format_version`` (int), ``kind`` (``"molecule"`` / ``"cell"``), ``settings`` (JSON of the label settings),
* ``atom_json`` / ``basis_json``: PySCF's parsed atom list (coordinates in Bohr) and basis (JSON data),
  ``cart``, ``pseudo`` (name or ``""``), ``charge``, ``spin``, ``lattice_bohr`` (cells),
* ``nao``, ``dm_tril`` (lower triangle of the Hermitian total density matrix, ``(..., nao(nao+1)/2)``, float32
  or complex64 since format 2: it changes a QM9 density by ~2·10⁻⁶ % ε_mae, and halves the file; format 1
  stored float64 and is still read), optionally ``dm_spin_tril``, ``kpts`` (1/Bohr),
* ``numbers``, ``positions`` (Å), ``atoms_cell`` (Å), ``pbc``: the structure,
* ``grid_cell``, ``grid_origin`` (Å), ``grid_shape``: the labelling box and the grid written beside it,
* ``electrons``: electrons in the calculation (valence electrons with a pseudopotential), ``energy`` (Ha).

A :class:`CompactDensity` is a probe target for training (``atoms``, ``draw_probes``, ``fixed_probes``)
and :class:`CompactSource` a target source over a directory of such files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ase
import numpy as np

from rhograph.errors import DensityFileError
from rhograph.io.atomic import atomic_path
from rhograph.io.density_grid import DensityGrid

if TYPE_CHECKING:
    from rhograph.data.grid_geometry import GridSpec

COMPACT_SUFFIX = ".dm.npz"
FORMAT_VERSION = 2
#: format versions :meth:`CompactDensity.load` reads (1: float64 density matrices, uncompressed)
READABLE_VERSIONS = (1, 2)


def _stored(matrix: np.ndarray) -> np.ndarray:
    """A density matrix as stored: single precision (complex64 for k-point matrices)."""
    return matrix.astype(np.complex64 if np.iscomplexobj(matrix) else np.float32)


def _computed(matrix: np.ndarray) -> np.ndarray:
    """A stored density matrix in the double precision PySCF computes with."""
    return matrix.astype(np.complex128 if np.iscomplexobj(matrix) else np.float64)


def _pack(matrix: np.ndarray) -> np.ndarray:
    """Lower triangles of Hermitian matrices ``(..., n, n)`` -> ``(..., n(n+1)/2)``."""
    rows, cols = np.tril_indices(matrix.shape[-1])
    return np.ascontiguousarray(matrix[..., rows, cols])


def _unpack(packed: np.ndarray, nao: int) -> np.ndarray:
    rows, cols = np.tril_indices(nao)
    out = np.zeros((*packed.shape[:-1], nao, nao), dtype=packed.dtype)
    out[..., rows, cols] = packed
    out[..., cols, rows] = np.conj(packed)
    return out


@dataclass
class CompactDensity:
    """A density stored as basis + density matrix, evaluated on demand.

    Args:
        atoms: the structure (positions Å; molecules carry their label box as ``cell``, ``pbc`` false).
        system_data: what rebuilds the PySCF basis without executing anything: ``atom`` (PySCF's parsed
            atom list, Bohr), ``basis`` (parsed basis), ``cart``, ``pseudo``, ``charge``, ``spin`` and, for
            cells, ``lattice_bohr``.
        dm: total density matrix ``(nao, nao)`` or ``(nk, nao, nao)`` (k-points).
        dm_spin: α − β density matrix (unrestricted runs) or ``None``.
        kpts: k-points in 1/Bohr ``(nk, 3)`` or ``None``.
        cell: label box in Å ``(3, 3)``, rows are the spanning vectors; probes are drawn inside it.
        origin: lower corner of the label box in Å ``(3,)``.
        shape: grid shape written beside the compact label (the default of :meth:`to_grid`).
        electrons: electrons in the calculation.
        energy: total energy in Hartree.
        settings: the label settings (see :meth:`rhograph.labels.LabelConfig.density_settings`).
        source: the file it was read from.

    Shapes:
        evaluate: points ``(M, 3)`` Å -> ``(M,)`` e/Å³.
    """

    atoms: ase.Atoms
    system_data: dict[str, Any]
    dm: np.ndarray
    dm_spin: np.ndarray | None
    kpts: np.ndarray | None
    cell: np.ndarray
    origin: np.ndarray
    shape: tuple[int, int, int]
    electrons: int
    energy: float = float("nan")
    settings: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self) -> None:
        self._system: Any = None

    def __getstate__(self) -> dict[str, Any]:  # the PySCF object is rebuilt lazily, never pickled
        state = dict(self.__dict__)
        state["_system"] = None
        return state

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_scf(
        cls,
        result: Any,
        atoms: ase.Atoms,
        spec: GridSpec,
        settings: dict[str, Any] | None = None,
    ) -> CompactDensity:
        """From a :class:`~rhograph.labels.scf.ScfResult` and the label grid."""
        system = result.system
        data: dict[str, Any] = {
            "atom": [[symbol, [float(x) for x in xyz]] for symbol, xyz in system._atom],
            "basis": system._basis,
            "cart": bool(system.cart),
            "pseudo": system.pseudo if isinstance(system.pseudo, str) else None,
            "charge": int(system.charge),
            "spin": int(system.spin),
        }
        if result.periodic:
            data["lattice_bohr"] = np.asarray(system.lattice_vectors(), dtype=np.float64).tolist()
        return cls(
            atoms=atoms.copy(),
            system_data=data,
            dm=np.asarray(result.dm),
            dm_spin=None if result.dm_spin is None else np.asarray(result.dm_spin),
            kpts=None if result.kpts is None else np.asarray(result.kpts, dtype=np.float64),
            cell=np.asarray(spec.cell, dtype=np.float64),
            origin=np.asarray(spec.origin, dtype=np.float64),
            shape=tuple(int(n) for n in spec.shape),  # type: ignore[arg-type]
            electrons=int(result.electrons),
            energy=float(result.energy),
            settings=dict(settings or {}),
        )

    @property
    def periodic(self) -> bool:
        return "lattice_bohr" in self.system_data

    @property
    def system(self) -> Any:
        """The PySCF ``Mole`` / ``Cell`` (built on first use; PySCF must be installed)."""
        if self._system is None:
            self._system = self._build_system()
        return self._system

    def _build_system(self) -> Any:
        from rhograph.labels.scf import import_pyscf

        import_pyscf()
        data = self.system_data
        if self.periodic:
            from pyscf.pbc import gto as pbcgto

            system = pbcgto.Cell()
            system.a = np.asarray(data["lattice_bohr"], dtype=np.float64)
        else:
            from pyscf import gto

            system = gto.Mole()
        system.atom = data["atom"]
        system.unit = "Bohr"
        system.basis = data["basis"]
        system.cart = bool(data["cart"])
        if data.get("pseudo"):
            system.pseudo = data["pseudo"]
        system.charge = int(data["charge"])
        system.spin = int(data["spin"])
        system.verbose = 0
        system.build()
        return system

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, points: np.ndarray) -> np.ndarray:
        """ρ at ``points`` (Å, ``(M, 3)``) in e/Å³, ``(M,)`` float64."""
        from rhograph.labels.evaluate import evaluate_density

        return evaluate_density(self.system, self.dm, points, kpts=self.kpts)

    def evaluate_spin(self, points: np.ndarray) -> np.ndarray:
        """ρ↑ − ρ↓ at ``points`` (Å) in e/Å³; zeros for a closed-shell calculation."""
        from rhograph.labels.evaluate import evaluate_density

        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if self.dm_spin is None:
            return np.zeros(len(points))
        return evaluate_density(self.system, self.dm_spin, points, kpts=self.kpts)

    @property
    def electrons_exact(self) -> float:
        """Tr(D S): the electrons in the stored density matrix (no grid)."""
        from rhograph.labels.evaluate import dm_electrons

        return dm_electrons(self.system, self.dm, self.kpts)

    def to_grid(self, spacing: float | None = None, shape: tuple[int, int, int] | None = None) -> DensityGrid:
        """The density on a grid over the label box: the stored grid shape, ``shape``, or ``spacing`` Å."""
        from rhograph.labels.grids import grid_shape

        if spacing is not None and shape is not None:
            raise ValueError("give either spacing or shape, not both")
        if spacing is not None:
            shape = grid_shape(self.cell, spacing)
        n1, n2, n3 = self.shape if shape is None else shape
        grid = DensityGrid(
            atoms=self.atoms.copy(), values=np.zeros((n1, n2, n3), dtype=np.float32), cell=self.cell,
            origin=self.origin, source=self.source,
        )  # fmt: skip
        positions = grid.grid_positions()
        grid.values = self.evaluate(positions).astype(np.float32).reshape(n1, n2, n3)
        if self.dm_spin is not None:
            grid.spin = self.evaluate_spin(positions).astype(np.float32).reshape(n1, n2, n3)
        return grid

    # ------------------------------------------------------------------ probe target (training)
    def random_points(self, num: int, rng: np.random.Generator) -> np.ndarray:
        """``num`` points drawn uniformly in the label box, ``(num, 3)`` Å."""
        if num < 1:
            raise ValueError(f"number of probes must be positive, got {num}")
        return rng.random((num, 3)) @ self.cell + self.origin

    def draw_probes(self, num: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``num`` probes uniform in the box: positions ``(num, 3)`` Å, densities ``(num,)`` float32 e/Å³."""
        points = self.random_points(num, rng)
        return points, self.evaluate(points).astype(np.float32)

    def fixed_probes(self, num: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """A reproducible probe set (validation): a function of ``seed`` only."""
        return self.draw_probes(num, np.random.default_rng(seed))

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the ``.dm.npz`` file atomically."""
        nao = self.dm.shape[-1]
        arrays: dict[str, Any] = {
            "format_version": np.int64(FORMAT_VERSION),
            "kind": np.str_("cell" if self.periodic else "molecule"),
            "settings": np.str_(json.dumps(self.settings, sort_keys=True)),
            "atom_json": np.str_(json.dumps(self.system_data["atom"])),
            "basis_json": np.str_(json.dumps(self.system_data["basis"])),
            "cart": np.bool_(self.system_data["cart"]),
            "pseudo": np.str_(self.system_data.get("pseudo") or ""),
            "charge": np.int64(self.system_data["charge"]),
            "spin": np.int64(self.system_data["spin"]),
            "nao": np.int64(nao),
            "dm_tril": _stored(_pack(self.dm)),
            "numbers": self.atoms.numbers.astype(np.int64),
            "positions": self.atoms.positions.astype(np.float64),
            "atoms_cell": np.asarray(self.atoms.cell.array, dtype=np.float64),
            "pbc": np.asarray(self.atoms.pbc, dtype=bool),
            "grid_cell": self.cell,
            "grid_origin": self.origin,
            "grid_shape": np.asarray(self.shape, dtype=np.int64),
            "electrons": np.int64(self.electrons),
            "energy": np.float64(self.energy),
        }
        if self.periodic:
            arrays["lattice_bohr"] = np.asarray(self.system_data["lattice_bohr"], dtype=np.float64)
        if self.dm_spin is not None:
            arrays["dm_spin_tril"] = _stored(_pack(self.dm_spin))
        if self.kpts is not None:
            arrays["kpts"] = self.kpts
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CompactDensity:
        """Read a ``.dm.npz`` file.

        Raises:
            DensityFileError: not a readable npz, an unknown format version, or missing/malformed fields.
        """
        where = os.fspath(path)
        with open(where, "rb") as fh:
            if not fh.read(2) == b"PK":
                raise DensityFileError(where, "not an npz label (not a zip archive); expected a .dm.npz file")
        try:
            with np.load(where, allow_pickle=False) as npz:
                data = {key: npz[key] for key in npz.files}
        except FileNotFoundError:
            raise
        except Exception as exc:  # zipfile / numpy raise several types for corrupt files
            raise DensityFileError(where, f"not a readable compact density (.dm.npz) file ({exc})") from exc
        try:
            version = int(data["format_version"])
            if version not in READABLE_VERSIONS:
                raise DensityFileError(where, f"compact density format version {version} is not supported")
            nao = int(data["nao"])
            system_data: dict[str, Any] = {
                "atom": json.loads(str(data["atom_json"])),
                "basis": json.loads(str(data["basis_json"])),
                "cart": bool(data["cart"]),
                "pseudo": str(data["pseudo"]) or None,
                "charge": int(data["charge"]),
                "spin": int(data["spin"]),
            }
            if str(data["kind"]) == "cell":
                system_data["lattice_bohr"] = data["lattice_bohr"].tolist()
            atoms = ase.Atoms(
                numbers=data["numbers"], positions=data["positions"], cell=data["atoms_cell"], pbc=data["pbc"]
            )
            dm = _unpack(_computed(data["dm_tril"]), nao)
            dm_spin = _unpack(_computed(data["dm_spin_tril"]), nao) if "dm_spin_tril" in data else None
            n1, n2, n3 = (int(n) for n in data["grid_shape"])
            return cls(
                atoms=atoms,
                system_data=system_data,
                dm=dm,
                dm_spin=dm_spin,
                kpts=data.get("kpts"),
                cell=np.asarray(data["grid_cell"], dtype=np.float64).reshape(3, 3),
                origin=np.asarray(data["grid_origin"], dtype=np.float64).reshape(3),
                shape=(n1, n2, n3),
                electrons=int(data["electrons"]),
                energy=float(data["energy"]),
                settings=json.loads(str(data["settings"])),
                source=where,
            )
        except KeyError as exc:
            raise DensityFileError(where, f"compact density file lacks the field {exc}") from exc
        except (ValueError, TypeError) as exc:
            raise DensityFileError(where, f"malformed compact density file ({exc})") from exc


class CompactSource:
    """Target source over compact labels: ``len`` and ``source[i] -> CompactDensity`` (loaded on access).

    Args:
        paths: ``.dm.npz`` files, in dataset order.
    """

    def __init__(self, paths: list[str | os.PathLike[str]]) -> None:
        self.paths = [os.fspath(p) for p in paths]

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> CompactSource:
        """All ``*.dm.npz`` files of a directory, sorted by name (or a single file)."""
        root = Path(path)
        if root.is_dir():
            files = sorted(p for p in root.iterdir() if p.name.endswith(COMPACT_SUFFIX))
            if not files:
                raise DensityFileError(root, f"directory holds no compact density files (*{COMPACT_SUFFIX})")
            return cls(list(files))
        if not root.exists():
            raise FileNotFoundError(2, "no such file", os.fspath(root))
        return cls([root])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> CompactDensity:
        return CompactDensity.load(self.paths[index])


def is_compact_folder(path: str | os.PathLike[str]) -> bool:
    """``True`` for a directory that holds compact labels and no density grid files."""
    from rhograph.io.dataset import DensityDataset

    root = Path(path)
    if not root.is_dir() or not any(p.name.endswith(COMPACT_SUFFIX) for p in root.iterdir()):
        return False
    try:
        return len(DensityDataset(root)) == 0
    except DensityFileError:
        return True


class CompactGrids:
    """A folder of compact labels read as density grids: ``grids[i]`` is label ``i`` evaluated on its full
    grid (the shape it was labelled with), for evaluation against predictions; ``names`` as in
    :class:`~rhograph.io.dataset.DensityDataset`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.source = CompactSource.from_path(path)
        self.names = [Path(p).name for p in self.source.paths]

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> DensityGrid:
        return self.source[index].to_grid()
