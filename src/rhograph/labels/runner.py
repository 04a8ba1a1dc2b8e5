"""Label many structures: SCF, density grid, electron-count check, files, manifest — in parallel, resumable.

:func:`label_structure` does one structure (in any process) and returns its manifest entry;
:func:`label_structures` runs a process pool over many, skips those finished in an earlier run, records
each result in ``manifest.json`` as soon as it arrives and logs progress with rate and ETA.

A structure fails — is recorded as failed and gets no output file — when its SCF does not converge, its
grid integral misses the electron count (see :mod:`rhograph.labels.grids`), or PySCF cannot set it up.

Output names: molecules ``<name>.cube``, periodic cells ``<name>_CHGCAR`` (plus the compression suffix),
compact labels ``<name>.dm.npz``; the layouts that :class:`rhograph.io.dataset.DensityDataset` reads. With
``config.code == "gpaw"`` (periodic cells) :func:`rhograph.labels.gpaw_dft.label_cell` does the calculation
and may add ``all-electron/<name>_AECCAR``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ase
import numpy as np

from rhograph.errors import ConfigError, StructureError
from rhograph.io.lock import DirectoryLock
from rhograph.labels.compact import COMPACT_SUFFIX, CompactDensity
from rhograph.labels.config import VALENCE_ELECTRON_TOLERANCE, LabelConfig
from rhograph.labels.manifest import Manifest
from rhograph.labels.structures import NamedStructure, check_unique

log = logging.getLogger(__name__)

#: seconds between manifest rewrites while results arrive (it is always written at the end)
MANIFEST_INTERVAL = 5.0
#: held in the output directory while a labelling run writes to it
LOCK_NAME = "label.lock"
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def output_files(name: str, periodic: bool, config: LabelConfig) -> list[str]:
    """File names (in the output directory) that labelling ``name`` writes."""
    files = []
    if config.write_grid:
        files.append((f"{name}_CHGCAR" if periodic else f"{name}.cube") + (config.compression or ""))
    if config.write_compact:
        files.append(name + COMPACT_SUFFIX)
    if config.code == "gpaw" and config.all_electron_grid:
        from rhograph.labels.gpaw_dft import all_electron_file

        files.append(all_electron_file(name, config))
    return files


def import_code(code: str) -> Any:
    """Import the DFT code ``code`` (``pyscf`` or ``gpaw``) or raise ``ImportError`` with the install hint."""
    if code == "gpaw":
        from rhograph.labels.gpaw_dft import import_gpaw

        return import_gpaw()
    from rhograph.labels.scf import import_pyscf

    return import_pyscf()


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def plan_workers(num_tasks: int, workers: int | None, threads: int | None) -> tuple[int, int]:
    """Processes and threads per process such that ``workers × threads`` ≤ cores (unless both are given)."""
    cores = available_cores()
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
    if workers is None:
        workers = max(1, cores // (threads or 1))
    workers = max(1, min(workers, num_tasks))
    if threads is None:
        threads = max(1, cores // workers)
    return workers, threads


def _failed(entry: dict[str, Any], reason: str) -> dict[str, Any]:
    entry.update(status="failed", reason=reason)
    return entry


def label_structure(
    name: str,
    atoms: ase.Atoms,
    out_dir: str | os.PathLike[str],
    config: LabelConfig,
    source: str | None = None,
) -> dict[str, Any]:
    """Label one structure and write its files; returns the manifest entry (``status`` done / failed).

    Never raises for a structure that cannot be labelled: the reason is in ``entry["reason"]``.
    """
    from rhograph.io.formats import write_density
    from rhograph.labels.evaluate import dm_electrons
    from rhograph.labels.grids import (
        density_on_grid,
        electron_tolerance,
        label_geometry,
        labelled_atoms,
    )
    from rhograph.labels.scf import is_periodic, run_scf

    out = Path(out_dir)
    entry: dict[str, Any] = {
        "status": "running",
        "source": source,
        "formula": atoms.get_chemical_formula(),
        "natoms": len(atoms),
    }
    if config.code == "gpaw":
        from rhograph.labels.gpaw_dft import label_cell

        return label_cell(name, atoms, out, config, entry, output_files(name, True, config))
    try:
        periodic = is_periodic(atoms, name)
        entry["periodic"] = periodic
        result = run_scf(atoms, config, name)
    except StructureError as exc:
        return _failed(entry, str(exc))
    except Exception as exc:  # PySCF raises many types for systems it cannot handle
        log.debug("%s: SCF set-up failed\n%s", name, traceback.format_exc())
        return _failed(entry, f"{type(exc).__name__}: {exc}")
    entry.update(
        converged=result.converged,
        energy_hartree=result.energy,
        cycles=result.cycles,
        electrons=result.electrons,
        spin=int(result.system.spin),
        scf_seconds=round(result.seconds, 3),
        solver=config.solver_settings(),
    )
    if not result.converged:
        return _failed(entry, f"SCF did not converge in {config.max_cycle} cycles (last energy {result.energy:.8f} Ha)")

    start = time.perf_counter()
    spec = label_geometry(atoms, config, periodic)
    stored_atoms = labelled_atoms(atoms, spec.cell, periodic)
    entry["electrons_dm"] = dm_electrons(result.system, result.dm, result.kpts)
    entry["grid_shape"] = list(spec.shape)
    grid = None
    if config.write_grid or result.xc_grid is None:
        grid = density_on_grid(result, stored_atoms, spec)
        entry["electrons_grid"] = counted = grid.electrons
        tolerance = electron_tolerance(config, atoms.numbers, grid.voxel_vectors, result.electrons)
        where = "grid ∫ρ dV"
    else:  # compact label of a molecule: no grid is written, so check the box on the XC grid instead
        entry["electrons_box"] = counted = electrons_in_box(result, spec.cell, spec.origin)
        tolerance = (config.electron_tolerance or VALENCE_ELECTRON_TOLERANCE) * result.electrons  # no aliasing
        where = "∫ρ dV over the box (XC grid)"
    entry["electron_tolerance"] = tolerance
    entry["grid_seconds"] = round(time.perf_counter() - start, 3)
    exact = abs(entry["electrons_dm"] - result.electrons) <= 1e-4 * result.electrons
    if abs(counted - result.electrons) > tolerance or not exact:
        return _failed(
            entry,
            f"electron count check failed: {where} = {counted:.5f}, "
            f"Tr(DS) = {entry['electrons_dm']:.5f}, "
            f"expected {result.electrons} ± {tolerance:.3g} (grid too coarse or box too small?)",
        )

    files = output_files(name, periodic, config)
    settings = config.density_settings()
    for file_name in files:
        path = out / file_name
        if file_name.endswith(COMPACT_SUFFIX):
            compact = CompactDensity.from_scf(result, stored_atoms, spec, settings)
            compact.save(path)
        else:
            write_density(path, grid)
    entry.update(status="done", files=files)
    return entry


def electrons_in_box(result: Any, cell: np.ndarray, origin: np.ndarray) -> float:
    """∫ρ dV over the label box (Å) on the SCF's XC integration grid (molecules): what a density grid over
    the box would hold, without evaluating one."""
    from rhograph.labels.evaluate import bohr, evaluate_density

    coords, weights = result.xc_grid
    points = coords * bohr()  # (M, 3) Å
    fractional = (points - origin) @ np.linalg.inv(cell)
    inside = np.all((fractional >= 0.0) & (fractional < 1.0), axis=1)
    rho = evaluate_density(result.system, result.dm, points[inside])  # e/Å³
    return float(np.dot(weights[inside], rho) * bohr() ** 3)


# ---------------------------------------------------------------------------------------------- pool


@dataclass
class LabelReport:
    """What a labelling run did.

    Args:
        done: names labelled in this run.
        skipped: names finished in an earlier run (not recomputed).
        failed: name -> reason for every structure that failed in this run.
        seconds: wall time of the run.
    """

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def _format_duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _init_worker(threads: int) -> None:
    _set_threads(threads)


def _set_threads(threads: int) -> int | None:
    """Set PySCF's OpenMP threads (if PySCF is installed); returns the previous count. GPAW (no MPI here)
    runs its BLAS with the thread-count variables of the environment (see :func:`_thread_environment`)."""
    try:
        from pyscf import lib
    except ImportError:
        return None
    previous = lib.num_threads()
    lib.num_threads(threads)
    return previous


def _run_task(task: tuple[str, ase.Atoms, str, LabelConfig, str | None]) -> tuple[str, dict[str, Any]]:
    name = task[0]
    return name, label_structure(*task)


@contextlib.contextmanager
def _thread_environment(threads: int) -> Iterator[None]:
    """Thread-count variables for child processes started inside the block (restored afterwards)."""
    saved = {key: os.environ.get(key) for key in _THREAD_VARIABLES}
    os.environ.update({key: str(threads) for key in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _results(
    tasks: list[tuple[str, ase.Atoms, str, LabelConfig, str | None]],
    workers: int,
    threads: int,
    scheduler: str | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Label the tasks, yielding ``(name, entry)`` as each finishes (in-process for one worker, a process pool
    for several, or Dask workers with ``scheduler``)."""
    if scheduler is not None:
        yield from _dask_results(tasks, workers, threads, scheduler)
        return
    if workers == 1:
        previous = _set_threads(threads)
        try:
            for task in tasks:
                yield _run_task(task)
        finally:
            if previous is not None:
                _set_threads(previous)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork after OpenMP/BLAS threads started
    with _thread_environment(threads):
        pool = context.Pool(workers, initializer=_init_worker, initargs=(threads,))
    try:
        yield from pool.imap_unordered(_run_task, tasks)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _threaded_task(task: tuple[str, ase.Atoms, str, LabelConfig, str | None], threads: int) -> tuple[str, dict]:
    """One task on a Dask worker, with ``threads`` OpenMP/BLAS threads for PySCF."""
    _set_threads(threads)
    return _run_task(task)


