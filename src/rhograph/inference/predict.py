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
from typing import Any

import ase
import numpy as np
import torch

from rhograph.errors import ConfigError, ResourceError, StructureError
from rhograph.inference.engine import DERIVED_FIELDS, GridPredictor, PredictionStats
from rhograph.inference.grids import make_grid, resolve_pbc
from rhograph.inference.model_source import LoadedModel, choose_bundled, resolve_model
from rhograph.inference.structures import as_atoms, check_structure
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
            raise ConfigError(f"derived={unknown} not allowed; choose from {list(DERIVED_FIELDS)}")
        if self.unseen_elements not in ("error", "warn"):
            raise ConfigError(f"unseen_elements={self.unseen_elements!r}; choose 'error' or 'warn'")
        if self.chunk_size is not None and (
            isinstance(self.chunk_size, bool) or not isinstance(self.chunk_size, int) or self.chunk_size < 1
        ):
            raise ConfigError(f"chunk_size={self.chunk_size!r} must be a positive integer (probes per decoder call)")


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
    """``auto`` / ``None`` → CUDA if available, else CPU.

    Raises:
        ConfigError: an unknown device name, or a CUDA device on a machine without (that) CUDA device.
    """
    if name is None or str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device={str(name)!r} is not allowed; choose auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={str(name)!r} requested but CUDA is not available; use cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device={str(name)!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


#: Fraction of the available RAM that the result arrays of one prediction may take.
GRID_MEMORY_FRACTION = 0.8

#: Values per grid point of each derived field (the density itself and ``std`` are one each).
_FIELD_COMPONENTS = {"gradient": 3, "hessian_eigenvalues": 3, "iri": 1, "dori": 1}


def _size(num_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if num_bytes < 1024 or unit == "TiB":
            return f"{num_bytes:.1f} {unit}" if unit != "B" else f"{num_bytes:.0f} B"
        num_bytes /= 1024
    raise AssertionError  # pragma: no cover


def check_grid_memory(
    shape: tuple[int, int, int], options: PredictOptions, source: str, available: int | None = None
) -> int:
    """Refuse a grid whose result arrays (float32 density, derived fields, ``std``) cannot fit in RAM.

    Args:
        shape: the grid shape.
        options: the prediction options (derived fields and uncertainty add arrays).
        source: the structure's name for the message.
        available: bytes of RAM available (default: ``psutil.virtual_memory().available``).

    Returns:
        The bytes the result arrays need.

    Raises:
        ResourceError: naming the grid, the size it needs, the memory there is, and what to do instead.
    """
    points = int(np.prod(shape, dtype=np.float64))
    values = 1 + sum(_FIELD_COMPONENTS[name] for name in options.derived) + (1 if options.uncertainty else 0)
    need = 4 * points * values
    if available is None:
        import psutil

        available = int(psutil.virtual_memory().available)
    if need <= GRID_MEMORY_FRACTION * available:
        return need
    ratio = (need / (GRID_MEMORY_FRACTION * available)) ** (1 / 3)
    step = f"a --grid-step about {ratio:.2g}x coarser ({options.grid_step * ratio:.3g} Å)"
    fields = f" for {values} values per point" if values > 1 else ""
    raise ResourceError(
        f"{source}: a grid of {points:,} points {tuple(shape)} needs {_size(need)}{fields}, more than the "
        f"{_size(available)} of memory available; use {step}, a smaller --grid / --vacuum, fewer derived "
        "fields, or the density alone to a .cube, CHGCAR or .npy file (streamed to disk: predict_to_file)"
    )


def _options(options: PredictOptions | None, overrides: dict) -> PredictOptions:
    options = options or PredictOptions()
    if overrides:
        from dataclasses import replace

        options = replace(options, **overrides)
    return options


def _prepare(atoms, model, like, options: PredictOptions, device, source):
    """The checked structure, its grid, the loaded model, the device and the structure's name."""
    atoms, source = as_atoms(atoms, source)
    dev = device_of(device)
    if model is None:  # the bundled model that covers the structure's elements
        model = choose_bundled(atoms.numbers, allow_unseen=options.unseen_elements == "warn", source=source)
    loaded = model if isinstance(model, LoadedModel) else resolve_model(model, device=dev)
    atoms = resolve_pbc(check_structure(atoms, source), options.pbc)
    check_elements(atoms, loaded, options.unseen_elements, source)
    atoms, spec = make_grid(
        atoms, grid_step=options.grid_step, vacuum=options.vacuum, shape=options.grid_shape, like=like
    )
    volume = float(np.linalg.det(spec.cell))
    if volume < 0:
        raise StructureError(
            f"{source}: the cell is left-handed (volume {volume:.4g} Å³); density files need a right-handed cell: "
            "swap two lattice vectors (ASE: atoms.set_cell(atoms.cell[[1, 0, 2]])) or reverse all three"
        )
    return atoms, spec, loaded, dev, source


def predict(
    atoms: ase.Atoms | str | os.PathLike[str] | Any,
    model: str | os.PathLike[str] | torch.nn.Module | LoadedModel | list[str | os.PathLike[str]] | None = None,
    *,
    like: DensityGrid | None = None,
    options: PredictOptions | None = None,
    device: str | torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
    rank: int = 0,
    world_size: int = 1,
    out: np.ndarray | None = None,
    source: str | None = None,
    **option_overrides,
) -> DensityGrid:
    """Predict the electron density of a structure on a full grid.

    Args:
        atoms: the structure (Å): ``ase.Atoms``, a pymatgen ``Structure`` or ``Molecule`` (needs pymatgen), or
            a structure file (anything ASE reads, or a density file; the last frame). Molecules (no
            periodicity) are centred in a box with ``vacuum``.
        model: ``None`` for the bundled default, a bundled name, a checkpoint path, a DeepDFT folder, a
            model, or an already loaded :class:`LoadedModel` (reuse it for many structures); an ensemble run
            folder or a list of models predicts the ensemble mean (see ``uncertainty``).
        like: predict on exactly this reference grid.
        options: :class:`PredictOptions`; keyword overrides (``grid_step=0.2``...) are applied on top.
        device: ``auto`` (default), ``cpu``, ``cuda``, ``cuda:1``.
        progress: ``progress(done, total)`` callback.
        rank, world_size: split the grid over ``torch.distributed`` processes; rank 0 gets the full grid.
        out: optional preallocated float32 buffer (e.g. ``np.memmap``) of the grid's size.
        source: name of the structure in messages (default the file name, ``<pymatgen Structure>``, ``<atoms>``).

    Returns:
        DensityGrid (values e/Å³) whose ``fields`` hold the requested derived fields, and whose attribute
        ``stats`` (:class:`PredictionStats`) reports timings. With ``uncertainty=True`` (an ensemble model:
        the values are the member mean) ``fields["std"]`` holds the member standard deviation (e/Å³) and the
        attribute ``expected_nmae`` the expected ε_mae in percent; otherwise ``expected_nmae`` is ``None``.
    """
    options = _options(options, option_overrides)
    atoms, spec, loaded, dev, source = _prepare(atoms, model, like, options, device, source)
    if out is None:
        check_grid_memory(spec.shape, options, source)
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


@dataclass(frozen=True)
class StreamedPrediction:
    """What :func:`predict_to_file` wrote: the file, the grid's shape, ∫ρ dV (e), the structure and timings."""

    path: Path
    atoms: ase.Atoms
    shape: tuple[int, int, int]
    electrons: float
    stats: PredictionStats
    expected_nmae: float | None = None

    @property
    def num_points(self) -> int:
        return int(np.prod(self.shape))


def predict_to_file(
    atoms: ase.Atoms | str | os.PathLike[str] | Any,
    path: str | os.PathLike[str],
    model: str | os.PathLike[str] | torch.nn.Module | LoadedModel | list[str | os.PathLike[str]] | None = None,
    *,
    like: DensityGrid | None = None,
    options: PredictOptions | None = None,
    device: str | torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
    source: str | None = None,
    **option_overrides,
) -> StreamedPrediction:
    """Predict a density straight into a cube, CHGCAR or ``.npy`` file, in bounded memory.

    As :func:`predict` followed by :func:`write_prediction` (the same file, byte for byte), but the grid is
    never held whole: each chunk of probes is decoded, formatted and written (compressed by suffix) before
    the next, so a grid of 10⁸-10⁹ points needs the memory of a few chunks, not 4 bytes per point. The points
    are visited in the file's order (CHGCAR: first index fastest). The file appears when the last value is
    written; an interrupted prediction leaves none.

    Args:
        atoms, model, like, device, progress, source: as :func:`predict`.
        path: the output file (``.cube``, ``*CHGCAR*``, ``.npy``, optionally + ``.gz``/``.zz``/``.lz4``/``.zst``).
        options: :class:`PredictOptions` (density only: no derived fields, no uncertainty).

    Raises:
        ConfigError: derived fields or uncertainty asked for, or an ``.npz`` output (use :func:`predict`).
        ResourceError: the file would not fit on its disk (checked before any work).
        OutputError: the file cannot be written.
    """
    from rhograph.data.grid_geometry import GridSpec
    from rhograph.io.stream import DensityFileStream

    options = _options(options, option_overrides)
    if options.derived or options.uncertainty:
        raise ConfigError(
            "derived fields and uncertainty are not streamed to a file; use predict() + write_prediction()"
        )
    atoms, spec, loaded, dev, source = _prepare(atoms, model, like, options, device, source)
    stream = DensityFileStream(path, atoms, spec.cell, spec.origin, spec.shape)
    stream.check_space(source)
    walk = spec
    if stream.order == "F":  # the same points, first index fastest: the grid with its axes reversed
        walk = GridSpec(cell=np.asarray(spec.cell)[::-1].copy(), shape=spec.shape[::-1], origin=spec.origin)
    predictor = GridPredictor(
        loaded.model, device=dev, chunk_size=options.chunk_size, progress=progress, compile=options.compile
    )
    with stream:
        try:
            result = predictor.predict_grid(atoms, walk, sink=stream.write)
        except StructureError as exc:
            raise StructureError(f"{source}: {exc}") from exc
    assert result.stats.electrons is not None
    written = StreamedPrediction(
        path=Path(path), atoms=atoms, shape=spec.shape, electrons=result.stats.electrons, stats=result.stats
    )
    check_electron_count(written, expected_electrons(atoms, loaded), source)  # type: ignore[arg-type]
    return written


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


def summary_record(name: str, grid: DensityGrid, expected: float | None, written: list[Path]) -> dict:
    """The facts of :func:`summary_line` as a JSON-ready dict (``predict --json``)."""
    stats: PredictionStats = getattr(grid, "stats", PredictionStats())
    expected_nmae = getattr(grid, "expected_nmae", None)
    return {
        "structure": name,
        "outputs": [str(path) for path in written],
        "shape": [int(n) for n in grid.shape],
        "points": int(grid.num_points),
        "electrons": float(grid.electrons),
        "expected_electrons": expected,
        "expected_nmae_percent": None if expected_nmae is None else float(expected_nmae),
        "seconds": float(stats.total_time),
        "probes_per_second": float(stats.probes_per_second),
    }


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
