"""Natural-parity irreps: the feature layout of the higher-order equivariant model, and edge spherical harmonics.

A feature of irreps ``F×0e + M×1o + M×2e + …`` is a flat tensor ``(N, dim)`` in the layout of e3nn: block
``(mul, l)`` occupies ``mul·(2l+1)`` consecutive columns, channel-major (``[u, m]``, ``m = -l..l``), so that
``x.narrow(1, start, mul·(2l+1)).reshape(N, mul, 2l+1)`` is the block. Every irrep has the *natural* parity
``(-1)^l`` (polar tensors, like the spherical harmonics ``Y^l`` of a bond direction): the O(3)-invariants a
density is made of are polynomials in dot products of polar vectors (the first fundamental theorem for O(3)),
so pseudo-tensors (``0o``, ``1e``, …) are not needed for an invariant output and are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

#: the largest ``l`` the model accepts
MAX_L = 4


@dataclass(frozen=True)
class Irreps:
    """A direct sum of natural-parity irreps ``⊕ mul×l`` (one block per entry, in order).

    Args:
        blocks: ``(multiplicity, l)`` pairs; parity of block ``l`` is ``(-1)^l``.
    """

    blocks: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        for mul, l in self.blocks:
            if mul < 1 or not 0 <= l <= MAX_L:
                raise ValueError(f"irreps block ({mul}, {l}) needs mul >= 1 and 0 <= l <= {MAX_L}")

    @classmethod
    def hidden(cls, scalars: int, mul: int, lmax: int) -> Irreps:
        """``scalars×0e + mul×1o + mul×2e + … + mul×lmax``."""
        return cls(((scalars, 0), *((mul, l) for l in range(1, lmax + 1))))

    @property
    def dim(self) -> int:
        """Number of columns ``Σ mul·(2l+1)``."""
        return sum(mul * (2 * l + 1) for mul, l in self.blocks)

    @property
    def lmax(self) -> int:
        return max(l for _, l in self.blocks)

    def mul_of(self, l: int) -> int:
        """Total multiplicity of ``l`` (0 if absent)."""
        return sum(mul for mul, block_l in self.blocks if block_l == l)

    def slices(self) -> Iterator[tuple[int, int, int, int]]:
        """``(mul, l, start, stop)`` column range of every block."""
        start = 0
        for mul, l in self.blocks:
            stop = start + mul * (2 * l + 1)
            yield mul, l, start, stop
            start = stop

    def split(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The blocks of ``x (N, dim)`` as views ``(N, mul, 2l+1)``."""
        return [x[:, start:stop].reshape(x.shape[0], mul, 2 * l + 1) for mul, l, start, stop in self.slices()]

    def __str__(self) -> str:
        return "+".join(f"{mul}x{l}{'e' if l % 2 == 0 else 'o'}" for mul, l in self.blocks)

    def to_e3nn(self):
        """The same irreps as an ``e3nn.o3.Irreps`` (for ``D_from_matrix`` and interoperability)."""
        return e3nn_o3().Irreps(str(self))

    def rotation(self, matrix: torch.Tensor) -> torch.Tensor:
        """The representation ``D(R)`` ``(dim, dim)`` of an orthogonal ``matrix`` (proper or not):
        the features of the transformed structure are ``x @ D(R).T``. Computed in float64 (e3nn builds its
        generators in the default dtype) and returned in the dtype of ``matrix``."""
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            d = self.to_e3nn().D_from_matrix(matrix.to(torch.float64))
        finally:
            torch.set_default_dtype(previous)
        return d.to(matrix.dtype)


def e3nn_o3():
    """``e3nn.o3``, imported on first use (importing e3nn takes ~1 s; the registry imports this package)."""
    try:
        from e3nn import o3
    except ImportError as exc:  # pragma: no cover - e3nn is in the test extra
        raise ImportError("the 'e3' architecture needs e3nn: pip install 'rhograph[e3]' (or pip install e3nn)") from exc
    return o3


def spherical_harmonics(lmax: int) -> nn.Module:
    """e3nn's real spherical harmonics ``Y^0 … Y^lmax`` of unit vectors, component-normalised (``|Y^l|² = 2l+1``).

    A zero vector (a probe on an atom) gives ``Y^0 = 1`` and ``Y^l = 0`` for ``l > 0``. The module has no
    parameters or buffers.

    Shapes:
        input: ``(num_edges, 3)`` unit vectors; output: ``(num_edges, (lmax+1)²)`` in the order of
        :meth:`Irreps.hidden` (``l = 0, 1, …``; ``m = -l..l``).
    """
    return e3nn_o3().SphericalHarmonics(list(range(lmax + 1)), normalize=False, normalization="component")
