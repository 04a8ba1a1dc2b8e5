"""An NMC-like materials data set: layered Li(Ni,Co,Mn)O₂ cells with vacancies, rattling and strain.

The paper's materials data are VASP densities of NMC battery cathodes (LiNi_xCo_yMn_zO₂ and their delithiated
forms). :func:`nmc_structure` makes cells of the same kind from the α-NaFeO₂ structure (R-3m; transition
metals on 3b (0, 0, ½), Li on 3a (0, 0, 0), O on 6c (0, 0, z) with z = 0.2396 in the hexagonal setting, the
LiCoO₂ structure: M–O 1.9–2.0 Å, Li–O 2.1 Å):

1. a supercell of the 4-atom primitive cell with 2–6 formula units (8–24 atoms), chosen at random among the
   Hermite normal forms of that size (so the transition-metal orderings have varied periodicities) and
   Niggli-reduced; lattice constants by Vegard's rule from LiNiO₂, LiCoO₂ and layered LiMnO₂;
2. Ni, Co and Mn on the transition-metal sites in a composition drawn from the common NMC ratios (111, 532,
   622, 811, the end members and binary mixtures) or uniformly, in a random ordering;
3. Li vacancies (none in 40 % of the cells, else up to half of the Li sites);
4. a random symmetric strain of the cell (each component uniform in ±3 %) and Gaussian displacements of
   every atom (standard deviation σ uniform in 0.05–0.1 Å, each component cut at 2σ).

Structure ``i`` of a seed depends on ``(seed, i)`` only, so a larger ``count`` extends a set without changing
the structures already in it, and its train/validation/test part is fixed per structure (:func:`nmc_part`:
in every block of ten consecutive structures one is test and one validation).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import ase
import numpy as np

from rhograph.errors import ConfigError
from rhograph.io.atomic import atomic_open
from rhograph.labels.structures import NamedStructure

METALS = ("Ni", "Co", "Mn")
#: hexagonal lattice constants (Å) of the end members LiNiO₂, LiCoO₂ and layered LiMnO₂ (Vegard's rule between)
LATTICE_A = {"Ni": 2.878, "Co": 2.816, "Mn": 2.870}
LATTICE_C = {"Ni": 14.19, "Co": 14.05, "Mn": 14.35}
#: O position parameter of the 6c site (hexagonal setting)
OXYGEN_Z = 0.2396
#: named compositions (Ni, Co, Mn fractions) drawn in 60 % of the cells
NAMED_COMPOSITIONS = {
    "NMC111": (1 / 3, 1 / 3, 1 / 3),
    "NMC532": (0.5, 0.2, 0.3),
    "NMC622": (0.6, 0.2, 0.2),
    "NMC811": (0.8, 0.1, 0.1),
    "LiNiO2": (1.0, 0.0, 0.0),
    "LiCoO2": (0.0, 1.0, 0.0),
    "NM": (0.5, 0.0, 0.5),
    "NC": (0.8, 0.2, 0.0),
    "CM": (0.5, 0.5, 0.0),
}
#: formula units per cell (4 atoms each) and their probabilities: smaller cells are cheaper to label
FORMULA_UNITS = (2, 3, 4, 5, 6)
FORMULA_UNIT_WEIGHTS = (0.3, 0.25, 0.25, 0.1, 0.1)
STRAIN = 0.03
RATTLE = (0.05, 0.10)
NO_VACANCY_FRACTION = 0.4
#: longest Niggli-reduced cell vector (Å) of a supercell that may be drawn
MAX_LENGTH = 14.5
SET_FILE = "nmc_set.json"
SPLIT_PARTS = ("train", "validation", "test")
_STREAM = 0x4E4D43  # "NMC": separates the structure stream from the split stream


def nmc_name(index: int) -> str:
    """File name stem of structure ``index`` (zero-padded, so name order = index order)."""
    return f"nmc_{index:05d}"


def primitive_cell(a: float, c: float) -> ase.Atoms:
    """The 4-atom rhombohedral cell of LiMO₂ (M = Ni placeholder) for hexagonal constants ``a``, ``c`` (Å)."""
    from ase.spacegroup import crystal

    return crystal(
        ["Ni", "Li", "O"],
        basis=[(0.0, 0.0, 0.5), (0.0, 0.0, 0.0), (0.0, 0.0, OXYGEN_Z)],
        spacegroup=166,
        cellpar=[a, a, c, 90.0, 90.0, 120.0],
        primitive_cell=True,
    )


def _hermite_forms(n: int) -> list[np.ndarray]:
    """All lower-triangular Hermite normal forms ``H`` of determinant ``n``: the distinct sublattices ``H @ cell``
    (rows) of index ``n``."""
    forms = []
    for a in range(1, n + 1):
        if n % a:
            continue
        for c in range(1, n // a + 1):
            if (n // a) % c:
                continue
            f = n // (a * c)
            for b in range(a):  # below-diagonal entries reduced modulo their column's diagonal
                for d in range(a):
                    for e in range(c):
                        forms.append(np.array([[a, 0, 0], [b, c, 0], [d, e, f]]))
    return forms


@lru_cache(maxsize=8)
def supercell_matrices(n: int) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Supercell matrices of ``n`` formula units whose Niggli-reduced cells differ and stay compact.

    Computed on the average lattice (strain and composition change lengths by a few per cent only).
    """
    base = primitive_cell(float(np.mean(list(LATTICE_A.values()))), float(np.mean(list(LATTICE_C.values())))).cell.array
    seen: set[tuple[float, ...]] = set()
    kept = []
    for form in _hermite_forms(n):
        reduced = ase.cell.Cell(form @ base).niggli_reduce()[0]
        lengths = reduced.lengths()
        if lengths.max() > MAX_LENGTH:
            continue
        key = tuple(np.round(np.concatenate([np.sort(lengths), np.sort(reduced.angles())]), 2).tolist())
        if key in seen:
            continue
        seen.add(key)
        kept.append(tuple(tuple(int(x) for x in row) for row in form))
    if not kept:  # pragma: no cover - every n in FORMULA_UNITS has compact supercells
        raise ConfigError(f"no supercell of {n} formula units is shorter than {MAX_LENGTH} Å")
    return tuple(kept)


