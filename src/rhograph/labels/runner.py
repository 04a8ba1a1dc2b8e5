"""Label many structures: SCF, density grid, electron-count check, files, manifest — in parallel, resumable.

:func:`label_structure` does one structure (in any process) and returns its manifest entry;
:func:`label_structures` runs a process pool over many, skips those finished in an earlier run, records
each result in ``manifest.json`` as soon as it arrives and logs progress with rate and ETA.

A structure fails — is recorded as failed and gets no output file — when its SCF does not converge, its
grid integral misses the electron count (see :mod:`rhograph.labels.grids`), or PySCF cannot set it up.

Output names: molecules ``<name>.cube``, periodic cells ``<name>_CHGCAR`` (plus the compression suffix),
compact labels ``<name>.dm.npz``; the layouts that :class:`rhograph.io.dataset.DensityDataset` reads.
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

from rhograph.errors import StructureError
from rhograph.labels.compact import COMPACT_SUFFIX, CompactDensity
from rhograph.labels.config import LabelConfig
from rhograph.labels.manifest import Manifest
from rhograph.labels.structures import NamedStructure, check_unique

log = logging.getLogger(__name__)

#: seconds between manifest rewrites while results arrive (it is always written at the end)
MANIFEST_INTERVAL = 5.0
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def output_files(name: str, periodic: bool, config: LabelConfig) -> list[str]:
    """File names (in the output directory) that labelling ``name`` writes."""
    files = []
    if config.write_grid:
        files.append((f"{name}_CHGCAR" if periodic else f"{name}.cube") + (config.compression or ""))
    if config.write_compact:
        files.append(name + COMPACT_SUFFIX)
    return files


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
        raise ValueError(f"workers must be >= 1, got {workers}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
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
        grid_shape,
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
    )
    if not result.converged:
        return _failed(entry, f"SCF did not converge in {config.max_cycle} cycles (last energy {result.energy:.8f} Ha)")

    start = time.perf_counter()
    cell, origin = label_geometry(atoms, config, periodic)
    shape = grid_shape(cell, config.spacing)
    stored_atoms = labelled_atoms(atoms, cell, periodic)
    grid = density_on_grid(result, stored_atoms, cell, origin, shape)
    entry["electrons_dm"] = dm_electrons(result.system, result.dm, result.kpts)
    entry["electrons_grid"] = grid.electrons
    tolerance = electron_tolerance(config, atoms.numbers, grid.voxel_vectors, result.electrons)
    entry["electron_tolerance"] = tolerance
    entry["grid_shape"] = list(shape)
    entry["grid_seconds"] = round(time.perf_counter() - start, 3)
    deviation = grid.electrons - result.electrons
    if abs(deviation) > tolerance or abs(entry["electrons_dm"] - result.electrons) > 1e-4 * result.electrons:
        return _failed(
            entry,
            f"electron count check failed: grid ∫ρ dV = {grid.electrons:.5f}, "
            f"Tr(DS) = {entry['electrons_dm']:.5f}, "
            f"expected {result.electrons} ± {tolerance:.3g} (grid too coarse or box too small?)",
        )

    files = output_files(name, periodic, config)
    settings = config.density_settings()
    for file_name in files:
        path = out / file_name
        if file_name.endswith(COMPACT_SUFFIX):
            compact = CompactDensity.from_scf(result, stored_atoms, cell, origin, shape, settings)
            compact.save(path)
        else:
            write_density(path, grid)
    entry.update(status="done", files=files)
    return entry


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
    from pyscf import lib

    lib.num_threads(threads)


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
        from pyscf import lib

        previous = lib.num_threads()
        lib.num_threads(threads)
        try:
            for task in tasks:
                yield _run_task(task)
        finally:
            lib.num_threads(previous)
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
    from pyscf import lib

    lib.num_threads(threads)
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
    """
    from rhograph.labels.scf import import_pyscf

    import_pyscf()
    check_unique(list(structures))
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
