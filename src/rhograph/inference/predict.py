"""Python API of prediction: ``rhograph.predict(atoms, model=...) -> DensityGrid``.

Mirrors ``rhograph predict``: choose the grid (molecular box or periodic cell, explicit shape or a reference
file's grid), load the model once, predict, and report what it cost. :func:`write_prediction` writes the
density and any derived fields by file name, atomically.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ase
import numpy as np
import torch

from rhograph.errors import StructureError
from rhograph.inference.engine import DERIVED_FIELDS, GridPredictor, PredictionStats
from rhograph.inference.grids import make_grid, resolve_pbc
from rhograph.inference.model_source import LoadedModel, resolve_model
from rhograph.inference.structures import check_structure
from rhograph.io.density_grid import DensityGrid

log = logging.getLogger(__name__)


class UnseenElementWarning(UserWarning):
    """The structure holds an element the model was never trained on: its prediction is unreliable."""


class ElectronCountWarning(UserWarning):
    """∫ρ dV of a prediction is not finite, negative or far from the electron count the model implies."""


#: Relative deviation of ∫ρ dV from :func:`expected_electrons` above which :func:`predict` warns.
ELECTRON_COUNT_TOLERANCE = 0.10


@dataclass(frozen=True, kw_only=True)
class PredictOptions:
    """How to predict.

    Args:
        grid_step: grid spacing in Å (default 0.1 Å).
        vacuum: Å of empty space around a molecule (default 4 Å, as the DeepDFT QM9 cells).
        grid_shape: explicit (N1, N2, N3); overrides ``grid_step``.
        pbc: ``auto`` (the structure's own), ``on`` or ``off``.
        derived: derived fields to compute, any of ``gradient``, ``hessian_eigenvalues``, ``iri``, ``dori``.
        chunk_size: probes per decoder call (``None``: from available memory).
        compile: run the probe decoder through ``torch.compile`` (one-off compilation of ~30-60 s, cached by
            torch; needs a C++ compiler on CPU). On a small CPU it pays with one thread per process (1.5x),
            not with several threads; see docs/prediction.md.
        unseen_elements: ``error`` (default) or ``warn`` when the structure holds elements the model's card
            does not list.
        uncertainty: with an ensemble model, also predict the member standard deviation per grid point (the
            field ``std`` of the result, written as ``<name>.std.<ext>``) and the expected ε_mae
            (:func:`~rhograph.models.ensemble.expected_nmae`).
    """

    grid_step: float = 0.1
    vacuum: float = 4.0
    grid_shape: tuple[int, int, int] | None = None
    pbc: str = "auto"
    derived: tuple[str, ...] = ()
    chunk_size: int | None = None
    compile: bool = False
    unseen_elements: str = "error"
    uncertainty: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.derived) - set(DERIVED_FIELDS))
        if unknown:
            raise ValueError(f"derived={unknown} not allowed; choose from {list(DERIVED_FIELDS)}")
        if self.unseen_elements not in ("error", "warn"):
            raise ValueError(f"unseen_elements={self.unseen_elements!r}; choose 'error' or 'warn'")


def check_elements(atoms: ase.Atoms, loaded: LoadedModel, policy: str, source: str) -> None:
    """Refuse (or warn about) elements outside the model's training set; warn if the model records none."""
    seen = loaded.elements
    if seen is None:
        return
    present = set(atoms.get_atomic_numbers().tolist())
    unseen = sorted(present - seen)
    if not unseen:
        return
    symbols = [ase.data.chemical_symbols[z] for z in unseen]
    known = [ase.data.chemical_symbols[z] for z in sorted(seen)]
    message = (
        f"{source}: element(s) {symbols} were never seen by model {loaded.name!r} "
        f"(trained on {known}); its density there is meaningless"
    )
    if policy == "error":
        raise StructureError(message + " — pass unseen_elements='warn' (--allow-unseen-elements) to predict anyway")
    warnings.warn(message, UnseenElementWarning, stacklevel=3)


def device_of(name: str | torch.device | None) -> torch.device:
    """``auto`` / ``None`` → CUDA if available, else CPU."""
    if name is None or str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def predict(
    atoms: ase.Atoms,
    model: str | os.PathLike[str] | torch.nn.Module | LoadedModel | list[str | os.PathLike[str]] | None = None,
    *,
    like: DensityGrid | None = None,
    options: PredictOptions | None = None,
    device: str | torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
    rank: int = 0,
    world_size: int = 1,
    out: np.ndarray | None = None,
    source: str = "<atoms>",
    **option_overrides,
) -> DensityGrid:
    """Predict the electron density of a structure on a full grid.

    Args:
        atoms: the structure (Å). Molecules (no periodicity) are centred in a box with ``vacuum``.
        model: ``None`` for the bundled default, a bundled name, a checkpoint path, a DeepDFT folder, a
            model, or an already loaded :class:`LoadedModel` (reuse it for many structures); an ensemble run
            folder or a list of models predicts the ensemble mean (see ``uncertainty``).
        like: predict on exactly this reference grid.
        options: :class:`PredictOptions`; keyword overrides (``grid_step=0.2``...) are applied on top.
        device: ``auto`` (default), ``cpu``, ``cuda``, ``cuda:1``.
        progress: ``progress(done, total)`` callback.
        rank, world_size: split the grid over ``torch.distributed`` processes; rank 0 gets the full grid.
        out: optional preallocated float32 buffer (e.g. ``np.memmap``) of the grid's size.

    Returns:
        DensityGrid (values e/Å³) whose ``fields`` hold the requested derived fields, and whose attribute
        ``stats`` (:class:`PredictionStats`) reports timings. With ``uncertainty=True`` (an ensemble model:
        the values are the member mean) ``fields["std"]`` holds the member standard deviation (e/Å³) and the
        attribute ``expected_nmae`` the expected ε_mae in percent; otherwise ``expected_nmae`` is ``None``.
    """
    options = options or PredictOptions()
    if option_overrides:
        from dataclasses import replace

        options = replace(options, **option_overrides)
    dev = device_of(device)
    loaded = model if isinstance(model, LoadedModel) else resolve_model(model, device=dev)
    atoms = resolve_pbc(check_structure(atoms, source), options.pbc)
    check_elements(atoms, loaded, options.unseen_elements, source)
    atoms, spec = make_grid(
        atoms, grid_step=options.grid_step, vacuum=options.vacuum, shape=options.grid_shape, like=like
    )
    predictor = GridPredictor(
        loaded.model, device=dev, chunk_size=options.chunk_size, progress=progress, compile=options.compile
    )
    try:
        result = predictor.predict_grid(
            atoms,
            spec,
            derived=options.derived,
            out=out,
            rank=rank,
            world_size=world_size,
            uncertainty=options.uncertainty,
        )
    except StructureError as exc:  # e.g. atoms closer than rhograph.data.MIN_ATOM_DISTANCE
        raise StructureError(f"{source}: {exc}") from exc
    fields = dict(result.derived)
    expected = None
    if result.std is not None:
        from rhograph.models.ensemble import expected_nmae

        fields["std"] = result.std
        expected = expected_nmae(result.values, result.std)
    grid = DensityGrid(
        atoms=atoms,
        values=result.values,
        cell=spec.cell,
        origin=spec.origin,
        fields=fields,
        source=None,
    )
    grid.stats = result.stats  # type: ignore[attr-defined]
    grid.expected_nmae = expected  # type: ignore[attr-defined]
    if rank == 0:  # other ranks hold only their share of the grid
        check_electron_count(grid, expected_electrons(atoms, loaded), source)
    return grid


def check_electron_count(grid: DensityGrid, expected: float | None, source: str = "<atoms>") -> None:
    """Warn (:class:`ElectronCountWarning`) when ∫ρ dV is not finite, negative, or off from ``expected`` (the
    electron count of :func:`expected_electrons`, if known) by more than :data:`ELECTRON_COUNT_TOLERANCE`."""
    electrons = grid.electrons
    hint = (
        "the prediction is not physical: check the structure (overlapping atoms, a degenerate or very skewed cell, "
        "elements or geometries far from the training data) and the grid (vacuum, grid step)"
    )
    implied = f" but the model's elements imply {expected:.4g} e" if expected else ""
    if not np.isfinite(electrons) or electrons < 0:
        problem = f"∫ρ dV = {electrons:.4g} e{implied}"
    elif expected and abs(electrons - expected) > ELECTRON_COUNT_TOLERANCE * expected:
        problem = f"∫ρ dV = {electrons:.4g} e{implied} ({100 * (electrons - expected) / expected:+.1f} %)"
    else:
        return
    warnings.warn(f"{source}: {problem}; {hint}", ElectronCountWarning, stacklevel=3)


def _field_paths(path: Path, name: str, components: int) -> list[Path]:
    """Files for a derived field beside ``path``.

    ``out.cube`` + ``iri`` → ``out.iri.cube``; ``out_CHGCAR.gz`` + ``iri`` → ``out_CHGCAR.iri.gz`` (names keep
    what makes them recognisable as their format); vector fields get ``_x/_y/_z`` (gradient) or ``_1.._3``.
    """
    full, compression = path.name, ""
    for suffix in (".gz", ".zz", ".lz4", ".zst"):
        if full.endswith(suffix):
            full, compression = full[: -len(suffix)], suffix
    stem, ext = full, ""
    for suffix in (".cube", ".cub", ".npy", ".npz", ".vasp"):
        if full.endswith(suffix):
            stem, ext = full[: -len(suffix)], suffix
    labels = [""] if components == 1 else (["_x", "_y", "_z"] if name == "gradient" else ["_1", "_2", "_3"])
    return [path.with_name(f"{stem}.{name}{label}{ext}{compression}") for label in labels]


def write_prediction(path: str | os.PathLike[str], grid: DensityGrid) -> list[Path]:
    """Write a predicted density (and its derived fields) by file name; returns the written paths.

    ``.npz`` holds everything in one file; other formats get one file per derived scalar / component.
    """
    from rhograph.io.formats import write_density

    path = Path(path)
    written = [path]
    if path.name.endswith(".npz") and grid.fields:
        from rhograph.io.atomic import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                values=grid.values,
                cell=grid.cell,
                origin=grid.origin,
                numbers=grid.atoms.get_atomic_numbers(),
                positions=grid.atoms.positions,
                pbc=grid.atoms.pbc,
                **grid.fields,
            )
        return written
    write_density(path, grid)
    for name, array in grid.fields.items():
        components = 1 if array.ndim == 3 else array.shape[-1]
        for c, field_path in enumerate(_field_paths(path, name, components)):
            data = array if components == 1 else array[..., c]
            write_density(field_path, grid.with_values(np.ascontiguousarray(data)))
            written.append(field_path)
    return written