def metal_counts(fractions: tuple[float, ...], sites: int, rng: np.random.Generator) -> dict[str, int]:
    """Integer Ni/Co/Mn counts on ``sites`` sites closest to ``fractions`` (largest remainder, random ties)."""
    target = np.asarray(fractions, dtype=np.float64) / np.sum(fractions) * sites
    counts = np.floor(target).astype(int)
    remainder = target - counts + 1e-9 * rng.random(len(METALS))
    for i in np.argsort(-remainder)[: sites - counts.sum()]:
        counts[i] += 1
    return {metal: int(k) for metal, k in zip(METALS, counts, strict=True)}


@dataclass(frozen=True)
class NmcRecipe:
    """How one NMC cell was made (stored in ``atoms.info`` and the set file)."""

    index: int
    formula_units: int
    supercell: tuple[tuple[int, ...], ...]
    composition: str
    metals: dict[str, int]
    vacancies: int
    strain: tuple[float, ...]
    rattle: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "formula_units": self.formula_units,
            "supercell": [list(row) for row in self.supercell],
            "composition": self.composition,
            "metals": self.metals,
            "vacancies": self.vacancies,
            "strain": list(self.strain),
            "rattle": self.rattle,
        }


def nmc_structure(index: int, seed: int = 0) -> tuple[ase.Atoms, NmcRecipe]:
    """Structure ``index`` of the seed's NMC set (see the module docstring) and its recipe."""
    from ase.build import make_supercell, niggli_reduce

    if index < 0:
        raise ConfigError(f"structure index must be >= 0, got {index}")
    rng = np.random.default_rng([seed, _STREAM, index])
    n = int(rng.choice(FORMULA_UNITS, p=FORMULA_UNIT_WEIGHTS))
    if rng.random() < 0.6:
        composition = str(rng.choice(sorted(NAMED_COMPOSITIONS)))
        fractions: tuple[float, ...] = NAMED_COMPOSITIONS[composition]
    else:
        fractions = tuple(float(x) for x in rng.dirichlet(np.ones(len(METALS))))
        composition = "random"
    metals = metal_counts(fractions, n, rng)
    share = {m: k / n for m, k in metals.items()}
    a = sum(share[m] * LATTICE_A[m] for m in METALS)
    c = sum(share[m] * LATTICE_C[m] for m in METALS)
    matrices = supercell_matrices(n)
    matrix = matrices[int(rng.integers(len(matrices)))]
    atoms = make_supercell(primitive_cell(a, c), np.asarray(matrix))
    niggli_reduce(atoms)

    symbols = np.array(atoms.get_chemical_symbols(), dtype=object)
    metal_sites = np.flatnonzero(symbols == "Ni")
    symbols[rng.permutation(metal_sites)] = [m for m in METALS for _ in range(metals[m])]
    atoms.set_chemical_symbols(symbols.tolist())
    vacancies = 0 if rng.random() < NO_VACANCY_FRACTION else int(rng.integers(1, max(1, n // 2) + 1))
    lithium = np.flatnonzero(symbols == "Li")
    del atoms[sorted(rng.choice(lithium, size=vacancies, replace=False).tolist())]

    upper = rng.uniform(-STRAIN, STRAIN, size=6)
    strain = np.array([[upper[0], upper[5], upper[4]], [upper[5], upper[1], upper[3]], [upper[4], upper[3], upper[2]]])
    atoms.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=True)
    sigma = float(rng.uniform(*RATTLE))
    atoms.positions += np.clip(rng.normal(0.0, sigma, size=atoms.positions.shape), -2 * sigma, 2 * sigma)
    atoms.wrap()
    recipe = NmcRecipe(
        index=index,
        formula_units=n,
        supercell=matrix,
        composition=composition,
        metals=metals,
        vacancies=vacancies,
        strain=tuple(round(float(x), 6) for x in strain.ravel()),
        rattle=round(sigma, 6),
    )
    atoms.info.update(nmc_index=index, nmc_seed=seed, composition=composition, vacancies=vacancies)
    return atoms, recipe


def nmc_part(index: int, seed: int = 0) -> str:
    """Train/validation/test part of structure ``index``: in each block of ten, one test and one validation."""
    block, slot = divmod(index, 10)
    order = np.random.default_rng([seed, 0x5B1, block]).permutation(10)
    position = int(np.flatnonzero(order == slot)[0])
    return "test" if position == 0 else "validation" if position == 1 else "train"


def prepare_nmc(out_dir: str | os.PathLike[str], count: int, seed: int = 0) -> tuple[list[NamedStructure], dict]:
    """Make structures ``0 .. count-1``, write ``structures/<name>.extxyz`` and ``nmc_set.json``.

    Returns:
        the structures to label (named ``nmc_<index>``) and the set description (seed, parts, recipes).
    """
    import ase.io

    if count < 1:
        raise ConfigError(f"count must be >= 1, got {count}")
    out = Path(out_dir)
    structures, recipes = [], []
    parts: dict[str, list[int]] = {part: [] for part in SPLIT_PARTS}
    for index in range(count):
        atoms, recipe = nmc_structure(index, seed)
        name = nmc_name(index)
        path = out / "structures" / f"{name}.extxyz"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(path, "w") as fh:
                ase.io.write(fh, atoms, format="extxyz")
        structures.append(NamedStructure(name=name, atoms=atoms, source=os.fspath(path)))
        recipes.append(
            {"name": name, "formula": atoms.get_chemical_formula(), "natoms": len(atoms), **recipe.to_dict()}
        )
        parts[nmc_part(index, seed)].append(index)
    subset = {
        "source": "rhograph.labels.nmc: layered Li(Ni,Co,Mn)O2 cells (R-3m), vacancies, strain, rattling",
        "count": count,
        "seed": seed,
        "parts": parts,
        "structures": recipes,
    }
    with atomic_open(out / SET_FILE, "w") as fh:
        json.dump(subset, fh, indent=1)
        fh.write("\n")
    return structures, subset


#: folder of a set (beside ``structures/`` and ``densities/``) holding its cells with one Li removed
LI_REMOVED_DIR = "li-removed"


def li_removed(atoms: ase.Atoms) -> tuple[ase.Atoms, int]:
    """The cell without the Li atom nearest its centre (the paper's Figure 7 set-up: one Li taken out, every
    other atom left where it was, no relaxation) and the index of the removed atom.

    Raises:
        ConfigError: the cell holds fewer than two Li atoms.
    """
    lithium = np.flatnonzero(atoms.numbers == 3)
    if len(lithium) < 2:
        raise ConfigError(f"{atoms.get_chemical_formula()}: a cell needs two Li atoms to remove one")
    centre = atoms.cell.array.sum(axis=0) / 2
    removed = int(lithium[np.argmin(np.linalg.norm(atoms.positions[lithium] - centre, axis=1))])
    reduced = atoms.copy()
    del reduced[removed]
    return reduced, removed


def prepare_li_removed(
    out_dir: str | os.PathLike[str], count: int, pairs: int, seed: int = 0
) -> list[tuple[NamedStructure, NamedStructure]]:
    """Charge-transfer pairs: the first ``pairs`` test cells among ``0 .. count-1`` that hold at least two Li,
    each as it is (``nmc_<i>``) and with one Li removed (:func:`li_removed`; ``nmc_<i>-li<k>``, ``k`` the removed
    atom's index in the full cell), written to ``out_dir/li-removed/structures/`` and returned for labelling.
    A pair is labelled in one folder with one set of settings, apart from the set itself.

    Raises:
        ConfigError: ``pairs`` < 1, or fewer such test cells than asked for.
    """
    import ase.io

    if pairs < 1:
        raise ConfigError(f"--li-removed must be >= 1, got {pairs}")
    folder = Path(out_dir) / LI_REMOVED_DIR / "structures"
    found: list[tuple[NamedStructure, NamedStructure]] = []
    for index in range(count):
        if len(found) == pairs:
            break
        if nmc_part(index, seed) != "test":
            continue
        atoms, _ = nmc_structure(index, seed)
        if (atoms.numbers == 3).sum() < 2:
            continue
        reduced, removed = li_removed(atoms)
        reduced.info.pop("nmc_index", None)
        reduced.info.update(li_removed_from=nmc_name(index), removed_atom=removed)
        pair = []
        for name, cell in ((nmc_name(index), atoms), (f"{nmc_name(index)}-li{removed}", reduced)):
            path = folder / f"{name}.extxyz"
            if not path.exists():
                folder.mkdir(parents=True, exist_ok=True)
                with atomic_open(path, "w") as fh:
                    ase.io.write(fh, cell, format="extxyz")
            pair.append(NamedStructure(name=name, atoms=cell, source=os.fspath(path)))
        found.append((pair[0], pair[1]))
    if len(found) < pairs:
        raise ConfigError(
            f"the first {count} cells hold {len(found)} test cells with two or more Li, fewer than the "
            f"{pairs} asked for: raise --count"
        )
    return found
