"""An atomic baseline fitted to the training densities: ``baseline: fit``.

The preset baseline is a sum of spherical per-element densities, ``ρ₀(r) = Σ_a f_{Z_a}(|r − R_a|)``. For
labels made with PySCF the tables ``f_Z`` are free atoms computed with the label settings
(:mod:`rhograph.labels.atoms`); for densities from other codes (GPAW's PAW pseudo density, VASP CHGCARs)
no such free-atom calculation is at hand, so the tables are fitted instead: the radial functions that best
reproduce the training densities in the least-squares sense, with ``f_Z ≥ 0`` and ``f_Z(cutoff) = 0``.

Each ``f_Z`` is piecewise linear on ``knots`` equally spaced radii in ``[0, cutoff]`` (hat functions), so
``ρ₀`` is linear in the knot values: probes drawn from the training structures give a sparse design
matrix (one row per probe, two entries per atom within the cutoff), and bounded least squares
(:func:`scipy.optimize.lsq_linear`) with a small second-difference penalty gives the tables. Only the
training part is used, so the baseline never sees validation or test densities.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from rhograph.errors import ConfigError
from rhograph.models.baseline import AtomicDensityTables

log = logging.getLogger(__name__)

#: knots of each fitted radial function (spacing cutoff / (knots − 1): 0.1 Å for a 4 Å cutoff)
KNOTS = 41
#: probes drawn per training structure
PROBES_PER_STRUCTURE = 4000
#: weight of the second-difference smoothness penalty, relative to the scale of the data
SMOOTHNESS = 1e-3
#: at most this many training structures are read for the fit
MAX_STRUCTURES = 400


def fit_atomic_tables(
    source: Any,
    indices: Sequence[int],
    cutoff: float,
    *,
    knots: int = KNOTS,
    probes_per_structure: int = PROBES_PER_STRUCTURE,
    max_structures: int = MAX_STRUCTURES,
    points: int = 401,
    seed: int = 0,
) -> AtomicDensityTables:
    """Radial tables fitted to the densities of ``source[i]`` for ``i`` in ``indices`` (see the module docstring).

    Args:
        source: a target source (``len``, ``source[i]`` with ``.atoms`` and ``.fixed_probes(num, seed)``).
        indices: the structures to fit on (the training part); at most ``max_structures`` of them, evenly
            spread, are read.
        cutoff: Å, the model cutoff (the tables vanish there).
        knots: knots per element (≥ 3).
        probes_per_structure: probes drawn from each structure.
        points: points of the returned tables.
        seed: seed of the probe draws.

    Returns:
        the tables, their settings recording the fit (structures, probes, knots, residual, and the baseline's
        own NMAE on the fitting probes).

    Raises:
        ConfigError: no structures, or too few knots.
    """
    import scipy.sparse
    from scipy.optimize import lsq_linear

    from rhograph.data.neighbors import probe_graph

    if knots < 3:
        raise ConfigError(f"a fitted baseline needs at least 3 knots per element, got {knots}")
    chosen = list(indices)
    if not chosen:
        raise ConfigError("a fitted baseline needs at least one training structure")
    if len(chosen) > max_structures:
        chosen = [chosen[int(k)] for k in np.linspace(0, len(chosen) - 1, max_structures).round()]
    start = time.perf_counter()
    step = cutoff / (knots - 1)
    free = knots - 1  # the last knot (at the cutoff) is pinned to 0
    samples = []
    elements: set[int] = set()
    for n, index in enumerate(chosen):
        target = source[int(index)]
        atoms = target.atoms
        probes, values = target.fixed_probes(probes_per_structure, seed + int(index))
        edges, offsets = probe_graph(atoms.positions, atoms.cell.array, atoms.pbc, probes, cutoff)
        atom, probe = edges
        image = atoms.positions[atom] + offsets @ atoms.cell.array
        distance = np.linalg.norm(probes[probe] - image, axis=1)
        numbers = atoms.numbers[atom]
        elements.update(int(z) for z in np.unique(atoms.numbers))
        samples.append((probe, numbers, distance, np.asarray(values, dtype=np.float64)))
        if (n + 1) % 50 == 0:
            log.info("fitted baseline: read %d of %d structures", n + 1, len(chosen))
    order = sorted(elements)
    column_of = np.zeros(max(order) + 1, dtype=np.int64)  # atomic number → element block of the unknowns
    column_of[order] = np.arange(len(order))
    rows, cols, vals, target_values = [], [], [], []
    offset = 0
    for probe, numbers, distance, values in samples:
        position = distance / step
        left = np.minimum(np.floor(position).astype(np.int64), knots - 2)
        t = position - left
        base = column_of[numbers] * free
        for knot, weight in ((left, 1.0 - t), (left + 1, t)):
            keep = knot < free  # the pinned last knot contributes nothing
            rows.append(offset + probe[keep])
            cols.append(base[keep] + knot[keep])
            vals.append(weight[keep])
        target_values.append(values)
        offset += len(values)
    b = np.concatenate(target_values)
    design = scipy.sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(b), free * len(order))
    )
    # Smoothness: second differences of each element's knot values (the pinned end included as 0).
    scale = np.sqrt(len(b)) * SMOOTHNESS
    penalty = scipy.sparse.kron(scipy.sparse.eye(len(order)), _second_differences(free), format="csr") * scale
    system = scipy.sparse.vstack([design, penalty], format="csr")
    rhs = np.concatenate([b, np.zeros(penalty.shape[0])])
    result = lsq_linear(system, rhs, bounds=(0.0, np.inf), lsmr_tol="auto", max_iter=2000)
    coefficients = result.x.reshape(len(order), free)
    fitted = design @ result.x
    nmae = float(np.abs(fitted - b).sum() / max(np.abs(b).sum(), 1e-30))
    knot_radii = np.linspace(0.0, cutoff, knots)
    radii = np.linspace(0.0, cutoff, points)
    values = np.stack([np.interp(radii, knot_radii, np.append(row, 0.0)) for row in coefficients])
    seconds = time.perf_counter() - start
    log.info(
        "fitted baseline of Z=%s on %d structures × %d probes (%.1f s): NMAE of the baseline alone %.2f %%",
        order,
        len(chosen),
        probes_per_structure,
        seconds,
        100 * nmae,
    )
    settings = {
        "source": "fitted to training densities (rhograph.train.baseline_fit)",
        "structures": len(chosen),
        "probes": len(b),
        "knots": knots,
        "smoothness": SMOOTHNESS,
        "nmae": nmae,
        "solver_status": int(result.status),
        "seconds": round(seconds, 2),
    }
    return AtomicDensityTables(tuple(order), radii, values, settings)


def _second_differences(n: int) -> Any:
    """``(n − 1) × n`` second-difference operator of ``n`` knot values followed by a pinned 0."""
    import scipy.sparse

    full = scipy.sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 1, n + 1), format="csr")
    return full[:, :n]
