"""Bader analysis on analytic densities: known integrals, an exactly known zero-flux plane, periodicity."""

from __future__ import annotations

import ase
import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from rhograph.analysis.bader import bader, minimum_image_distances
from rhograph.errors import StructureError
from rhograph.io.density_grid import DensityGrid

# The analytic Gaussians here carry arbitrary electron counts (neither Z nor a valence count), so their valence
# cannot be found: these tests are about the partition; the valence counts are tested in test_valence.py.
pytestmark = pytest.mark.filterwarnings("ignore::rhograph.analysis.valence.ValenceWarning")

# well separated: (symbol, centre Å, electrons, sigma Å); the Na-like one straddles the cell corner
SEPARATED = [("O", [2.2, 2.0, 2.1], 7.0, 0.35), ("H", [4.6, 4.4, 3.9], 1.5, 0.3), ("Na", [-0.1, 0.1, 5.8], 4.0, 0.4)]


def _separated(gaussian_grid, cell, *, pbc: bool, shape=(48, 48, 48), origin=None):
    symbols = [s for s, *_ in SEPARATED]
    centres = np.array([c for _, c, *_ in SEPARATED])
    if not pbc:
        centres[2] = [3.3, 1.6, 4.0]  # keep every Gaussian inside the box
    grid = gaussian_grid(
        symbols,
        centres,
        [q for *_, q, _ in SEPARATED],
        [s for *_, s in SEPARATED],
        cell=cell,
        shape=shape,
        pbc=pbc,
        origin=origin,
    )
    return grid, np.array([q for *_, q, _ in SEPARATED])


@pytest.mark.parametrize("pbc", [True, False])
def test_separated_gaussians_populations_equal_their_integrals(gaussian_grid, skewed_cell, pbc):
    origin = None if pbc else np.array([-0.5, 0.3, 0.2])
    grid, electrons = _separated(gaussian_grid, skewed_cell, pbc=pbc, origin=origin)
    z = grid.atoms.numbers
    result = bader(grid, vacuum_threshold=None, valence=z)
    assert len(result.maxima_indices) == 3
    np.testing.assert_allclose(result.atom_populations, electrons, rtol=1e-2)
    np.testing.assert_allclose(result.atom_populations, electrons, rtol=2e-3)  # in fact far better than 1 %
    assert result.total_population == pytest.approx(grid.electrons, rel=1e-12)
    assert result.vacuum_population == 0.0
    np.testing.assert_allclose(result.charges, z - result.atom_populations)
    assert result.atom_volumes.sum() == pytest.approx(grid.cell_volume)
    # the maxima sit on their atoms (minimum image), within a voxel
    assert result.maxima_distances.max() < np.linalg.norm(grid.voxel_vectors.sum(axis=0))


def test_vacuum_threshold_accounting(gaussian_grid, skewed_cell):
    grid, electrons = _separated(gaussian_grid, skewed_cell, pbc=True)
    result = bader(grid, vacuum_threshold=1e-3)
    vacuum = grid.values < 1e-3
    assert (result.labels[vacuum] == -1).all() and (result.labels[~vacuum] >= 0).all()
    assert result.vacuum_population == pytest.approx(grid.values[vacuum].sum(dtype=np.float64) * grid.voxel_volume)
    assert result.vacuum_volume == pytest.approx(vacuum.sum() * grid.voxel_volume)
    assert result.total_population == pytest.approx(grid.electrons, rel=1e-12)
    np.testing.assert_allclose(result.atom_populations, electrons, rtol=1e-2)
    counts = np.bincount(result.atom_labels[result.atom_labels >= 0], minlength=3) * grid.voxel_volume
    np.testing.assert_allclose(counts, result.atom_volumes)


