"""Prediction error decomposed into the Bader volumes of each element (paper Table 2).

Jørgensen & Bhowmik, npj Comput. Mater. 8, 183 (2022), section "Intermolecular interactions": the
reference density is partitioned into Bader volumes (Tang, Sanville & Henkelman 2009, see
:mod:`rhograph.analysis.bader`); for every element X with volumes Ω_X = ∪_{atoms A of X} Ω_A

* ``ε_mae(X) = ∫_{Ω_X} |ρ − ρ̂| dV / ∫_{Ω_X} |ρ| dV`` — eq. 1 restricted to the element's volumes,
* ``share(X) = ∫_{Ω_X} |ρ − ρ̂| dV / ∫_V |ρ − ρ̂| dV`` — the element's share of the total absolute error,

plus the element's share of the volume and of the reference charge (the paper quotes 29 / 16 / 55 % of
the volume and 12 / 20 / 68 % of the charge for H / C / O). Voxels below the Bader vacuum threshold form a
``"vacuum"`` entry so the shares add up to 100 %. Over a data set the integrals are pooled (summed over
structures before the ratios are taken) by :func:`combine_decompositions`.

Units: integrals in electrons (e/Å³ · Å³), volumes in Å³, ε_mae and shares in percent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from rhograph.analysis.bader import BaderResult, bader
from rhograph.analysis.metrics import check_same_grid
from rhograph.errors import IncompatibleInputsError
from rhograph.io.density_grid import DensityGrid

__all__ = ["ElementError", "ErrorDecomposition", "combine_decompositions", "decompose_error"]

VACUUM = "vacuum"


@dataclass(frozen=True)
class ElementError:
    """Integrals over the Bader volumes of one element (or the vacuum) and the ratios built from them.

    Args:
        element: element symbol or ``"vacuum"``.
        abs_error: ∫_{Ω_X} |ρ − ρ̂| dV in electrons.
        abs_reference: ∫_{Ω_X} |ρ| dV in electrons.
        charge: ∫_{Ω_X} ρ dV in electrons (reference).
        volume: |Ω_X| in Å³.
        atoms: number of atoms of the element (summed over structures when pooled).
    """

    element: str
    abs_error: float
    abs_reference: float
    charge: float
    volume: float
    atoms: int

    @property
    def nmae(self) -> float:
        """ε_mae restricted to the element's volumes, percent (NaN if the volumes hold no density)."""
        return 100.0 * self.abs_error / self.abs_reference if self.abs_reference > 0 else float("nan")


@dataclass(frozen=True)
class ErrorDecomposition:
    """Per-element error decomposition of one structure or of a pooled data set.

    Args:
        elements: per element (and ``"vacuum"`` if any vacuum voxels), in order of first appearance.
        structures: number of structures pooled.
    """

    elements: dict[str, ElementError]
    structures: int = 1

    @property
    def total_abs_error(self) -> float:
        """∫_V |ρ − ρ̂| dV over the whole grid(s), electrons."""
        return float(sum(e.abs_error for e in self.elements.values()))

    @property
    def total_abs_reference(self) -> float:
        return float(sum(e.abs_reference for e in self.elements.values()))

    @property
    def total_volume(self) -> float:
        return float(sum(e.volume for e in self.elements.values()))

    @property
    def total_charge(self) -> float:
        return float(sum(e.charge for e in self.elements.values()))

    @property
    def nmae(self) -> float:
        """Whole-grid ε_mae in percent (pooled over structures)."""
        return 100.0 * self.total_abs_error / self.total_abs_reference

    def share(self, element: str) -> float:
        """Share of the total absolute error in the element's volumes, percent."""
        total = self.total_abs_error
        return 100.0 * self.elements[element].abs_error / total if total > 0 else float("nan")

    def rows(self) -> list[dict]:
        """One JSON-ready row per element: nmae, error share, volume and charge fractions (percent)."""
        return [
            {
                "element": name,
                "atoms": e.atoms,
                "nmae": e.nmae,
                "error_share": self.share(name),
                "volume_fraction": 100.0 * e.volume / self.total_volume,
                "charge_fraction": 100.0 * e.charge / self.total_charge if self.total_charge else float("nan"),
                "abs_error": e.abs_error,
                "abs_reference": e.abs_reference,
                "volume": e.volume,
            }
            for name, e in self.elements.items()
        ]


def decompose_error(
    reference: DensityGrid,
    prediction: DensityGrid,
    volumes: BaderResult | None = None,
    **bader_options,
) -> ErrorDecomposition:
    """Decompose the prediction error of one structure into the Bader volumes of each element.

    Args:
        reference: DFT density ρ (e/Å³).
        prediction: predicted density ρ̂ on the same grid.
        volumes: Bader partition of the *reference* (computed with ``bader(reference, **bader_options)``
            when not given).
        **bader_options: passed to :func:`~rhograph.analysis.bader.bader` when ``volumes`` is ``None``.

    Raises:
        ValueError: the grids differ, or ``volumes`` belongs to another grid or structure.
    """
    check_same_grid(reference, prediction, names=(reference.source or "reference", prediction.source or "prediction"))
    if volumes is None:
        bader_options.setdefault("valence", reference.atoms.numbers)  # only the volumes are used
        volumes = bader(reference, **bader_options)
    if volumes.labels.shape != reference.shape:
        raise IncompatibleInputsError(
            f"Bader volumes of shape {volumes.labels.shape} do not fit the grid {reference.shape}"
        )
    symbols = reference.atoms.get_chemical_symbols()
    if volumes.symbols != symbols:
        raise IncompatibleInputsError("Bader volumes belong to another structure (element symbols differ)")
    ref = np.asarray(reference.values, dtype=np.float64)
    abs_err, vac_err = volumes.integrate(np.abs(ref - prediction.values))
    abs_ref, vac_ref = volumes.integrate(np.abs(ref))
    charge, vac_charge = volumes.integrate(ref)
    elements: dict[str, ElementError] = {}
    for element in dict.fromkeys(symbols):
        mask = np.array([s == element for s in symbols])
        elements[element] = ElementError(
            element=element,
            abs_error=float(abs_err[mask].sum()),
            abs_reference=float(abs_ref[mask].sum()),
            charge=float(charge[mask].sum()),
            volume=float(volumes.atom_volumes[mask].sum()),
            atoms=int(mask.sum()),
        )
    if volumes.vacuum_volume > 0:
        elements[VACUUM] = ElementError(
            element=VACUUM,
            abs_error=vac_err,
            abs_reference=vac_ref,
            charge=vac_charge,
            volume=volumes.vacuum_volume,
            atoms=0,
        )
    return ErrorDecomposition(elements=elements)


def combine_decompositions(decompositions: Iterable[ErrorDecomposition]) -> ErrorDecomposition:
    """Pool decompositions of many structures: integrals and volumes are summed per element."""
    pooled: dict[str, list[float]] = {}
    structures = 0
    for decomposition in decompositions:
        structures += decomposition.structures
        for name, e in decomposition.elements.items():
            acc = pooled.setdefault(name, [0.0, 0.0, 0.0, 0.0, 0])
            for i, value in enumerate((e.abs_error, e.abs_reference, e.charge, e.volume, e.atoms)):
                acc[i] += value
    if not structures:
        raise ValueError("combine_decompositions: no decompositions given")
    elements = {
        name: ElementError(element=name, abs_error=a, abs_reference=r, charge=c, volume=v, atoms=int(n))
        for name, (a, r, c, v, n) in pooled.items()
    }
    return ErrorDecomposition(elements=elements, structures=structures)
