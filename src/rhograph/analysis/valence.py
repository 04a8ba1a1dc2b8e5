"""How many electrons each atom brings: the reference of a Bader charge ``q_A = N_val,A − N_A``.

A charge is only meaningful against the electrons the density was computed with. All-electron densities
hold Z per atom; valence (pseudopotential / PAW) densities — every VASP CHGCAR, rhograph's GTH labels and the
bundled models — hold only the valence electrons, so subtracting their populations from Z gives nonsense (a
predicted valence density once gave C +1.68 instead of ≈ 0). :func:`resolve_valence` takes, per element, the
first of:

1. the counts the user gives (``--valence O=6``);
2. the model card's ``electrons_per_element`` (a predicted density: ``--model NAME``), or Z when the card says
   ``density: all-electron``;
3. the POTCAR (else OUTCAR) beside a VASP density file (ZVAL of each PAW data set), if Σ ZVAL matches ∫ρ dV
   (within 5 %: an AECCAR or PARCHG beside the same POTCAR holds other electrons);
4. an inference from the electron count ∫ρ dV: among Z (all-electron) and :data:`STANDARD_VALENCE` (the
   outer-shell count: group number, s + d electrons for d-block metals, as the standard VASP PAW and the GTH
   potentials of main-group elements), take the one whose total matches ∫ρ dV within
   :data:`MATCH_TOLERANCE` (relative; at least half an electron) — predicted densities deviate by a few
   percent — but closer than half the smallest change another plausible count would make (Z: −2 e for one
   atom with a 1s core; outer shell: +2 e for one ``Li_sv``, +6 e for one ``Fe_pv``, see
   :func:`semicore_step`), so that a miss one semicore atom would explain is not taken for a match. With
   a single element left, the count per atom is ∫ρ dV / atoms rounded. Two different candidates that both
   fit give no answer;
5. otherwise the count is unknown: populations are still exact, charges are NaN and a
   :class:`ValenceWarning` says how to give the counts.

Semicore potentials (VASP ``Li_sv``, ``Mn_pv``; GTH transition metals) differ from the standard table: then
step 4 finds no match and says so, rather than guessing — give ``--valence`` or keep the POTCAR beside the file.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from rhograph.errors import DensityFileError
from rhograph.io.density_grid import DensityGrid

log = logging.getLogger(__name__)

__all__ = ["STANDARD_VALENCE", "Valence", "ValenceWarning", "resolve_valence", "semicore_step", "standard_valence"]

#: relative tolerance of the match between ∫ρ dV and a candidate electron count (at least 0.5 e)
MATCH_TOLERANCE = 0.05


class ValenceWarning(UserWarning):
    """The valence electron count of some elements is unknown: their Bader charges are NaN."""


def standard_valence(z: int) -> int | None:
    """Outer-shell electron count of element ``z`` (``None`` for lanthanides, actinides and Z > 88).

    s- and p-block: the group's count (H 1, C 4, O 6, Na 1, Cl 7, noble gases 8, He 2); d-block: s + d
    electrons of the outer shells (Ti 4, Fe 8, Co 9, Ni 10, Zn 12); La 3.
    """
    # (last Z of the period, core Z of its s- and d-block, first Z after its d-block, core Z of its p-block)
    periods = ((2, 0, 3, 0), (10, 2, 3, 2), (18, 10, 11, 10), (36, 18, 31, 28), (54, 36, 49, 46), (86, 68, 81, 78))
    if 1 <= z <= 86:
        for last, core, p_first, p_core in periods:
            if z <= last:
                if last == 86 and z <= 57:
                    return 3 if z == 57 else z - 54  # Cs, Ba, La
                if last == 86 and z <= 71:
                    return None  # lanthanides: the 4f count depends on the potential
                return z - (p_core if z >= p_first else core)
    if z in (87, 88):
        return z - 86
    return None


#: outer-shell valence per element symbol (see :func:`standard_valence`)
STANDARD_VALENCE: dict[str, int] = {
    chemical_symbols[z]: v for z in range(1, 119) if (v := standard_valence(z)) is not None
}


@dataclass(frozen=True)
class Valence:
    """Valence electrons per atom and where they came from.

    Attributes:
        values: ``(n_atoms,)`` electrons; NaN for atoms of elements whose count is unknown.
        per_element: element symbol -> electrons (known elements only).
        source: in words, e.g. ``"model card"``, ``"POTCAR /run/POTCAR"``, ``"all-electron (Z): ∫ρ dV = 18.00 e"``.
    """

    values: np.ndarray
    per_element: dict[str, float]
    source: str

    @property
    def known(self) -> bool:
        return bool(np.isfinite(self.values).all())


def _card_table(card: Mapping[str, Any] | None) -> tuple[dict[str, float], str] | None:
    if not card:
        return None
    per_element = card.get("electrons_per_element")
    name = card.get("name", "the model")
    if per_element:
        return {chemical_symbols[int(z)]: float(v) for z, v in per_element.items()}, f"model card of {name}"
    if card.get("density") == "all-electron":
        return {s: float(atomic_numbers[s]) for s in chemical_symbols[1:]}, f"model card of {name} (all-electron, Z)"
    return None


def _vasp_table(source: str | None) -> tuple[dict[str, float], str] | None:
    if not source:
        return None
    from rhograph.io.formats import density_format
    from rhograph.io.vasp_valence import find_valence_file, read_zval

    try:
        if density_format(source) != "vasp":
            return None
    except DensityFileError:
        return None
    found = find_valence_file(source)
    if found is None:
        return None
    return read_zval(found), f"ZVAL of {found}"


def _tolerance(total: float) -> float:
    return max(0.5, MATCH_TOLERANCE * abs(total))


#: p-block elements whose common potentials add a filled d shell (Ga_d, In_d, Sn_d, …): 10 more electrons
_D_SEMICORE = {"Ga", "Ge", "As", "In", "Sn", "Sb", "Tl", "Pb", "Bi", "Po"}


def semicore_step(symbol: str) -> float:
    """Fewest electrons one atom of ``symbol`` gains with a common semicore potential instead of the
    outer-shell count (VASP ``Li_sv`` +2, ``Na_pv`` / ``Fe_pv`` +6, ``Ga_d`` +10, GTH ``Na`` +8); ``inf`` for
    elements without one in common use (H, B, C, N, O, F, Al, Si, P, S, Cl, the noble gases, …)."""
    z = atomic_numbers[symbol]
    group_1_2 = {3, 4, 11, 12, 19, 20, 37, 38, 55, 56, 87, 88}
    if z in (3, 4):
        return 2.0  # 1s
    if z in group_1_2 or 21 <= z <= 30 or 39 <= z <= 48 or 57 <= z <= 80:
        return 6.0  # the p shell below
    if symbol in _D_SEMICORE:
        return 10.0
    return float("inf")


def _window(label: str, elements: list[str], total: float, atoms_of_element: int) -> float:
    """How far ∫ρ dV may be from a candidate's ``total`` and still single it out.

    Within :func:`_tolerance` (predicted densities deviate by a few percent) but less than half the smallest
    change of the total to another plausible count, so that a near miss of the outer-shell count is not taken
    when one semicore atom could explain it (Z: one atom with a 1s core less, −2 e; per-atom rounding: one
    electron more on every atom of the element).
    """
    if label.startswith("all-electron"):
        step = 2.0 if any(atomic_numbers[s] > 2 for s in elements) else float("inf")
    elif label.startswith("standard"):
        step = min(semicore_step(s) for s in elements)
    else:
        step = float(atoms_of_element)
    return min(_tolerance(total), step / 2)


def _infer(symbols: list[str], fixed: dict[str, float], electrons: float) -> tuple[dict[str, float], str] | None:
    """Counts for the elements not in ``fixed`` whose total (with ``fixed``) matches ``electrons``."""
    counts = {s: symbols.count(s) for s in dict.fromkeys(symbols)}
    missing = [s for s in counts if s not in fixed]
    if not missing:
        return None
    fixed_total = sum(fixed[s] * counts[s] for s in counts if s in fixed)
    candidates: list[tuple[str, dict[str, float]]] = [
        ("all-electron (Z)", {s: float(atomic_numbers[s]) for s in missing})
    ]
    if all(s in STANDARD_VALENCE for s in missing):
        candidates.append(("standard valence", {s: float(STANDARD_VALENCE[s]) for s in missing}))
    if len(missing) == 1:
        per_atom = (electrons - fixed_total) / counts[missing[0]]
        if round(per_atom) >= 1:
            candidates.append(("∫ρ dV per atom, rounded", {missing[0]: float(round(per_atom))}))
    matches = []
    for label, table in candidates:
        total = fixed_total + sum(table[s] * counts[s] for s in missing)
        if abs(electrons - total) < _window(label, missing, total, counts[missing[0]]):
            matches.append((abs(electrons - total), label, table, total))
    if not matches:
        return None
    tables = {tuple(sorted(t.items())) for _, _, t, _ in matches}
    if len(tables) > 1:  # two different candidates fit (tiny, H-rich systems): do not guess
        log.info("valence: ∫ρ dV = %.3f e fits %s; not guessing", electrons, [m[1] for m in matches])
        return None
    _, label, table, total = min(matches, key=lambda m: m[0])
    return table, f"{label}: ∫ρ dV = {electrons:.3f} e vs {total:g} e expected"


def resolve_valence(
    grid: DensityGrid,
    *,
    given: Mapping[str, float] | None = None,
    card: Mapping[str, Any] | None = None,
    source: str | os.PathLike[str] | None = None,
    warn: bool = True,
) -> Valence:
    """Valence electrons of every atom of ``grid`` (see the module docstring for the order of the sources).

    Args:
        grid: the density (its ∫ρ dV serves the inference).
        given: element symbol -> electrons from the user; they override every other source.
        card: a model card (``electrons_per_element`` / ``density``) for a predicted density.
        source: the density's file, to look for a POTCAR / OUTCAR beside it (default ``grid.source``).
        warn: emit a :class:`ValenceWarning` when some counts stay unknown.
    """
    symbols = grid.atoms.get_chemical_symbols()
    elements = list(dict.fromkeys(symbols))
    given = dict(given or {})
    unknown_given = sorted(set(given) - set(atomic_numbers))
    if unknown_given:
        from rhograph.errors import ConfigError

        raise ConfigError(f"valence given for unknown element symbol(s) {unknown_given}")
    path = os.fspath(source) if source is not None else grid.source
    electrons = grid.electrons
    table: dict[str, float] = {}
    label = ""
    card_table, vasp_table = _card_table(card), _vasp_table(path)
    if vasp_table is not None and all(s in vasp_table[0] for s in elements):
        # ZVAL describes the CHGCAR of that run, not an AECCAR (all-electron) or a PARCHG beside it
        total = sum(vasp_table[0][s] for s in symbols)
        if abs(electrons - total) > _tolerance(total):
            log.info("valence: %s gives %g e but ∫ρ dV = %.3f e; not used", vasp_table[1], total, electrons)
            vasp_table = None
    for found in (card_table, vasp_table):
        if found is not None and all(s in found[0] for s in elements):
            table, label = {s: found[0][s] for s in elements}, found[1]
            break
    if not table:  # infer for all elements, else with the user's counts fixed
        inferred = _infer(symbols, {}, electrons) or _infer(symbols, given, electrons)
        if inferred is not None:
            table, label = inferred
    per_element = {s: float(v) for s, v in {**table, **given}.items() if s in elements}
    parts = []
    if given:
        parts.append("given (" + " ".join(f"{s}={v:g}" for s, v in given.items() if s in elements) + ")")
    if label and any(s not in given for s in elements):
        parts.append(label)
    missing = [s for s in elements if s not in per_element]
    if missing:
        parts.append(f"unknown for {', '.join(missing)}")
        if warn:
            where = grid.source or "<density grid>"
            warnings.warn(
                f"{where}: valence electron count unknown for {', '.join(missing)} (∫ρ dV = {electrons:.3f} e "
                "matches neither Z nor the standard valence counts): Bader charges of these atoms are NaN; give "
                "them (--valence EL=N / valence={...}), the model (--model), or keep the POTCAR beside a CHGCAR",
                ValenceWarning,
                stacklevel=2,
            )
    values = np.array([per_element.get(s, np.nan) for s in symbols], dtype=np.float64)
    return Valence(values=values, per_element=per_element, source="; ".join(parts))