def _dask_results(
    tasks: list[tuple[str, ase.Atoms, str, LabelConfig, str | None]], workers: int, threads: int, scheduler: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Label the tasks on a Dask cluster: ``scheduler="local"`` starts a local cluster of ``workers``
    processes; any other value is the address of a running scheduler (e.g. one of dask-jobqueue's
    ``SLURMCluster``). Each worker writes its structure's files (atomically) into the output directory, which
    must be on a file system the workers share; this process records the manifest as results arrive, so an
    interrupted run resumes like a local one."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise ImportError("labelling on Dask needs dask.distributed: pip install 'rhograph[dist]'") from exc
    cluster = None
    if scheduler == "local":
        with _thread_environment(threads):
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
            )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    log.info("labelling on Dask: %s", client)
    futures = [client.submit(_threaded_task, task, threads, key=f"label-{task[0]}", pure=False) for task in tasks]
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()


def label_structures(
    structures: Sequence[NamedStructure],
    out_dir: str | os.PathLike[str],
    config: LabelConfig,
    *,
    workers: int | None = None,
    threads: int | None = None,
    scheduler: str | None = None,
) -> LabelReport:
    """Label structures into ``out_dir`` (resumable; see the module docstring).

    Args:
        structures: the structures and their output names (unique).
        out_dir: output directory (created); holds the density files and ``manifest.json``.
        config: label settings.
        workers: processes (default: as many as cores allow with ``threads`` each).
        threads: OpenMP/BLAS threads per process (default: cores // workers).
        scheduler: run the calculations on Dask: ``"local"`` (a local cluster of ``workers`` processes) or
            the address of a Dask scheduler (``tcp://host:8786``); see docs/labels.md. ``None``: a local
            process pool.

    Raises:
        DensityFileError: ``out_dir`` was labelled before with other density settings.
        StructureError: two structures share a name.
        RunDirLockedError: another labelling process is writing into ``out_dir`` (``label.lock``; a lock
            left by a process that died is taken over).
    """
    import_code(config.code)
    check_unique(list(structures))
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with DirectoryLock(out, LOCK_NAME, "labelling run"):  # one labelling process per directory
        return _label_locked(structures, out, config, workers, threads, scheduler, start)