def expected_electrons(atoms: ase.Atoms, loaded: LoadedModel) -> float | None:
    """Electron count the density should integrate to, if known: the model card's ``electrons_per_element``
    (valence-density models) or else the total Σ Z for all-electron models (card ``density: all-electron``)."""
    per_element = loaded.card.get("electrons_per_element")
    if per_element:
        table = {int(k): float(v) for k, v in per_element.items()}
        try:
            return float(sum(table[int(z)] for z in atoms.get_atomic_numbers()))
        except KeyError:
            return None
    if loaded.card.get("density") == "all-electron":
        return float(atoms.get_atomic_numbers().sum())
    return None


def summary_line(name: str, grid: DensityGrid, expected: float | None) -> str:
    """One line: points, ∫ρ dV (vs expected), time and probes/s."""
    stats: PredictionStats = getattr(grid, "stats", PredictionStats())
    electrons = grid.electrons
    expect = f" (expected {expected:.3f}, {100 * (electrons - expected) / expected:+.2f} %)" if expected else ""
    expected_nmae = getattr(grid, "expected_nmae", None)
    uncertainty = f", expected ε_mae {expected_nmae:.3f} %" if expected_nmae is not None else ""
    return (
        f"{name}: {grid.num_points:,} points {grid.shape}, ∫ρ dV = {electrons:.4f} e{expect}{uncertainty}, "
        f"{stats.total_time:.2f} s, {stats.probes_per_second:,.0f} probes/s"
    )


def timed_progress(label: str, every: float = 5.0) -> Callable[[int, int], None]:
    """A progress callback logging done/total, rate and ETA at most every ``every`` seconds."""
    t0 = time.perf_counter()
    last = [t0]

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] < every and done < total:
            return
        last[0] = now
        rate = done / max(now - t0, 1e-9)
        eta = (total - done) / rate if rate > 0 else float("inf")
        log.info(
            "%s: %d/%d points (%.0f %%), %.0f probes/s, ETA %.0f s",
            label,
            done,
            total,
            100 * done / max(total, 1),
            rate,
            eta,
        )

    return report