def test_valence_partition_and_integrate(gaussian_grid, skewed_cell):
    grid, _ = _separated(gaussian_grid, skewed_cell, pbc=True)
    result = bader(grid, vacuum_threshold=None, valence=[6, 1, 1])
    np.testing.assert_allclose(result.charges, np.array([6, 1, 1]) - result.atom_populations)
    doubled = grid.with_values(2 * grid.values)
    shared = bader(doubled, partition=grid, vacuum_threshold=None)
    np.testing.assert_array_equal(shared.labels, result.labels)
    np.testing.assert_allclose(shared.atom_populations, 2 * result.atom_populations, rtol=1e-6)
    per_atom, vac = result.integrate(grid.values)
    np.testing.assert_allclose(per_atom, result.atom_populations, rtol=1e-6)
    assert vac == 0.0
    rows = result.table()
    assert [r["symbol"] for r in rows] == ["O", "H", "Na"]
    assert rows[0]["population"] == pytest.approx(result.atom_populations[0])
    with pytest.raises(ValueError, match="valence"):
        bader(grid, valence=[1.0])
    with pytest.raises(ValueError, match="method"):
        bader(grid, method="weight")
    with pytest.raises(ValueError, match="shape"):
        result.integrate(np.ones((2, 2, 2)))


def _plane_case(n: int) -> tuple[DensityGrid, np.ndarray, float, float]:
    """ρ = f(t) · exp(−s²/2σ²), t = r·u along a generic unit vector u, s ⊥ u: two elongated Gaussians.

    The gradient flow along t depends on f'(t) alone, so the zero-flux surface is exactly the plane
    t = t*, t* the minimum of f between the two maxima; the populations follow from the normal CDF.
    """
    cell = np.array([[6.0, 0.0, 0.0], [1.0, 5.6, 0.0], [-0.6, 0.5, 5.8]])
    u = np.array([1.0, 0.43, 0.27])
    u /= np.linalg.norm(u)
    centre = cell.sum(axis=0) / 2
    (amp_a, t_a, w_a), (amp_b, t_b, w_b), sigma = (2.0, -0.9, 0.55), (1.0, 0.8, 0.45), 0.6

    def f(t):
        return amp_a * np.exp(-((t - t_a) ** 2) / (2 * w_a**2)) + amp_b * np.exp(-((t - t_b) ** 2) / (2 * w_b**2))

    t_star = minimize_scalar(f, bounds=(t_a, t_b), method="bounded", options={"xatol": 1e-12}).x
    perp = 2 * np.pi * sigma**2 * np.sqrt(2 * np.pi)
    exact_a = perp * (amp_a * w_a * norm.cdf((t_star - t_a) / w_a) + amp_b * w_b * norm.cdf((t_star - t_b) / w_b))
    atoms = ase.Atoms("OH", positions=[centre + t_a * u, centre + t_b * u], cell=cell, pbc=False)
    grid = DensityGrid(atoms=atoms, values=np.zeros((n, n, n)), cell=cell)
    rel = grid.grid_positions() - centre
    t = rel @ u
    s2 = (rel**2).sum(axis=1) - t**2
    grid.values = (f(t) * np.exp(-s2 / (2 * sigma**2))).reshape(n, n, n).astype(np.float32)
    return grid, (t - t_star).reshape(n, n, n), float(exact_a), float(np.linalg.norm(grid.voxel_vectors, axis=1).max())


def test_near_grid_recovers_a_known_zero_flux_plane_without_lattice_bias():
    grid, signed_distance, exact_a, h = _plane_case(40)
    near = bader(grid, vacuum_threshold=1e-3)
    ongrid = bader(grid, vacuum_threshold=1e-3, method="on-grid")
    truth = signed_distance < 0  # side of atom 0

    def worst_misassignment(result):
        wrong = ((result.atom_labels == 0) != truth) & (result.labels >= 0)
        return np.abs(signed_distance[wrong]).max() / h

    # near-grid: only voxels within a fraction of a voxel of the plane are on the wrong side
    assert worst_misassignment(near) < 0.5
    # the on-grid (2006) scheme shows the lattice bias the correction removes
    assert worst_misassignment(ongrid) > 1.0
    assert near.atom_populations[0] == pytest.approx(exact_a, rel=3e-3)


