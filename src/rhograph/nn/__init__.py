"""Reusable layers of the DeepDFT models: radial bases, cutoffs, activations, scatter, SchNet/PaiNN blocks,
probe message blocks and edge geometry."""

from rhograph.nn.activations import ShiftedSoftplus, shifted_softplus
from rhograph.nn.cutoff import CosineCutoff, SoftCutoff
from rhograph.nn.geometry import edge_vectors
from rhograph.nn.mlp import two_layer_mlp
from rhograph.nn.painn import PaiNNInteraction, PaiNNUpdate
from rhograph.nn.probe import PaiNNProbeMessage, gate_mlp, gated_update
from rhograph.nn.radial import GaussianBasis, SincBasis, num_gaussians
from rhograph.nn.scatter import scatter_sum
from rhograph.nn.schnet import SchNetInteraction, SchNetMessageFunction, SchNetMessageSum

__all__ = [
    "CosineCutoff",
    "GaussianBasis",
    "PaiNNInteraction",
    "PaiNNProbeMessage",
    "PaiNNUpdate",
    "SchNetInteraction",
    "SchNetMessageFunction",
    "SchNetMessageSum",
    "ShiftedSoftplus",
    "SincBasis",
    "SoftCutoff",
    "edge_vectors",
    "gate_mlp",
    "gated_update",
    "num_gaussians",
    "scatter_sum",
    "shifted_softplus",
    "two_layer_mlp",
]
