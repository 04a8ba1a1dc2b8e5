"""Evaluate ρ(r) = Σ_μν D_μν φ_μ(r) φ_ν(r)* from a PySCF basis and density matrix at arbitrary points.

Used both to fill density grids after an SCF and to sample compact labels (:mod:`rhograph.labels.compact`).
Points are processed in chunks so that the atomic-orbital values of one chunk stay below a memory budget.

Units: points in Å in, density in e/Å³ out (PySCF works in Bohr; the conversion uses PySCF's own Bohr
constant, the one it applied to the Å input geometry).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: memory budget of one chunk of atomic-orbital values, bytes
AO_CHUNK_BYTES = 64 * 2**20


def bohr() -> float:
    """PySCF's Bohr radius in Å."""
    from pyscf.lib import param

    return float(param.BOHR)


def _chunk_size(nao: int, nk: int, complex_ao: bool) -> int:
    per_point = nao * nk * (16 if complex_ao else 8)
    return max(256, AO_CHUNK_BYTES // max(per_point, 1))


def evaluate_density(
    system: Any,
    dm: np.ndarray,
    points: np.ndarray,
    *,
    kpts: np.ndarray | None = None,
    chunk_size: int | None = None,
) -> np.ndarray:
    """ρ at ``points`` from a density matrix.

    Args:
        system: ``pyscf.gto.Mole`` or ``pyscf.pbc.gto.Cell`` (built).
        dm: density matrix ``(nao, nao)``, or ``(nk, nao, nao)`` with ``kpts``.
        points: Cartesian positions in Å, shape ``(M, 3)``.
        kpts: k-points in 1/Bohr ``(nk, 3)`` for a k-sampled cell; ``None`` for molecules and Γ-only cells.
        chunk_size: points per chunk (default: from :data:`AO_CHUNK_BYTES`).

    Returns:
        density in e/Å³, shape ``(M,)``, float64.

    Shapes:
        points: (M, 3) Å; dm: (nao, nao) or (nk, nao, nao); returns (M,) e/Å³.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    b = bohr()
    periodic = hasattr(system, "lattice_vectors")
    nk = 1 if kpts is None else len(kpts)
    step = chunk_size or _chunk_size(system.nao_nr(), nk, kpts is not None)
    out = np.empty(len(points), dtype=np.float64)
    if periodic:
        from pyscf.pbc.dft import numint as pbc_numint

        knumint = pbc_numint.KNumInt() if kpts is not None else None
    else:
        from pyscf.dft import numint
    for start in range(0, len(points), step):
        coords = points[start : start + step] / b  # (chunk, 3) Bohr
        if not periodic:
            ao = numint.eval_ao(system, coords)  # (chunk, nao)
            rho = numint.eval_rho(system, ao, dm, xctype="LDA", hermi=1)
        elif knumint is None:
            ao = pbc_numint.eval_ao(system, coords)  # (chunk, nao), Γ point
            rho = pbc_numint.eval_rho(system, ao, dm, xctype="LDA", hermi=1)
        else:
            ao_k = knumint.eval_ao(system, coords, kpts)  # nk × (chunk, nao) complex
            rho = knumint.eval_rho(system, ao_k, dm, xctype="LDA", hermi=1)
        out[start : start + len(coords)] = np.real(rho)
    return out / b**3


def dm_electrons(system: Any, dm: np.ndarray, kpts: np.ndarray | None = None) -> float:
    """Electrons in the density matrix, Tr(D S) (k-averaged for k-sampled cells); exact, no grid."""
    if not hasattr(system, "lattice_vectors"):
        return float(np.einsum("ij,ji->", dm, system.intor_symmetric("int1e_ovlp")))
    if kpts is None:
        overlap = np.asarray(system.pbc_intor("int1e_ovlp", hermi=1))
        return float(np.real(np.einsum("ij,ji->", dm, overlap)))
    overlaps = system.pbc_intor("int1e_ovlp", hermi=1, kpts=kpts)
    total = sum(np.einsum("ij,ji->", d, s) for d, s in zip(dm, overlaps, strict=True))
    return float(np.real(total)) / len(kpts)