@pytest.mark.parametrize("vacuum", [None, 1e-3])
def test_default_scheme_equals_exhaustive_trajectories(vacuum):
    grid, *_ = _plane_case(32)
    fast = bader(grid, vacuum_threshold=vacuum)
    full = bader(grid, vacuum_threshold=vacuum, exhaustive=True)
    np.testing.assert_array_equal(fast.labels, full.labels)


def test_default_scheme_equals_exhaustive_in_a_periodic_crystal(gaussian_grid):
    from ase.build import bulk

    atoms = bulk("NaCl", "rocksalt", a=5.6).repeat((2, 1, 1))
    atoms.rattle(0.15, seed=3)
    shape = (40, 32, 32)
    params = {11: (10.0, 0.45), 17: (18.0, 0.7)}
    grid = gaussian_grid(
        atoms.get_chemical_symbols(),
        atoms.positions,
        [params[z][0] for z in atoms.numbers],
        [params[z][1] for z in atoms.numbers],
        cell=atoms.cell.array,
        shape=shape,
    )
    fast = bader(grid, vacuum_threshold=None)
    full = bader(grid, vacuum_threshold=None, exhaustive=True)
    np.testing.assert_array_equal(fast.labels, full.labels)
    assert len(fast.maxima_indices) == 4
    assert fast.total_population == pytest.approx(grid.electrons, rel=1e-12)
    assert sorted(fast.maxima_atoms.tolist()) == [0, 1, 2, 3]


def test_non_periodic_axes_do_not_wrap(gaussian_grid):
    # A straddles the x = 0 face of a periodic density; B sits in the middle
    centres = np.array([[0.1, 2.5, 2.5], [4.5, 2.5, 2.5]])
    periodic = gaussian_grid("OH", centres, [3.0, 6.0], [0.35, 0.5], cell=np.diag([8.0, 5.0, 5.0]), shape=(64, 40, 40))
    wrapped = bader(periodic, vacuum_threshold=None)
    np.testing.assert_allclose(wrapped.atom_populations, [3.0, 6.0], rtol=1e-3)
    assert len(wrapped.maxima_indices) == 2
    # the same values read as non-periodic: A's image at the high-x face is cut off from A, its density rises
    # to a maximum on the last grid plane, and that basin's nearest atom (no wrapping) is B
    cut = periodic.with_values(periodic.values)
    cut.atoms.pbc = False
    isolated = bader(cut, vacuum_threshold=None)
    assert len(isolated.maxima_indices) == 3
    assert isolated.maxima_indices[:, 0].max() == 63
    only_a = gaussian_grid("OH", centres, [3.0, 0.0], [0.35, 0.5], cell=np.diag([8.0, 5.0, 5.0]), shape=(64, 40, 40))
    low_x_half = only_a.values[:32].sum(dtype=np.float64) * only_a.voxel_volume  # A's share on its own side
    assert low_x_half < 2.5
    np.testing.assert_allclose(isolated.atom_populations, [low_x_half, 9.0 - low_x_half], rtol=1e-2)


def test_maxima_are_assigned_by_minimum_image(gaussian_grid):
    cell = np.eye(3) * 5.0
    # atom 0 sits just outside the low-x face; its maximum is on the last grid plane (x = 5 − h)
    centres = np.array([[-0.09, 2.5, 2.5], [2.8, 2.5, 2.5]])
    grid = gaussian_grid("HO", centres, [1.0, 3.0], [0.3, 0.3], cell=cell, shape=(40, 40, 40))
    result = bader(grid, vacuum_threshold=None)
    index_of_atom0 = result.maxima_atoms.tolist().index(0)
    assert result.maxima_indices[index_of_atom0][0] == 39
    np.testing.assert_allclose(result.atom_populations, [1.0, 3.0], rtol=1e-3)
    d = minimum_image_distances(np.array([[4.9, 0.0, 0.0]]), np.array([[0.1, 0.0, 0.0]]), cell, np.ones(3, bool))
    assert d[0, 0] == pytest.approx(0.2)
    d = minimum_image_distances(np.array([[4.9, 0.0, 0.0]]), np.array([[0.1, 0.0, 0.0]]), cell, np.zeros(3, bool))
    assert d[0, 0] == pytest.approx(4.8)


