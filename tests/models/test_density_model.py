"""DensityModel: the registry, presets, configs, and what is specific to the DeepDFT architectures.

The properties every architecture has (symmetry, batching, chunking, supercells, locality, gradients, storage)
are checked for every registered architecture by tests/models/test_model_suite.py.
"""

from __future__ import annotations

import ase
import ase.build
import numpy as np
import pytest
import torch

import rhograph
from rhograph import keys
from rhograph.data import collate, make_sample
from rhograph.models import ARCHITECTURES, PRESETS, DensityModel, ModelConfig, build_model, list_presets
from rhograph.models.baseline import gaussian_tables
from rhograph.models.painn import PaiNNConfig
from rhograph.nn.atomic_density import taper
from rhograph.testing import (
    assert_equivariant_vectors,
    assert_invariant,
    model_batch,
    predict_density,
    random_probes,
    small_molecule,
    small_periodic_cell,
    tiny_model,
)

ARCHS = ["deepdft-schnet", "deepdft-painn"]


@pytest.fixture(params=ARCHS, scope="module")
def model(request) -> DensityModel:
    return tiny_model(request.param, seed=3)


# ----------------------------------------------------------------------------------------------- presets
def test_parameter_counts_of_the_paper_models() -> None:
    assert build_model("deepdft-schnet").num_parameters() == 2_071_681
    assert build_model("deepdft-painn").num_parameters() == 1_487_233
    assert rhograph.build_model().config.architecture == "painn"


def test_released_parameter_names() -> None:
    schnet = set(build_model("deepdft-schnet").state_dict())
    assert "atom_model.atom_embeddings.weight" in schnet
    assert "atom_model.interactions.5.message_sum_module.message_function.msg_function_node.2.bias" in schnet
    assert "atom_model.interactions.0.state_transition_function.0.weight" in schnet
    assert "probe_model.messagesum_layers.3.message_function.msg_function_edge.0.weight" in schnet
    assert "probe_model.probe_state_gate_functions.2.2.weight" in schnet
    assert "probe_model.probe_state_transition_functions.5.0.bias" in schnet
    assert "probe_model.readout_function.2.weight" in schnet
    painn = build_model("deepdft-painn").state_dict()
    assert painn["atom_model.interactions.2.filter_layer.weight"].shape == (384, 30)
    assert "atom_model.scalar_vector_update.1.linearU.weight" in painn
    assert "probe_model.message_layers.0.update_gate_mlp.2.bias" in painn
    assert "probe_model.scalar_vector_update.2.combined_mlp.0.weight" in painn
    assert not any("basis" in key or "cutoff" in key for key in painn)


def test_overrides_and_paper_basis() -> None:
    model = build_model("deepdft-painn", num_basis=20, hidden_size=16, num_interactions=2, cutoff=5.0)
    assert model.state_dict()["atom_model.interactions.0.filter_layer.weight"].shape == (48, 20)
    assert model.config == ModelConfig(
        architecture="painn",
        encoder=PaiNNConfig(num_interactions=2, hidden_size=16, cutoff=5.0, num_basis=20),
        nonnegative=False,
    )
    assert model.config.num_basis == 20 and model.config.cutoff == 5.0  # encoder fields read through
    assert ModelConfig.from_dict(model.config.to_dict()) == model.config
    schnet = build_model("deepdft-schnet", cutoff=3.0, gaussian_step=0.2)
    edge = "atom_model.interactions.0.message_sum_module.message_function.msg_function_edge.0.weight"
    assert schnet.state_dict()[edge].shape == (128, 15)
    assert model.dtype == torch.float32


@pytest.mark.parametrize(
    ("preset", "overrides", "match"),
    [
        ("deepdft-foo", {}, "deepdft-painn"),
        ("deepdft-painn", {"hidden_size": 0}, "hidden_size"),
        ("deepdft-painn", {"cutoff": -1.0}, "cutoff"),
        ("deepdft-painn", {"num_interactions": 2.5}, "num_interactions"),
        ("deepdft-painn", {"colour": "red"}, "colour"),
        ("deepdft-schnet", {"architecture": "painn"}, "architecture"),
        ("deepdft-schnet", {"gaussian_step": 5.0}, "gaussian_step"),
        ("deepdft-schnet", {"num_basis": 20}, "num_basis"),  # a PaiNN field on SchNet
        ("deepdft-painn", {"nonnegative": "yes"}, "nonnegative"),
        ("rhograph-painn", {}, "baseline"),  # a baseline preset needs its tables
    ],
)
def test_invalid_configs_are_rejected(preset, overrides, match) -> None:
    with pytest.raises(ValueError, match=match):
        build_model(preset, **overrides)


