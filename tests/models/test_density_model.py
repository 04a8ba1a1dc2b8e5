"""DensityModel: presets, symmetry, batching, chunking, supercells, cutoff locality and degenerate inputs."""

from __future__ import annotations

import ase
import ase.build
import numpy as np
import pytest
import torch

import rhograph
from rhograph import keys
from rhograph.data import collate, make_sample
from rhograph.models import PRESETS, DensityModel, ModelConfig, build_model
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
        architecture="painn", num_interactions=2, hidden_size=16, cutoff=5.0, num_basis=20
    )
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
    ],
)
def test_invalid_configs_are_rejected(preset, overrides, match) -> None:
    with pytest.raises(ValueError, match=match):
        build_model(preset, **overrides)
    assert set(PRESETS) == set(ARCHS)


# ---------------------------------------------------------------------------------------------- symmetry
@pytest.mark.parametrize("structure", ["molecule", "periodic"])
def test_density_invariance(model, structure) -> None:
    atoms = small_molecule(1) if structure == "molecule" else small_periodic_cell(1)
    reference = assert_invariant(model, atoms, random_probes(atoms, 12, 1), rng=2)
    assert np.ptp(reference) > 1e-4  # the probes see different environments (the check is not vacuous)


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


# ---------------------------------------------------------------------------------------- batching, chunks
def test_batched_equals_separate(model) -> None:
    structures = [small_periodic_cell(5), small_molecule(5), ase.build.bulk("Si", "diamond", a=5.43)]
    probes = [random_probes(a, n, i) for i, (a, n) in enumerate(zip(structures, (9, 6, 4), strict=True))]
    samples = [make_sample(a, p, cutoff=model.config.cutoff) for a, p in zip(structures, probes, strict=True)]
    with torch.no_grad():
        batched = model(collate(samples, dtype=torch.float64)).numpy()
    separate = np.concatenate([predict_density(model, a, p) for a, p in zip(structures, probes, strict=True)])
    np.testing.assert_allclose(batched, separate, rtol=1e-12, atol=1e-13)


def test_probe_chunking_gives_identical_densities(model) -> None:
    atoms = small_periodic_cell(6)
    probes = random_probes(atoms, 23, 6)
    batch = model_batch(model, atoms)
    with torch.no_grad():
        states = model.encode_atoms(batch)
        full = predict_density(model, atoms, probes)
        for size in (1, 5, 23):
            parts = []
            for start in range(0, len(probes), size):
                chunk = model_batch(model, atoms, probes[start : start + size])
                parts.append(model.decode_probes(states, chunk).numpy())
            np.testing.assert_allclose(np.concatenate(parts), full, rtol=1e-13, atol=1e-14)


def test_supercell_gives_the_unit_cell_density(model) -> None:
    atoms = small_periodic_cell(7)
    probes = random_probes(atoms, 10, 7)
    supercell = atoms.repeat((2, 1, 1))
    shifted = probes + atoms.cell.array[0]  # the same points seen from the second copy
    unit = predict_density(model, atoms, probes)
    np.testing.assert_allclose(predict_density(model, supercell, probes), unit, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(predict_density(model, supercell, shifted), unit, rtol=1e-10, atol=1e-12)


def test_probe_beyond_the_cutoff_sees_no_atom(model) -> None:
    far = np.array([[30.0, 0.0, 0.0], [0.0, -25.0, 7.0]])
    near = np.array([[0.5, 0.2, 0.1]])
    a = predict_density(model, small_molecule(0), np.vstack([far, near]))
    b = predict_density(model, ase.Atoms("Fe2", positions=[[0, 0, 0], [1.9, 0, 0]]), np.vstack([far, near]))
    assert a[0] == a[1] == b[0] == b[1]
    assert a[2] != b[2]
    # the same value as a probe with an explicitly empty edge list
    batch = model_batch(model, small_molecule(0), near)
    batch[keys.PROBE_EDGES] = batch[keys.PROBE_EDGES][:, :0]
    batch[keys.PROBE_EDGE_OFFSETS] = batch[keys.PROBE_EDGE_OFFSETS][:0]
    with torch.no_grad():
        assert model(batch).item() == pytest.approx(a[0], rel=1e-14)


def test_density_is_continuous_as_an_atom_crosses_the_cutoff() -> None:
    model = tiny_model("deepdft-painn", seed=2)
    cutoff = model.config.cutoff
    values = []
    for delta in (-1e-7, 1e-7):  # probe just inside / just outside the second atom's cutoff
        atoms = ase.Atoms("CO", positions=[[0, 0, 0], [1.2, 0, 0]])
        probe = np.array([[1.2 - cutoff + delta, 0.0, 0.0]])  # distance to O: cutoff − delta
        values.append(predict_density(model, atoms, probe)[0])
    assert abs(values[0] - values[1]) < 1e-6


def test_lone_atom_and_zero_probes(model) -> None:
    lone = ase.Atoms("O", positions=[[0.0, 0.0, 0.0]])
    batch = model_batch(model, lone, np.array([[0.3, 0.0, 0.1], [0.0, 0.0, 0.0]]))
    assert batch[keys.ATOM_EDGES].shape == (2, 0)
    with torch.no_grad():
        rho = model(batch)
    assert rho.shape == (2,) and torch.isfinite(rho).all()
    empty = model_batch(model, small_periodic_cell(0), np.zeros((0, 3)))
    with torch.no_grad():
        assert model(empty).shape == (0,)


def test_probe_on_an_atom_is_finite(model) -> None:
    atoms = small_molecule(0)
    assert np.isfinite(predict_density(model, atoms, atoms.positions[:2])).all()


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


def test_cpu_edge_blocks_do_not_change_densities_or_gradients(model) -> None:
    from rhograph.models.derived import derived_fields

    atoms = small_periodic_cell(9)
    batch = model_batch(model, atoms, random_probes(atoms, 17, 9))
    states = model.encode_atoms(batch)
    reference = derived_fields(model, states, batch, fields=("gradient",))
    try:
        model.cpu_edge_block = 7  # many blocks, including probes with more edges than a block
        with torch.no_grad():
            blocked = model.decode_probes(states, batch)
        blocked_fields = derived_fields(model, states, batch, fields=("gradient",))
    finally:
        del model.cpu_edge_block  # back to the class default
    np.testing.assert_allclose(blocked.numpy(), reference["density"].numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(
        blocked_fields["gradient"].numpy(), reference["gradient"].numpy(), rtol=1e-12, atol=1e-13
    )