def test_minimum_image_in_a_skewed_cell_matches_brute_force(skewed_cell):
    rng = np.random.default_rng(1)
    a = rng.uniform(-2, 8, size=(20, 3))
    b = rng.uniform(-2, 8, size=(7, 3))
    shifts = np.array([[i, j, k] for i in range(-3, 4) for j in range(-3, 4) for k in range(-3, 4)]) @ skewed_cell
    brute = np.linalg.norm(a[:, None, None, :] - b[None, :, None, :] - shifts[None, None], axis=-1).min(-1)
    np.testing.assert_allclose(minimum_image_distances(a, b, skewed_cell, np.ones(3, bool)), brute, atol=1e-12)


def test_density_without_atoms_is_an_error(gaussian_grid):
    grid = gaussian_grid("H", [[2.0, 2.0, 2.0]], [1.0], [0.4], cell=np.eye(3) * 4, shape=(16, 16, 16))
    empty = DensityGrid(atoms=ase.Atoms(cell=np.eye(3) * 4, pbc=True), values=grid.values)
    with pytest.raises(StructureError, match="no atoms"):
        bader(empty)


def _bond_density(offset: float, shape=(40, 40, 40)):
    """Two atoms 2.4 Å apart along x in a periodic 8 Å box, whose density is one Gaussian (2 e) between them,
    ``offset`` Å from the midpoint towards atom 0, plus small ones (0.2 e) on the atoms; the midpoint falls
    between grid points."""
    from tests.analysis.conftest import gaussian_values

    cell = np.eye(3) * 8.0
    atoms = ase.Atoms("Si2", positions=[[2.33, 4.07, 3.91], [4.73, 4.07, 3.91]], cell=cell, pbc=True)
    centre = atoms.positions.mean(axis=0) - [offset, 0.0, 0.0]
    centres = [centre, *atoms.positions]
    values = gaussian_values(cell, shape, centres, [2.0, 0.2, 0.2], [0.45, 0.2, 0.2], pbc=True)
    return DensityGrid(atoms=atoms, values=values.astype(np.float32), cell=cell, origin=np.zeros(3))


def test_bond_maximum_of_a_homonuclear_bond_is_shared_equally():
    grid = _bond_density(0.0)
    result = bader(grid, valence=[1.2, 1.2])
    # 2.4 e in all; nearest-atom assignment of the bond maximum would give 2.2 / 0.2 (grid rounding: < 0.01 e)
    np.testing.assert_allclose(result.atom_populations, [1.2, 1.2], atol=1e-2)
    np.testing.assert_allclose(result.atom_volumes[0], result.atom_volumes[1], rtol=0.02)
    # a field integrated over the atoms is split the same way
    per_atom, _ = result.integrate(grid.values)
    np.testing.assert_allclose(per_atom, result.atom_populations, rtol=1e-12)


def test_off_centre_bond_maximum_goes_to_its_nearest_atom():
    result = bader(_bond_density(0.5), valence=[1.2, 1.2])  # 0.5 Å towards atom 0: more than a voxel diagonal
    assert result.atom_populations[0] > 2.0 and result.atom_populations[1] < 0.4


def test_silicon_valence_density_has_zero_charges():
    """The bundled VASP silicon CHGCAR (20³ grid of a skewed fcc cell): the bond maxima fall between grid points
    and appear as pairs of equal voxels 0.47 Å apart; charges are 0 by symmetry (the nearest-atom tie-break
    gave ±1.0 e)."""
    from importlib.resources import files

    from rhograph.io.formats import read_density

    grid = read_density(files("rhograph.examples") / "silicon.CHGCAR.gz")
    result = bader(grid)
    np.testing.assert_allclose(result.charges, 0.0, atol=1e-6)
    np.testing.assert_allclose(result.atom_volumes, grid.cell_volume / 2, rtol=1e-9)
