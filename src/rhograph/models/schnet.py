"""Invariant DeepDFT model (SchNet-like): atom representation and probe decoder.

Parameter names equal those of the released checkpoints (``atom_model.interactions.{i}...``,
``probe_model.messagesum_layers.{i}...``, ``probe_model.probe_state_gate_functions.{i}...``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rhograph.errors import ConfigError
from rhograph.models.architecture import Architecture, paper_presets
from rhograph.models.config import NUM_SPECIES, EncoderConfig, check_number
from rhograph.models.states import AtomStates
from rhograph.nn.activations import ShiftedSoftplus
from rhograph.nn.mlp import two_layer_mlp
from rhograph.nn.probe import gate_mlp, gated_update
from rhograph.nn.radial import GaussianBasis
from rhograph.nn.schnet import SchNetInteraction, SchNetMessageSum, two_layer_ssp


@dataclass(frozen=True, kw_only=True)
class SchNetConfig(EncoderConfig):
    """Config of the invariant DeepDFT model.

    Args:
        num_interactions, hidden_size, cutoff: see :class:`~rhograph.models.config.EncoderConfig`.
        gaussian_step: spacing and width in Å of the Gaussian distance expansion.
    """

    gaussian_step: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("gaussian_step", self.gaussian_step)
        if self.gaussian_step >= self.cutoff:
            raise ConfigError(f"gaussian_step={self.gaussian_step!r} must be smaller than cutoff={self.cutoff!r}")

    def describe(self) -> str:
        return f"{super().describe()}, Gaussian step {self.gaussian_step} Å"


class SchNetAtomModel(nn.Module):
    """Atom states of the invariant model after each of ``T`` residual interactions.

    .. math:: h^0_i = a_{z_i},\\qquad h^{t}_i = h^{t-1}_i + \\mathrm{MLP}_\\mathrm{state}\\Big(\\sum_j
        \\mathrm{MLP}_\\mathrm{node}([h^{t-1}_j \\| h^{t-1}_i]) \\odot \\mathrm{MLP}_\\mathrm{edge}(g(d_{ij}))
        f_\\mathrm{soft}(d_{ij})\\Big)

    Args:
        num_interactions: ``T``.
        hidden_size: ``F``.
        cutoff: ``r_cut`` in Å.
        gaussian_step: spacing/width of the Gaussian expansion in Å.

    Shapes:
        atomic_numbers: ``(num_atoms,)``; edge_vectors: ``(num_edges, 3)`` Å; edges: ``(2, num_edges)``
        row 0 sender, row 1 receiver; output: ``T`` tensors ``(num_atoms, F)``.
    """

    def __init__(self, num_interactions: int, hidden_size: int, cutoff: float, gaussian_step: float) -> None:
        super().__init__()
        self.basis = GaussianBasis(cutoff, gaussian_step)
        self.atom_embeddings = nn.Embedding(NUM_SPECIES, hidden_size)
        self.interactions = nn.ModuleList(
            [SchNetInteraction(hidden_size, self.basis.num_basis, cutoff) for _ in range(num_interactions)]
        )

    def forward(
        self, atomic_numbers: torch.Tensor, edge_vectors: torch.Tensor, edges: torch.Tensor
    ) -> list[torch.Tensor]:
        distance = torch.linalg.vector_norm(edge_vectors, dim=1)  # (num_edges,)
        edge_basis = self.basis(distance)  # (num_edges, K)
        state = self.atom_embeddings(atomic_numbers)
        states = []
        for interaction in self.interactions:
            state = interaction(state, edges, edge_basis, distance)
            states.append(state)
        return states

    def encode(self, atomic_numbers: torch.Tensor, edge_vectors: torch.Tensor, edges: torch.Tensor) -> AtomStates:
        """The registry interface: :meth:`forward` as :class:`AtomStates` (scalar states only)."""
        return AtomStates(scalar=self(atomic_numbers, edge_vectors, edges))


class SchNetProbeModel(nn.Module):
    """Probe decoder of the invariant model: ``T`` gated probe layers and a readout.

    Probe layer ``t`` receives messages from the atom states after atom layer ``t``; the gate comes from
    the current probe state:

    .. math:: g = \\sigma(\\mathrm{MLP}_\\mathrm{gate}(p)),\\qquad
        p \\leftarrow g \\odot p + (1 - g) \\odot \\mathrm{MLP}_\\mathrm{state}\\Big(\\sum_j m_{jp}\\Big),
        \\qquad \\rho = \\mathrm{Linear}(\\mathrm{ssp}(\\mathrm{Linear}(p)))

    with ``p = 0`` initially.

    Args:
        num_interactions: ``T``.
        hidden_size: ``F``.
        cutoff: ``r_cut`` in Å.
        gaussian_step: spacing/width of the Gaussian expansion in Å.

    Shapes:
        sender_features: ``T`` tensors ``(num_atoms, 2F)`` from :meth:`sender_features`;
        edge_vectors: ``(num_edges, 3)`` Å; edges: ``(2, num_edges)`` row 0 atom, row 1 probe;
        output: ``(num_probes,)`` e/Å³.
    """

    def __init__(self, num_interactions: int, hidden_size: int, cutoff: float, gaussian_step: float) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.basis = GaussianBasis(cutoff, gaussian_step)
        num_basis = self.basis.num_basis
        self.messagesum_layers = nn.ModuleList(
            [SchNetMessageSum(hidden_size, num_basis, cutoff) for _ in range(num_interactions)]
        )
        self.probe_state_gate_functions = nn.ModuleList(
            [gate_mlp(hidden_size, hidden_size, hidden_size, ShiftedSoftplus()) for _ in range(num_interactions)]
        )
        self.probe_state_transition_functions = nn.ModuleList(
            [two_layer_mlp(hidden_size, hidden_size, hidden_size, ShiftedSoftplus()) for _ in range(num_interactions)]
        )
        self.readout_function = two_layer_mlp(hidden_size, hidden_size, 1, ShiftedSoftplus())

    def sender_features(self, atom_states: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per-atom halves of the first message Linear of every probe layer (computed once per structure)."""
        return [
            layer.message_function.project_senders(state)
            for layer, state in zip(self.messagesum_layers, atom_states, strict=True)
        ]

    def prepare(self, states: AtomStates) -> AtomStates:
        """The registry interface: the states with the sender features of every probe layer."""
        return states.replace(sender_features=self.sender_features(states.scalar))

    def decoder_args(self, states: AtomStates) -> tuple[list[torch.Tensor]]:
        """The registry interface: the leading arguments of :meth:`forward`."""
        return (states.sender_features,)

    def forward(
        self,
        sender_features: list[torch.Tensor],
        edge_vectors: torch.Tensor,
        edges: torch.Tensor,
        num_probes: int,
    ) -> torch.Tensor:
        distance = torch.linalg.vector_norm(edge_vectors, dim=1)  # (num_edges,)
        edge_basis = self.basis(distance)  # (num_edges, K)
        probe_state: torch.Tensor | None = None  # zero
        for message_sum, gate_function, transition, senders in zip(
            self.messagesum_layers,
            self.probe_state_gate_functions,
            self.probe_state_transition_functions,
            sender_features,
            strict=True,
        ):
            receivers = None if probe_state is None else message_sum.message_function.project_receivers(probe_state)
            summed = message_sum(senders, receivers, edges, edge_basis, distance, num_probes)  # (num_probes, F)
            # A zero probe state gives the same gate for every probe: evaluate it once.
            current = probe_state if probe_state is not None else summed.new_zeros((1, self.hidden_size))
            gate = torch.sigmoid(two_layer_ssp(gate_function, current))
            probe_state = gated_update(probe_state, gate, two_layer_ssp(transition, summed))
        if probe_state is None:  # T = 0 is rejected by the config; keeps the type checker honest
            raise RuntimeError("the probe model has no layers")
        return two_layer_ssp(self.readout_function, probe_state).squeeze(1)


def _encoder(config: SchNetConfig) -> SchNetAtomModel:
    return SchNetAtomModel(config.num_interactions, config.hidden_size, config.cutoff, config.gaussian_step)


def _decoder(config: SchNetConfig) -> SchNetProbeModel:
    return SchNetProbeModel(config.num_interactions, config.hidden_size, config.cutoff, config.gaussian_step)


ARCHITECTURE = Architecture(
    name="schnet",
    config=SchNetConfig,
    encoder=_encoder,
    decoder=_decoder,
    summary="invariant DeepDFT (SchNet-like messages, gated probe states)",
    # T = 6, F = 128, cutoff 4 Å → 2,071,681 parameters: the released model, exactly
    presets=paper_presets(
        "schnet", {"num_interactions": 6, "hidden_size": 128, "cutoff": 4.0}, "the paper's invariant model, as released"
    ),
    ignored_legacy_fields=("num_basis",),
    tiny={"num_interactions": 2, "hidden_size": 8, "cutoff": 3.0, "gaussian_step": 0.25},
)
