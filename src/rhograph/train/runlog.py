"""Training logs: CSV files (always), TensorBoard (if installed), progress lines and the learning-curve PNG.

CSV files are rewritten through :func:`rhograph.io.atomic.atomic_open` only when a resumed run truncates
them; rows are appended and flushed otherwise (a kill leaves complete rows, possibly a few steps beyond
the last checkpoint — :meth:`CSVLog.truncate_after` drops those on resume).
"""

from __future__ import annotations

import csv
import datetime
import logging
import time
from pathlib import Path
from typing import Any

from rhograph.io.atomic import atomic_open, atomic_path

log = logging.getLogger(__name__)

#: data-wait fraction of a log interval above which a run warns (once)
WAIT_WARNING = 0.05
#: seconds between redraws of the learning-curve PNG
PLOT_INTERVAL_S = 60.0

TRAIN_FIELDS = ("step", "loss", "lr", "steps_per_s", "data_wait_frac", "elapsed_s")
VAL_FIELDS = ("step", "val_mae", "val_rmse", "val_nmae", "best_val_mae", "is_best")


class CSVLog:
    """A CSV file with a fixed header, appended one row at a time.

    Args:
        path: file path; created with a header if missing.
        fields: column names (the first must be ``step``).
    """

    def __init__(self, path: Path, fields: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.fields = fields
        if not self.path.exists() or self.path.stat().st_size == 0:
            with atomic_open(self.path, "w") as fh:
                csv.writer(fh).writerow(fields)

    def append(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow([_fmt(row.get(name, "")) for name in self.fields])

    def rows(self) -> list[dict[str, str]]:
        with open(self.path, newline="", encoding="utf-8") as fh:
            return [row for row in csv.DictReader(fh) if row.get("step")]

    def truncate_after(self, step: int) -> int:
        """Drop rows with ``step > step`` (written after the checkpoint a run resumes from). Returns the
        number of dropped rows."""
        rows = self.rows()
        keep = [row for row in rows if int(row["step"]) <= step]
        if len(keep) != len(rows):
            with atomic_open(self.path, "w") as fh:
                writer = csv.DictWriter(fh, fieldnames=self.fields, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(keep)
        return len(rows) - len(keep)


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.9g}"
    return value


def open_tensorboard(log_dir: Path, purge_step: int | None) -> Any | None:
    """A ``SummaryWriter`` if tensorboard is installed, else ``None``. ``purge_step`` drops events at or
    after that step (left behind by a killed run that is being resumed)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.info("tensorboard is not installed; writing CSV logs only (pip install 'rhograph[tensorboard]')")
        return None
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)


def format_duration(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    return str(datetime.timedelta(seconds=round(seconds)))


class Progress:
    """Rate and ETA over the steps since the last report.

    Args:
        start_step: step the run (or resumed run) starts at; max_steps: final step.
    """

    def __init__(self, start_step: int, max_steps: int) -> None:
        self.max_steps = max_steps
        self.start_time = time.perf_counter()
        self._last_time = self.start_time
        self._last_step = start_step
        self._wait = 0.0

    def restart(self) -> None:
        """Start the current interval now (after the first batch, whose wait is start-up)."""
        self._last_time = time.perf_counter()

    def add_wait(self, seconds: float) -> None:
        self._wait += seconds

    def report(self, step: int) -> dict[str, float]:
        """Steps per second, data-wait fraction and ETA since the previous report; resets the interval."""
        now = time.perf_counter()
        elapsed = max(now - self._last_time, 1e-9)
        rate = (step - self._last_step) / elapsed
        out = {
            "steps_per_s": rate,
            "data_wait_frac": self._wait / elapsed,
            "eta_s": (self.max_steps - step) / rate if rate > 0 else float("inf"),
            "elapsed_s": now - self.start_time,
        }
        self._last_time, self._last_step, self._wait = now, step, 0.0
        return out


def plot_learning_curve(val_rows: list[dict[str, str]], path: Path) -> None:
    """Validation MAE and NMAE vs step (log scale), written atomically as PNG."""
    if not val_rows:
        return
    from matplotlib.figure import Figure

    steps = [int(r["step"]) for r in val_rows]
    fig = Figure(figsize=(6.0, 4.0), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(steps, [float(r["val_mae"]) for r in val_rows], "o-", label="MAE (e/Å³)")
    ax.plot(steps, [float(r["val_rmse"]) for r in val_rows], "s--", label="RMSE (e/Å³)")
    ax.set_xlabel("gradient step")
    ax.set_ylabel("validation error (e/Å³)")
    ax.set_yscale("log")
    ax2 = ax.twinx()
    ax2.plot(steps, [100.0 * float(r["val_nmae"]) for r in val_rows], "^:", color="tab:red", label="NMAE (%)")
    ax2.set_ylabel("validation NMAE (%)")
    ax2.set_yscale("log")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper right")
    ax.set_title("validation error vs step")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


class RunLogs:
    """The logs rank 0 keeps in the run directory: CSVs, TensorBoard, learning curve and progress lines.

    Args:
        run_dir: the run directory.
        max_steps: final step (for the ETA in progress lines).
        tensorboard: also write TensorBoard events (if the package is installed).
        resume_step: step of the checkpoint a resumed run starts from (rows and events after it are
            dropped), ``None`` for a new run.
        wait_hint: advice appended to the one-time warning when training waits for data.
    """

    def __init__(
        self, run_dir: Path, *, max_steps: int, tensorboard: bool, resume_step: int | None, wait_hint: str
    ) -> None:
        from rhograph.train import rundir

        self.max_steps = max_steps
        self.curve_path = run_dir / rundir.CURVE_NAME
        self.train = CSVLog(run_dir / rundir.TRAIN_LOG_NAME, TRAIN_FIELDS)
        self.val = CSVLog(run_dir / rundir.VAL_LOG_NAME, VAL_FIELDS)
        if resume_step is not None:
            dropped = self.train.truncate_after(resume_step) + self.val.truncate_after(resume_step)
            if dropped:
                log.info("dropped %d log rows written after the checkpoint at step %d", dropped, resume_step)
        purge = resume_step + 1 if resume_step is not None else None
        self.tensorboard = open_tensorboard(run_dir / rundir.TENSORBOARD_DIR, purge) if tensorboard else None
        self.wait_hint = wait_hint
        self._warned_wait = False
        self._last_plot = -float("inf")

    def train_row(self, step: int, loss: float, lr: float, stats: dict[str, float]) -> None:
        """Append a ``train_log.csv`` row and print the progress line."""
        row = {"step": step, "loss": loss, "lr": lr, **stats}
        self.train.append(row)
        if self.tensorboard is not None:
            for name in ("loss", "lr", "steps_per_s", "data_wait_frac"):
                self.tensorboard.add_scalar(f"train/{name}", row[name], step)
        log.info(
            "step %d/%d  loss %.4g  lr %.3g  %.2f steps/s  data wait %.1f %%  ETA %s",
            step,
            self.max_steps,
            loss,
            lr,
            stats["steps_per_s"],
            100 * stats["data_wait_frac"],
            format_duration(stats["eta_s"]),
        )
        if stats["data_wait_frac"] > WAIT_WARNING and not self._warned_wait:
            self._warned_wait = True
            log.warning(
                "training waited for data %.0f %% of the time; %s", 100 * stats["data_wait_frac"], self.wait_hint
            )

    def val_row(self, step: int, metrics: dict[str, float], best: float, improved: bool, seconds: float) -> None:
        """Append a ``val_log.csv`` row, log it, and redraw the learning curve (at most once a minute)."""
        self.val.append({"step": step, **metrics, "best_val_mae": best, "is_best": int(improved)})
        if self.tensorboard is not None:
            for name, value in metrics.items():
                self.tensorboard.add_scalar(f"val/{name.removeprefix('val_')}", value, step)
        log.info(
            "validation at step %d: MAE %.4g e/Å³  RMSE %.4g e/Å³  NMAE %.3f %%%s (%.1f s)",
            step,
            metrics["val_mae"],
            metrics["val_rmse"],
            100 * metrics["val_nmae"],
            "  (best)" if improved else "",
            seconds,
        )
        if time.perf_counter() - self._last_plot > PLOT_INTERVAL_S:
            self.plot()

    def plot(self) -> None:
        plot_learning_curve(self.val.rows(), self.curve_path)
        self._last_plot = time.perf_counter()

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None
