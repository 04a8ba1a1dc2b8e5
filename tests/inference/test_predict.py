"""Full-grid prediction: grids, streaming engine, outputs, derived fields, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule

from rhograph.errors import CheckpointError, StructureError
from rhograph.inference.engine import GridPredictor
from rhograph.inference.grids import GridSpec, make_grid
from rhograph.inference.model_source import LoadedModel, resolve_model
from rhograph.inference.predict import (
    ElectronCountWarning,
    UnseenElementWarning,
    check_electron_count,
    predict,
    write_prediction,
)
from rhograph.io.density_grid import DensityGrid
from rhograph.io.formats import read_density
from rhograph.testing.structures import tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model("deepdft-painn", dtype=torch.float32, seed=1)


@pytest.fixture(scope="module")
def schnet():
    return tiny_model("deepdft-schnet", dtype=torch.float32, seed=2)


def plain_decode(model, atoms, spec: GridSpec) -> np.ndarray:
    """Every probe through the decoder in one call, with the generic KD-tree probe graph."""
    from rhograph.data import collate, make_sample

    positions = spec.positions(0, spec.num_points)
    batch = collate([make_sample(atoms, positions, cutoff=model.config.cutoff)])
    with torch.inference_mode():
        return model(batch).numpy()


def test_molecule_grid_is_centred_box_with_vacuum():
    atoms, spec = make_grid(molecule("H2O"), grid_step=0.2, vacuum=3.0)
    lo, hi = atoms.positions.min(0), atoms.positions.max(0)
    np.testing.assert_allclose(lo, 3.0, atol=1e-9)
    np.testing.assert_allclose(np.diag(spec.cell), hi + 3.0, atol=1e-9)
    assert spec.shape == tuple(int(np.ceil(L / 0.2 - 1e-9)) for L in np.diag(spec.cell))


@pytest.mark.parametrize("fixture", ["model", "schnet"])
def test_streamed_engine_equals_plain_decode(fixture, request):
    net = request.getfixturevalue(fixture)
    atoms, spec = make_grid(molecule("CH4"), grid_step=0.35, vacuum=3.5)
    fast = GridPredictor(net, chunk_size=777).predict_grid(atoms, spec)
    assert fast.stats.num_decoded < spec.num_points  # vacuum corners were skipped
    np.testing.assert_allclose(fast.values.ravel(), plain_decode(net, atoms, spec), rtol=1e-5, atol=1e-6)


def test_chunk_size_and_overlap_do_not_change_results(model):
    atoms, spec = make_grid(bulk("Si", "diamond", a=5.43), grid_step=0.6)
    a = GridPredictor(model, chunk_size=100, overlap=False).predict_grid(atoms, spec).values
    b = GridPredictor(model, chunk_size=5000, overlap=True).predict_grid(atoms, spec).values
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_periodic_prediction_is_periodic(model):
    atoms = bulk("NaCl", "rocksalt", a=5.0)
    atoms, spec = make_grid(atoms, grid_step=0.5)
    predictor = GridPredictor(model, chunk_size=4096)
    base = predictor.predict_grid(atoms, spec).values
    for axis in range(3):
        shifted = GridSpec(cell=spec.cell, shape=spec.shape, origin=spec.origin + spec.cell[axis])
        np.testing.assert_allclose(predictor.predict_grid(atoms, shifted).values, base, rtol=1e-5, atol=1e-6)
    # Opposite faces: the plane one voxel beyond the last equals the first plane.
    beyond = GridSpec(
        cell=spec.cell / np.array([[spec.shape[0]], [1], [1]]),
        shape=(1, *spec.shape[1:]),
        origin=spec.origin + spec.cell[0],
    )
    np.testing.assert_allclose(predictor.predict_grid(atoms, beyond).values[0], base[0], rtol=1e-5, atol=1e-6)


def test_outputs_read_back_with_units(tmp_path, model):
    pytest.importorskip("pymatgen")
    from ase.io.cube import read_cube_data
    from ase.units import Bohr
    from pymatgen.io.vasp.outputs import Chgcar

    grid = predict(molecule("H2O"), model, grid_step=0.3, vacuum=2.5)
    cube = tmp_path / "w.cube"
    chgcar = tmp_path / "w_CHGCAR"
    write_prediction(cube, grid)
    write_prediction(chgcar, grid)
    data, _ = read_cube_data(str(cube))  # ASE keeps cube values in e/Bohr³
    np.testing.assert_allclose(data, grid.values * Bohr**3, rtol=1e-5, atol=1e-9)
    pmg = Chgcar.from_file(str(chgcar))  # pymatgen holds ρ·V_cell
    np.testing.assert_allclose(pmg.data["total"] / grid.cell_volume, grid.values, rtol=1e-5, atol=1e-8)
    for path in (cube, chgcar):
        back = read_density(path)
        assert back.electrons == pytest.approx(grid.electrons, rel=1e-5)


def test_derived_fields_match_finite_differences(tmp_path):
    from rhograph.data import collate, make_sample

    model64 = tiny_model("deepdft-painn", dtype=torch.float64, seed=1)
    grid = predict(
        molecule("H2O"), model64, grid_step=0.5, vacuum=1.5, derived=("gradient", "iri", "hessian_eigenvalues")
    )
    gradient = grid.fields["gradient"].reshape(-1, 3)
    assert grid.fields["gradient"].shape == (*grid.shape, 3)
    idx = np.array([grid.num_points // 3, grid.num_points // 2, 2 * grid.num_points // 3])
    points = grid.grid_positions(idx)
    delta = 1e-4
    for axis in range(3):
        shift = np.zeros(3)
        shift[axis] = delta
        batch = collate(
            [make_sample(grid.atoms, np.concatenate([points + shift, points - shift]))], dtype=torch.float64
        )
        with torch.inference_mode():
            rho = model64(batch).numpy()
        fd = (rho[:3] - rho[3:]) / (2 * delta)
        np.testing.assert_allclose(gradient[idx, axis], fd, rtol=1e-4, atol=1e-6)
    rho = grid.values.reshape(-1)[idx].astype(np.float64)
    iri = grid.fields["iri"].reshape(-1)[idx]
    ok = rho > 0
    expected = np.linalg.norm(gradient[idx][ok], axis=1) / rho[ok] ** 1.1
    np.testing.assert_allclose(iri[ok], expected, rtol=1e-4)
    written = write_prediction(tmp_path / "d.cube", grid)
    assert len(written) == 1 + 3 + 1 + 3  # density, gradient x/y/z, iri, 3 eigenvalues
    assert all(path.is_file() for path in written)


def test_unseen_element_is_refused_or_warned(model):
    loaded = LoadedModel(model=model, name="tiny", card={"elements": [1, 6, 7, 8, 9]})
    with pytest.raises(StructureError, match=r"\['Si'\]"):
        predict(Atoms("SiH4", positions=molecule("CH4").positions), loaded, grid_step=0.5)
    with pytest.warns(UnseenElementWarning, match="Si"):
        predict(Atoms("SiH4", positions=molecule("CH4").positions), loaded, grid_step=0.6, unseen_elements="warn")


def test_bad_structures_get_clear_errors(model):
    with pytest.raises(StructureError, match="no atoms"):
        predict(Atoms(), model)
    bad = molecule("H2O")
    bad.positions[0, 0] = np.nan
    with pytest.raises(StructureError, match="NaN"):
        predict(bad, model)


def test_unknown_model_names_available(tmp_path):
    with pytest.raises(CheckpointError, match="not a bundled model name"):
        resolve_model(tmp_path / "nope.pt")


def test_lone_atom_and_single_point_grid(model):
    grid = predict(Atoms("H", positions=[[0, 0, 0]]), model, grid_shape=(1, 1, 1), vacuum=1.0)
    assert grid.shape == (1, 1, 1)
    assert np.isfinite(grid.values).all()


@pytest.mark.parametrize("fixture", ["model", "schnet"])
def test_compiled_decoder_equals_eager(fixture, request):
    model = request.getfixturevalue(fixture)
    """``compile=True`` (torch.compile, dynamic shapes) gives the eager values for chunks of any size."""
    atoms, spec = make_grid(bulk("Si", "diamond", a=5.43), grid_step=0.5)
    eager = GridPredictor(model, chunk_size=300, overlap=False).predict_grid(atoms, spec).values
    compiled = GridPredictor(model, chunk_size=300, compile=True).predict_grid(atoms, spec).values
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-7)


def test_compile_without_a_compiler_is_a_clear_error(model, monkeypatch):
    from rhograph.errors import RhographError
    from rhograph.models import compiling

    monkeypatch.setattr(compiling.shutil, "which", lambda name: None)
    with pytest.raises(RhographError, match="C\\+\\+ compiler"):
        GridPredictor(model, compile=True)


def test_overlapping_atoms_are_refused_naming_the_structure(model):
    water = molecule("H2O")
    water.positions[1] = water.positions[0]  # the case: ±10⁹ e/Å³ before
    with pytest.raises(StructureError, match=r"water\.xyz: structure H2O: atoms 0 \(O\) and 1 \(H\) are 0\.000 Å"):
        predict(water, model, grid_step=0.5, source="water.xyz")


def test_electron_count_far_from_the_model_elements_warns(model):
    cell = np.eye(3) * 2.0
    grid = DensityGrid(
        atoms=Atoms("H2", positions=[[0, 0, 0], [0.7, 0, 0]]), values=np.full((4, 4, 4), 0.25), cell=cell
    )
    assert grid.electrons == pytest.approx(2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_electron_count(grid, 2.1, "ok.xyz")  # within 10 %
        check_electron_count(grid, None, "ok.xyz")  # nothing known: only the sign is checked
    with pytest.warns(ElectronCountWarning, match=r"far\.xyz: ∫ρ dV = 2 e but the model's elements imply 3 e"):
        check_electron_count(grid, 3.0, "far.xyz")
    with pytest.warns(ElectronCountWarning, match=r"bad\.xyz: ∫ρ dV = -8 e; the prediction is not physical"):
        check_electron_count(grid.with_values(np.full((4, 4, 4), -1.0)), None, "bad.xyz")
    # predict() checks every prediction against the card's electrons per element
    loaded = LoadedModel(model=model, name="tiny", card={"electrons_per_element": {"1": 1000.0, "8": 1000.0}})
    with pytest.warns(ElectronCountWarning, match="imply 3000 e"):
        predict(molecule("H2O"), loaded, grid_step=0.6)