def test_registry_drives_presets_and_options() -> None:
    assert set(ARCHITECTURES) >= {"schnet", "painn"}
    assert {"deepdft-schnet", "deepdft-painn", "rhograph-schnet", "rhograph-painn"} <= set(PRESETS)
    for name, preset in PRESETS.items():
        assert preset.architecture in ARCHITECTURES, name
    # the DeepDFT presets stay exactly the released models: no clamp, no baseline
    for name in ARCHS:
        config = build_model(name).config
        assert not config.nonnegative and config.baseline is None
    tables = gaussian_tables((1, 6, 8), 4.0)
    delta = build_model("rhograph-painn", baseline=tables, hidden_size=16)
    assert delta.config.nonnegative and delta.config.baseline.elements == (1, 6, 8)
    assert delta.num_parameters() == build_model("deepdft-painn", hidden_size=16).num_parameters()
    assert build_model("rhograph-painn", baseline=False).config.baseline is None
    rows = {row["preset"]: row for row in list_presets()}
    assert rows["deepdft-painn"]["parameters"] == 1_487_233 and rows["rhograph-painn"]["baseline"]


def test_baseline_is_the_promolecule_density() -> None:
    """Far from any learned correction (a zeroed network), ρ = Σ_j ρ_Z(|r − R_j|) of the tables."""
    tables = gaussian_tables((1, 8), 4.0, points=401)
    model = build_model("rhograph-painn", baseline=tables, hidden_size=8, num_interactions=1).double()
    with torch.no_grad():
        for param in model.probe_model.readout_function.parameters():
            param.zero_()
    atoms = ase.Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    probes = random_probes(atoms, 30, 4, margin=2.0)
    expected = np.zeros(len(probes))
    for z, position in zip(atoms.numbers, atoms.positions, strict=True):
        distance = np.linalg.norm(probes - position, axis=1)
        gaussian = z * (2 * np.pi * 0.25) ** -1.5 * np.exp(-(distance**2) / 0.5)  # gaussian_tables: width 0.5 Å
        expected += np.where(distance < 4.0, gaussian * taper(distance, 4.0), 0.0)
    np.testing.assert_allclose(predict_density(model, atoms, probes), expected, rtol=2e-4, atol=1e-6)
    with pytest.raises(ValueError, match="no table for element"):
        predict_density(model, ase.Atoms("CO", positions=[[0, 0, 0], [1.1, 0, 0]]), probes[:2])


# ---------------------------------------------------------------------------------------------- symmetry
def test_invariance_in_a_slab() -> None:
    atoms = small_periodic_cell(2)
    atoms.pbc = (True, True, False)
    assert_invariant(tiny_model("deepdft-painn"), atoms, random_probes(atoms, 8, 2), rng=3)


def test_painn_vector_states_rotate() -> None:
    model = tiny_model("deepdft-painn", seed=1)
    assert_equivariant_vectors(model, small_periodic_cell(4), rng=5)
    assert_equivariant_vectors(model, small_molecule(4), rng=6)
    states = model.encode_atoms(model_batch(model, small_molecule(4)))
    assert all(v.abs().max() > 1e-3 for v in states.vector)  # non-trivial vectors
    with pytest.raises(ValueError, match="no vector states"):
        assert_equivariant_vectors(tiny_model("deepdft-schnet"), small_molecule(0))


def test_symmetry_assert_detects_a_broken_model() -> None:
    class Broken(torch.nn.Module):  # depends on the absolute x coordinate of the probes
        def __init__(self, inner):
            super().__init__()
            self.inner, self.config = inner, inner.config

        @property
        def dtype(self):
            return self.inner.dtype

        def forward(self, batch):
            return self.inner(batch) + 1e-3 * batch[keys.PROBE_POSITIONS][:, 0]

    atoms = small_molecule(0)
    with pytest.raises(AssertionError, match="translation"):
        assert_invariant(Broken(tiny_model()), atoms, random_probes(atoms, 5), transforms=["translation"])


def test_float32_default_and_training_gradients_reach_every_parameter() -> None:
    for preset in ARCHS:
        model = build_model(preset, hidden_size=8, num_interactions=2, cutoff=3.0)
        atoms = small_periodic_cell(0)
        batch = collate([make_sample(atoms, random_probes(atoms, 6), cutoff=3.0)])
        rho = model(batch)
        assert rho.dtype == torch.float32
        rho.square().sum().backward()
        # Every parameter takes part (DistributedDataParallel needs that); all but one get a non-zero
        # gradient: the first probe gate sees the zero initial probe state, so its input weights cannot matter.
        assert all(p.grad is not None for p in model.parameters())
        zero = [name for name, p in model.named_parameters() if not p.grad.abs().sum() > 0]
        expected = ["probe_model.probe_state_gate_functions.0.0.weight"] if preset == "deepdft-schnet" else []
        assert zero == expected


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("preset", ARCHS)
def test_cuda_matches_cpu(preset) -> None:
    model = tiny_model(preset)
    atoms = small_periodic_cell(3)
    probes = random_probes(atoms, 50, 3)
    cpu = predict_density(model, atoms, probes)
    gpu = predict_density(model.to("cuda"), atoms, probes)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-10, atol=1e-12)
