"""A reusable test suite that every density model architecture passes (nequip's model-test mixins).

Subclass :class:`DensityModelTests` in a pytest module and give it a ``model`` fixture (a tiny float64
model); every ``test_*`` method then runs on it. ``tests/models/test_model_suite.py`` runs it over every
architecture of the registry, with and without the atomic baseline::

    from rhograph.testing.model_suite import DensityModelTests, registered_variants

    class TestMyModel(DensityModelTests):
        @pytest.fixture(scope="class", params=registered_variants(), ids=str)
        @classmethod
        def model(cls, request):
            return tiny_model(request.param.architecture, baseline=request.param.baseline, seed=3)

The clamp of ``nonnegative`` models is a pointwise function of the output, so it cannot break any property
checked here; :meth:`DensityModelTests.test_nonnegative_clamp` checks the clamp itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ase
import ase.build
import numpy as np
import torch

from rhograph import keys
from rhograph.data import collate, make_sample
from rhograph.testing.asserts import (
    assert_equivariant_vectors,
    assert_invariant,
    model_batch,
    predict_density,
)
from rhograph.testing.structures import random_probes, small_molecule, small_periodic_cell


@dataclass(frozen=True)
class Variant:
    """One model set-up of the suite: an architecture, with or without the atomic baseline."""

    architecture: str
    baseline: bool

    def __str__(self) -> str:
        return self.architecture + ("+baseline" if self.baseline else "")


def registered_variants() -> list[Variant]:
    """Every registered architecture, without and with the atomic baseline."""
    from rhograph.models.registry import ARCHITECTURES

    return [Variant(name, baseline) for name in ARCHITECTURES for baseline in (False, True)]


class DensityModelTests:
    """Properties every density model has. Needs a ``model`` fixture (float64, small)."""

    # ------------------------------------------------------------------------------------------ symmetry
    def test_invariance_molecule(self, model) -> None:
        atoms = small_molecule(1)
        reference = assert_invariant(model, atoms, random_probes(atoms, 12, 1), rng=2)
        assert np.ptp(reference) > 1e-4  # the probes see different environments (the check is not vacuous)

    def test_invariance_periodic(self, model) -> None:
        """Rotation, reflection, translation, permutation and lattice shifts of a periodic cell."""
        atoms = small_periodic_cell(1)
        reference = assert_invariant(model, atoms, random_probes(atoms, 12, 1), rng=2)
        assert np.ptp(reference) > 1e-4

    def test_equivariant_states_rotate(self, model) -> None:
        states = model.encode_atoms(model_batch(model, small_molecule(4)))
        if states.vector is None:
            return  # an invariant architecture has nothing to rotate
        assert_equivariant_vectors(model, small_periodic_cell(4), rng=5)
        assert_equivariant_vectors(model, small_molecule(4), rng=6)

    # -------------------------------------------------------------------------------- batching, chunking
    def test_batched_equals_separate(self, model) -> None:
        structures = [small_periodic_cell(5), small_molecule(5), ase.build.bulk("Si", "diamond", a=5.43)]
        probes = [random_probes(a, n, i) for i, (a, n) in enumerate(zip(structures, (9, 6, 4), strict=True))]
        samples = [make_sample(a, p, cutoff=model.config.cutoff) for a, p in zip(structures, probes, strict=True)]
        with torch.no_grad():
            batched = model(collate(samples, dtype=torch.float64)).numpy()
        separate = np.concatenate([predict_density(model, a, p) for a, p in zip(structures, probes, strict=True)])
        np.testing.assert_allclose(batched, separate, rtol=1e-12, atol=1e-13)

    def test_chunked_equals_unchunked(self, model) -> None:
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

    def test_cpu_edge_blocks_do_not_change_densities_or_gradients(self, model) -> None:
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

    # --------------------------------------------------------------------------------- periodic images
    def test_supercell_gives_the_unit_cell_density(self, model) -> None:
        atoms = small_periodic_cell(7)
        probes = random_probes(atoms, 10, 7)
        supercell = atoms.repeat((2, 1, 1))
        shifted = probes + atoms.cell.array[0]  # the same points seen from the second copy
        unit = predict_density(model, atoms, probes)
        np.testing.assert_allclose(predict_density(model, supercell, probes), unit, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(predict_density(model, supercell, shifted), unit, rtol=1e-10, atol=1e-12)

    # ------------------------------------------------------------------------------------------ locality
    def test_probe_beyond_the_cutoff_sees_no_atom(self, model) -> None:
        far = np.array([[30.0, 0.0, 0.0], [0.0, -25.0, 7.0]])
        near = np.array([[0.5, 0.2, 0.1]])
        a = predict_density(model, small_molecule(0), np.vstack([far, near]))
        b = predict_density(model, ase.Atoms("Fe2", positions=[[0, 0, 0], [1.9, 0, 0]]), np.vstack([far, near]))
        assert a[0] == a[1] == b[0] == b[1]
        assert a[2] != b[2]
        batch = model_batch(model, small_molecule(0), near)  # an explicitly empty edge list: the same value
        batch[keys.PROBE_EDGES] = batch[keys.PROBE_EDGES][:, :0]
        batch[keys.PROBE_EDGE_OFFSETS] = batch[keys.PROBE_EDGE_OFFSETS][:0]
        with torch.no_grad():
            assert abs(model(batch).item() - a[0]) <= 1e-14 * max(1.0, abs(a[0]))

    def test_density_is_continuous_as_an_atom_crosses_the_cutoff(self, model) -> None:
        cutoff = model.config.cutoff
        values = []
        for delta in (-1e-7, 1e-7):  # probe just inside / just outside the second atom's cutoff
            atoms = ase.Atoms("CO", positions=[[0, 0, 0], [1.2, 0, 0]])
            probe = np.array([[1.2 - cutoff + delta, 0.0, 0.0]])  # distance to O: cutoff − delta
            values.append(predict_density(model, atoms, probe)[0])
        assert abs(values[0] - values[1]) < 1e-6

    def test_lone_atom_zero_probes_and_probe_on_an_atom(self, model) -> None:
        lone = ase.Atoms("O", positions=[[0.0, 0.0, 0.0]])
        batch = model_batch(model, lone, np.array([[0.3, 0.0, 0.1], [0.0, 0.0, 0.0]]))
        assert batch[keys.ATOM_EDGES].shape == (2, 0)
        with torch.no_grad():
            rho = model(batch)
        assert rho.shape == (2,) and torch.isfinite(rho).all()
        empty = model_batch(model, small_periodic_cell(0), np.zeros((0, 3)))
        with torch.no_grad():
            assert model(empty).shape == (0,)
        atoms = small_molecule(0)
        assert np.isfinite(predict_density(model, atoms, atoms.positions[:2])).all()

    # ----------------------------------------------------------------------------------------- gradients
    def test_gradcheck_wrt_probe_positions(self, model) -> None:
        atoms = small_periodic_cell(1)
        batch = model_batch(model, atoms, random_probes(atoms, 4, 1))
        states = model.encode_atoms(batch)

        def density(positions: torch.Tensor) -> torch.Tensor:
            return model.decode_probes(states, {**batch, keys.PROBE_POSITIONS: positions}, raw=True)

        positions = batch[keys.PROBE_POSITIONS].clone().requires_grad_(True)
        assert torch.autograd.gradcheck(density, (positions,), eps=1e-6, atol=1e-7)

    def test_training_gradients_reach_every_parameter(self, model) -> None:
        atoms = small_periodic_cell(0)
        batch = model_batch(model, atoms, random_probes(atoms, 6))
        model.zero_grad(set_to_none=True)
        model(batch, raw=True).square().sum().backward()
        # every parameter takes part (DistributedDataParallel needs that)
        missing = [name for name, p in model.named_parameters() if p.grad is None]
        model.zero_grad(set_to_none=True)
        assert missing == []

    # --------------------------------------------------------------------------------- options, storage
    def test_nonnegative_clamp(self, model) -> None:
        atoms = small_molecule(3)
        batch = model_batch(model, atoms, random_probes(atoms, 40, 3, margin=3.0))
        with torch.no_grad():
            raw = model(batch, raw=True)
            clamped = model.__class__(model.config.replace(nonnegative=True)).to(model.dtype)
            clamped.load_state_dict(model.state_dict())
            rho = clamped(batch)
        assert (rho >= 0).all()
        torch.testing.assert_close(rho, raw.clamp_min(0), rtol=0, atol=0)
        target = raw.abs()  # any non-negative target: the clamp never moves a prediction away from it
        assert ((rho - target).abs() <= (raw - target).abs()).all()

    def test_save_load_round_trip(self, model, tmp_path: Path) -> None:
        from rhograph.models.checkpoint import load_model, save_checkpoint

        path = save_checkpoint(tmp_path / "model.pt", model)
        loaded = load_model(path).to(model.dtype)
        assert loaded.config == model.config
        atoms = small_periodic_cell(2)
        probes = random_probes(atoms, 7, 2)
        np.testing.assert_array_equal(predict_density(loaded, atoms, probes), predict_density(model, atoms, probes))
