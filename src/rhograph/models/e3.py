"""Higher-order equivariant model (e3nn, NequIP / ChargE3Net-like) with DeepDFT's probe-vertex design.

Atoms carry irreps features ``h^t = F×0e + M×1o + M×2e (+ M×3o + M×4e)`` (spherical-harmonic order up to
``lmax``); ``T`` atom layers (:class:`~rhograph.nn.e3_interaction.E3Interaction`) exchange tensor-product
messages; probes start at zero and receive tensor-product messages from the atom features of layer ``t`` in
probe layer ``t`` (:class:`~rhograph.nn.e3_probe.E3ProbeLayer`); ``ρ(p) = MLP(x_p^T[0e])``. Only the ``0e``
channels reach the output, so ρ is invariant under rotations, reflections and translations (O(3) × R³).

e3nn is imported when a model is built (``pip install 'rhograph[e3]'``), not when the registry is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rhograph.config import check_positive
from rhograph.errors import ConfigError
from rhograph.models.architecture import Architecture, delta_preset
from rhograph.models.config import NUM_SPECIES, EncoderConfig, check_int, check_number
from rhograph.models.states import AtomStates
from rhograph.nn.cutoff import CosineCutoff
from rhograph.nn.e3_interaction import E3Interaction
from rhograph.nn.e3_irreps import MAX_L, Irreps, spherical_harmonics
from rhograph.nn.e3_probe import E3ProbeLayer
from rhograph.nn.mlp import two_layer_mlp
from rhograph.nn.radial import SincBasis


@dataclass(frozen=True, kw_only=True)
class E3Config(EncoderConfig):
    """Config of the higher-order equivariant model.

    Args:
        num_interactions, cutoff: see :class:`~rhograph.models.config.EncoderConfig`.
        hidden_size: ``F``, number of scalar (``0e``) channels.
        lmax: largest spherical-harmonic order of features and edges, 1..4.
        mul: ``M``, channels of every ``l = 1..lmax`` irrep (``1o, 2e, 3o, 4e``).
        num_basis: ``K`` sinc radial functions.
        radial_hidden: hidden width of the radial network that gives the tensor-product weights (0: a linear
            map of the basis, like DeepDFT's filters).
        avg_num_neighbors: message sums are divided by its square root.
    """

    hidden_size: int = 64
    lmax: int = 2
    mul: int = 32
    num_basis: int = 20
    radial_hidden: int = 32
    avg_num_neighbors: float = 12.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.lmax, bool) or self.lmax not in range(1, MAX_L + 1):
            raise ConfigError(f"lmax={self.lmax!r} is not allowed; choose one of {list(range(1, MAX_L + 1))}")
        check_int("mul", self.mul)
        check_int("num_basis", self.num_basis)
        if isinstance(self.radial_hidden, bool) or not isinstance(self.radial_hidden, int):
            raise ConfigError(f"radial_hidden must be an integer, got {self.radial_hidden!r}")
        check_positive("radial_hidden", self.radial_hidden, strict=False)
        check_number("avg_num_neighbors", self.avg_num_neighbors)

    @property
    def irreps(self) -> Irreps:
        """The atom and probe features ``F×0e + M×1o + … + M×lmax``."""
        return Irreps.hidden(self.hidden_size, self.mul, self.lmax)

    def describe(self) -> str:
        radial = f"radial MLP {self.radial_hidden}" if self.radial_hidden else "linear radial"
        return (
            f"T={self.num_interactions}, {self.irreps}, cutoff {self.cutoff} Å, {self.num_basis} sinc functions, "
            f"{radial}"
        )


def edge_geometry(
    edge_vectors: torch.Tensor, basis: SincBasis, cutoff: CosineCutoff, harmonics: nn.Module
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Radial basis ``b(d)`` ``(E, K)``, cutoff ``f_cut(d)`` ``(E,)`` and ``Y(r̂)`` ``(E, (lmax+1)²)`` of edges.

    Unit vectors are ``r / max(|r|, 1e-12)`` (zero for a zero-length edge, whose ``Y^{l>0}`` are then zero).
    """
    distance = torch.linalg.vector_norm(edge_vectors, dim=1)  # (num_edges,)
    unit = edge_vectors / distance.clamp_min(1e-12).unsqueeze(1)  # (num_edges, 3)
    return basis(distance), cutoff(distance), harmonics(unit)


class E3AtomModel(nn.Module):
    """Irreps atom features after each of ``T`` layers: ``h^0 = a_Z`` (``F×0e``), ``h^t = E3Interaction(h^{t-1})``.

    Args:
        config: :class:`E3Config`.

    Shapes:
        atomic_numbers: ``(num_atoms,)``; edge_vectors: ``(num_edges, 3)`` Å; edges: ``(2, num_edges)``;
        output: ``T`` tensors ``(num_atoms, irreps.dim)`` (layout of :mod:`rhograph.nn.e3_irreps`).
    """

    def __init__(self, config: E3Config) -> None:
        super().__init__()
        self.irreps = config.irreps
        self.num_scalars = config.hidden_size
        self.basis = SincBasis(config.num_basis, config.cutoff)
        self.cutoff_function = CosineCutoff(config.cutoff)
        self.harmonics = spherical_harmonics(config.lmax)
        self.atom_embeddings = nn.Embedding(NUM_SPECIES, config.hidden_size)
        layers = []
        irreps_in = Irreps(((config.hidden_size, 0),))
        for _ in range(config.num_interactions):
            layers.append(
                E3Interaction(
                    irreps_in,
                    self.irreps,
                    config.lmax,
                    config.num_basis,
                    config.radial_hidden,
                    config.avg_num_neighbors,
                )
            )
            irreps_in = self.irreps
        self.interactions = nn.ModuleList(layers)

    def forward(
        self, atomic_numbers: torch.Tensor, edge_vectors: torch.Tensor, edges: torch.Tensor
    ) -> list[torch.Tensor]:
        basis, envelope, sh = edge_geometry(edge_vectors, self.basis, self.cutoff_function, self.harmonics)
        h = self.atom_embeddings(atomic_numbers)  # (num_atoms, F) = F×0e
        features = []
        for interaction in self.interactions:
            h = interaction(h, edges, sh, basis, envelope)
            features.append(h)
        return features

    def encode(self, atomic_numbers: torch.Tensor, edge_vectors: torch.Tensor, edges: torch.Tensor) -> AtomStates:
        """The registry interface: ``scalar`` = the ``0e`` channels ``(num_atoms, F)`` of every layer, ``vector``
        = the full irreps features ``(num_atoms, irreps.dim)`` of every layer."""
        features = self(atomic_numbers, edge_vectors, edges)
        return AtomStates(scalar=[h[:, : self.num_scalars] for h in features], vector=features)

    def rotate_vector_state(self, vector: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
        """The ``vector`` state of the structure transformed by the orthogonal ``matrix`` (``r ↦ R r``):
        ``h @ D(R).T`` with e3nn's ``D_from_matrix`` (improper ``R`` included)."""
        return vector @ self.irreps.rotation(matrix.to(vector)).T


class E3ProbeModel(nn.Module):
    """Probe decoder: ``T`` :class:`~rhograph.nn.e3_probe.E3ProbeLayer` s and ``ρ = MLP(x_p^T[0e])``.

    ``MLP = Linear(F, F) → SiLU → Linear(F, 1)``.

    Args:
        config: :class:`E3Config`.

    Shapes:
        sender_features: ``T`` tensors ``(num_atoms, irreps.dim)`` (:meth:`prepare`); edge_vectors:
        ``(num_edges, 3)`` Å; edges: ``(2, num_edges)`` row 0 atom, row 1 probe; output: ``(num_probes,)`` e/Å³.
    """

    def __init__(self, config: E3Config) -> None:
        super().__init__()
        irreps = config.irreps
        self.num_scalars = config.hidden_size
        self.basis = SincBasis(config.num_basis, config.cutoff)
        self.cutoff_function = CosineCutoff(config.cutoff)
        self.harmonics = spherical_harmonics(config.lmax)
        self.layers = nn.ModuleList(
            [
                E3ProbeLayer(
                    irreps,
                    irreps,
                    config.lmax,
                    config.num_basis,
                    config.radial_hidden,
                    config.avg_num_neighbors,
                    first=t == 0,
                )
                for t in range(config.num_interactions)
            ]
        )
        self.readout_function = two_layer_mlp(config.hidden_size, config.hidden_size, 1, nn.SiLU())

    def prepare(self, states: AtomStates) -> AtomStates:
        """The registry interface: the per-atom message factors of every probe layer."""
        if states.vector is None:
            raise ValueError("atom states without irreps features were given to the e3 probe decoder")
        senders = [layer.sender_features(h) for layer, h in zip(self.layers, states.vector, strict=True)]
        return states.replace(sender_features=senders)

    def decoder_args(self, states: AtomStates) -> tuple[list[torch.Tensor]]:
        """The registry interface: the leading arguments of :meth:`forward`."""
        return (states.sender_features,)

    def forward(
        self, sender_features: list[torch.Tensor], edge_vectors: torch.Tensor, edges: torch.Tensor, num_probes: int
    ) -> torch.Tensor:
        basis, envelope, sh = edge_geometry(edge_vectors, self.basis, self.cutoff_function, self.harmonics)
        state: torch.Tensor | None = None
        for layer, senders in zip(self.layers, sender_features, strict=True):
            state = layer(senders, state, edges, sh, basis, envelope, num_probes)
        if state is None:  # T = 0 is rejected by the config; keeps the type checker honest
            raise RuntimeError("the probe model has no layers")
        return self.readout_function(state[:, : self.num_scalars]).squeeze(1)


ARCHITECTURE = Architecture(
    name="e3",
    config=E3Config,
    encoder=E3AtomModel,
    decoder=E3ProbeModel,
    summary="higher-order equivariant (e3nn irreps up to lmax, tensor-product messages to atoms and probes)",
    presets={
        "e3-l2": delta_preset(
            "e3", {"num_interactions": 3, "hidden_size": 64, "lmax": 2, "mul": 32, "cutoff": 4.0}, "irreps up to l = 2"
        ),
        "e3-l2-small": delta_preset(
            "e3",
            {"num_interactions": 2, "hidden_size": 32, "lmax": 2, "mul": 16, "cutoff": 4.0},
            "a small e3-l2 for CPUs",
        ),
        "e3-l4": delta_preset(
            "e3",
            {"num_interactions": 3, "hidden_size": 64, "lmax": 4, "mul": 16, "cutoff": 4.0},
            "irreps up to l = 4 (as ChargE3Net)",
        ),
    },
    tiny={
        "num_interactions": 2,
        "hidden_size": 8,
        "cutoff": 3.0,
        "lmax": 2,
        "mul": 4,
        "num_basis": 6,
        "radial_hidden": 8,
    },
)