def _label_locked(
    structures: Sequence[NamedStructure],
    out: Path,
    config: LabelConfig,
    workers: int | None,
    threads: int | None,
    scheduler: str | None,
    start: float,
) -> LabelReport:
    manifest = Manifest.open(out, config.density_settings())
    report = LabelReport()
    tasks = []
    for item in structures:
        periodic = bool(item.atoms.pbc.all())
        if manifest.is_done(item.name, output_files(item.name, periodic, config)):
            report.skipped.append(item.name)
        else:
            tasks.append((item.name, item.atoms, os.fspath(out), config, item.source))
    if not tasks:
        log.info("all %d structures already labelled in %s", len(structures), out)
        report.seconds = time.perf_counter() - start
        return report
    workers, threads = plan_workers(len(tasks), workers, threads)
    log.info(
        "labelling %d structures (%d already done) into %s with %d worker(s) × %d thread(s): %s",
        len(tasks), len(report.skipped), out, workers, threads, config.density_settings(),
    )  # fmt: skip
    run_start = time.perf_counter()
    try:
        _collect(manifest, report, _results(tasks, workers, threads, scheduler), len(tasks), run_start)
    finally:
        manifest.save()
    report.seconds = time.perf_counter() - start
    log.info(
        "labelling finished in %s: %d done, %d skipped, %d failed",
        _format_duration(report.seconds), len(report.done), len(report.skipped), len(report.failed),
    )  # fmt: skip
    return report


def _collect(
    manifest: Manifest,
    report: LabelReport,
    results: Iterator[tuple[str, dict[str, Any]]],
    total: int,
    run_start: float,
) -> None:
    """Record results as they arrive and log progress with rate and ETA."""
    for count, (name, entry) in enumerate(results, start=1):
        if entry["status"] == "done":  # every code's files, hashed once, before the entry is on disk
            entry["sha256"] = manifest.checksums(entry.get("files", []))
        manifest.record(name, entry, min_interval=MANIFEST_INTERVAL)
        if entry["status"] == "done":
            report.done.append(name)
        else:
            report.failed[name] = entry.get("reason", "unknown")
            log.warning("%s: FAILED, %s", name, report.failed[name])
        elapsed = time.perf_counter() - run_start
        rate = count / elapsed
        eta = (total - count) / rate
        log.info(
            "labelled %d/%d (%s %s, scf %.1f s, grid %.1f s); %.2f structures/min, ETA %s",
            count, total, name, entry["status"], entry.get("scf_seconds", 0.0),
            entry.get("grid_seconds", 0.0), 60.0 * rate, _format_duration(eta),
        )  # fmt: skip
