"""Evaluate a model on a data set: full-grid prediction of every structure and the paper's error measures.

For each structure (optionally a split part) the density is predicted on exactly the grid of its reference
file and compared voxel by voxel:

* ``nmae`` — ε_mae = ∫|ρ − ρ̂| dV / ∫|ρ| dV in percent (paper eq. 1),
* ``mae`` / ``rmse`` — e/Å³ over the grid points,
* electrons of reference and prediction, points, seconds;
* with an ensemble model (a run folder of members, or several checkpoints): ``nmae_expected``, the ε_mae
  the ensemble expects from its member spread (:func:`~rhograph.models.ensemble.expected_nmae`), next to
  the actual ``nmae``; the summary adds their Pearson and Spearman correlation over the structures.

Results: ``errors.csv`` (one row per structure, written after every structure so a killed run keeps its
rows and ``resume`` skips them), ``summary.json`` (mean, median, p95, max, worst structures),
``error_histogram.png``, and optionally prediction / target / difference cubes of the worst structures.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rhograph.analysis.metrics import mae, nmae, rmse, summarize
from rhograph.inference.model_source import LoadedModel, resolve_model
from rhograph.inference.predict import PredictOptions, device_of, predict
from rhograph.io.atomic import atomic_open

log = logging.getLogger(__name__)

COLUMNS = ("index", "name", "natoms", "points", "nmae", "mae", "rmse", "electrons_ref", "electrons_pred", "seconds")
#: extra column of an ensemble's errors.csv: the expected ε_mae (percent) from the member spread
EXPECTED_COLUMN = "nmae_expected"


@dataclass(frozen=True, kw_only=True)
class EvaluateOptions:
    """What to evaluate.

    Args:
        split: split JSON (train/validation/test index lists) — evaluate only ``part`` of it.
        part: ``test`` (default), ``validation`` or ``train``.
        limit: at most this many structures (first of the selection).
        error_cubes: write prediction / target / difference cubes of this many worst structures.
        resume: keep rows of an existing ``errors.csv`` and skip those structures.
        decompose: also decompose each structure's error over the Bader volumes of each element of the
            reference (paper Table 2): per-structure integrals in ``element_integrals.csv`` and the pooled
            per-element ε_mae and error share in ``elements.csv`` and the summary. Where the data folder holds
            the structure's all-electron density (``all-electron/<name>_AECCAR*`` of GPAW labels), its Bader
            volumes are used (maxima on the nuclei, as VASP's AECCAR0 + AECCAR2 for the paper's Table 2).
    """

    split: str | None = None
    part: str = "test"
    limit: int | None = None
    error_cubes: int = 0
    resume: bool = True
    decompose: bool = False


ELEMENT_COLUMNS = ("index", "element", "abs_error", "abs_reference", "charge", "volume", "atoms")


def all_electron_reference(data: str | os.PathLike[str], name: str) -> Path | None:
    """The all-electron density beside a label, if any: ``DATA/all-electron/<structure>_AECCAR*`` (written by
    ``rhograph label --code gpaw --all-electron``) for the label file ``<structure>_CHGCAR*``."""
    from rhograph.io.atomic import glob_escape

    folder = Path(data) / "all-electron"
    if not folder.is_dir() or "_CHGCAR" not in name:
        return None
    structure = name.split("_CHGCAR")[0]
    found = sorted(folder.glob(f"{glob_escape(structure)}_AECCAR*"))
    return found[0] if found else None


def _pooled_elements(rows: list[dict]):
    """Pool per-structure element integrals (rows of ``element_integrals.csv``) into one decomposition."""
    from rhograph.analysis.decomposition import ElementError, ErrorDecomposition, combine_decompositions

    by_structure: dict[str, dict[str, ElementError]] = {}
    for row in rows:
        by_structure.setdefault(str(row["index"]), {})[row["element"]] = ElementError(
            element=row["element"],
            abs_error=float(row["abs_error"]),
            abs_reference=float(row["abs_reference"]),
            charge=float(row["charge"]),
            volume=float(row["volume"]),
            atoms=int(row["atoms"]),
        )
    return combine_decompositions(ErrorDecomposition(elements=e) for e in by_structure.values())


def _read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write_rows(path: Path, rows: list[dict], columns: tuple[str, ...] = COLUMNS) -> None:
    with atomic_open(path, "w") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def evaluate_dataset(
    data: str | os.PathLike[str],
    model: str | os.PathLike[str] | LoadedModel | None,
    out_dir: str | os.PathLike[str],
    *,
    options: EvaluateOptions | None = None,
    device: str | None = None,
    predict_options: PredictOptions | None = None,
) -> dict:
    """Evaluate ``model`` on the density files of ``data`` (directory, .tar or .txt of tars), or on a folder of
    compact labels (``*.dm.npz``; each reference grid is rebuilt from its label on the grid it was made with).

    Returns:
        the summary dict also written to ``summary.json``.
    """
    from rhograph.analysis.plots import plot_error_histogram
    from rhograph.data.splits import load_split
    from rhograph.io.dataset import DensityDataset
    from rhograph.io.formats import write_density
    from rhograph.labels.compact import is_compact_folder

    options = options or EvaluateOptions()
    predict_options = predict_options or PredictOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if is_compact_folder(data):  # compact labels: each reference grid is rebuilt from its density matrix
        from rhograph.labels.compact import CompactGrids

        dataset = CompactGrids(data)
    else:
        dataset = DensityDataset(data)
    indices = list(range(len(dataset)))
    if options.split:
        split = load_split(options.split)
        split.check(len(dataset), where=str(options.split))
        indices = list(getattr(split, options.part))
    if options.limit is not None:
        indices = indices[: options.limit]
    dev = device_of(device)
    loaded = model if isinstance(model, LoadedModel) else resolve_model(model, device=dev)
    columns = COLUMNS
    if loaded.is_ensemble:
        from dataclasses import replace

        predict_options = replace(predict_options, uncertainty=True)
        columns = (*COLUMNS, EXPECTED_COLUMN)

    csv_path = out / "errors.csv"
    element_path = out / "element_integrals.csv"
    rows = _read_rows(csv_path) if options.resume else []
    element_rows = _read_rows(element_path) if options.resume else []
    # resume by structure name, not position: a data folder that has grown since (a growing label set)
    # shifts the positions; rows of structures no longer selected are dropped
    wanted = {dataset.names[i]: i for i in indices}
    name_of = {int(row["index"]): row["name"] for row in rows}  # positions as they were written
    rows = [row for row in rows if row["name"] in wanted]
    for row in rows:
        row["index"] = wanted[row["name"]]
    element_rows = [row for row in element_rows if name_of.get(int(row["index"])) in wanted]
    for row in element_rows:
        row["index"] = wanted[name_of[int(row["index"])]]
    done = {row["name"] for row in rows}
    todo = [i for i in indices if dataset.names[i] not in done]
    log.info("evaluating %d structures (%d already done) with %s", len(todo), len(done), loaded.name)
    t_start = time.perf_counter()
    for count, index in enumerate(todo, 1):
        reference = dataset[index]
        t0 = time.perf_counter()
        pred = predict(
            reference.atoms, loaded, like=reference, options=predict_options, device=dev, source=dataset.names[index]
        )
        seconds = time.perf_counter() - t0
        dv = reference.voxel_volume
        rows.append(
            {
                "index": index,
                "name": dataset.names[index],
                "natoms": len(reference.atoms),
                "points": reference.num_points,
                "nmae": nmae(reference.values, pred.values, dv),
                "mae": mae(reference.values, pred.values),
                "rmse": rmse(reference.values, pred.values),
                "electrons_ref": reference.electrons,
                "electrons_pred": pred.electrons,
                "seconds": seconds,
            }
        )
        if loaded.is_ensemble:
            rows[-1][EXPECTED_COLUMN] = pred.expected_nmae
        if options.decompose:
            from rhograph.analysis.decomposition import decompose_error

            volumes = None
            all_electron = all_electron_reference(data, dataset.names[index])
            if all_electron is not None:  # Bader volumes of the all-electron density (maxima on the nuclei)
                from rhograph.analysis.bader import bader
                from rhograph.io.formats import read_density

                partition = read_density(all_electron, pbc=reference.atoms.pbc)
                volumes = bader(reference, valence=reference.atoms.numbers, partition=partition)
            decomposition = decompose_error(reference, pred, volumes=volumes)
            element_rows = [r for r in element_rows if int(r["index"]) != index]
            element_rows += [{"index": index, **vars(e)} for e in decomposition.elements.values()]
            _write_rows(element_path, element_rows, ELEMENT_COLUMNS)
        _write_rows(csv_path, rows, columns)
        elapsed = time.perf_counter() - t_start
        eta = elapsed / count * (len(todo) - count)
        expected = f" (expected {rows[-1][EXPECTED_COLUMN]:.3f} %)" if loaded.is_ensemble else ""
        log.info(
            "%d/%d %s: nmae %.3f %%%s (%.1f s; ETA %.0f s)",
            count,
            len(todo),
            dataset.names[index],
            float(rows[-1]["nmae"]),
            expected,
            seconds,
            eta,
        )

    errors = np.array([float(row["nmae"]) for row in rows])
    names = [row["name"] for row in rows]
    summary = summarize(errors, names) if len(rows) else {"count": 0}
    summary["model"] = loaded.name
    if loaded.is_ensemble and rows:
        summary["uncertainty"] = _uncertainty_summary(rows)
    summary["data"] = str(data)
    if options.decompose and element_rows:
        pooled = _pooled_elements(element_rows)
        table = pooled.rows()
        _write_rows(out / "elements.csv", table, tuple(table[0]))
        summary["elements"] = {
            row["element"]: {"nmae": row["nmae"], "error_share": row["error_share"]} for row in table
        }
    with atomic_open(out / "summary.json", "w") as fh:
        json.dump(summary, fh, indent=2)
    if len(rows):
        plot_error_histogram(out / "error_histogram.png", errors, label="ε_mae per structure (%)")

    if options.error_cubes > 0 and rows:
        worst = sorted(rows, key=lambda r: float(r["nmae"]), reverse=True)[: options.error_cubes]
        for row in worst:
            reference = dataset[int(row["index"])]
            pred = predict(reference.atoms, loaded, like=reference, options=predict_options, device=dev)
            stem = Path(row["name"]).name.split(".")[0]
            write_density(out / f"{stem}.target.cube", reference)
            write_density(out / f"{stem}.prediction.cube", pred)
            write_density(out / f"{stem}.difference.cube", reference.with_values(pred.values - reference.values))
            if "std" in pred.fields:
                write_density(out / f"{stem}.std.cube", reference.with_values(pred.fields["std"]))
    return summary


def _uncertainty_summary(rows: list[dict]) -> dict:
    """Expected vs actual ε_mae over the structures of an ensemble evaluation (rows from errors.csv)."""
    from rhograph.analysis.uncertainty import correlations

    pairs = [(row.get(EXPECTED_COLUMN), row["nmae"]) for row in rows]
    pairs = [(float(e), float(a)) for e, a in pairs if e not in (None, "")]
    if not pairs:
        return {"count": 0}
    expected, actual = (np.array(v) for v in zip(*pairs, strict=True))
    return {
        "expected_nmae_mean": float(expected.mean()),
        "actual_nmae_mean": float(actual.mean()),
        **{f"{key}_per_structure": value for key, value in correlations(expected, actual).items()},
    }
