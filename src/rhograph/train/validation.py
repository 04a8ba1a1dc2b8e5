"""Validation on fixed probes: chosen once per structure with a seed, evaluated every ``val_every`` steps.

Metrics over all validation probes (``N`` probes in ``S`` structures, ρ the target and ρ̂ the prediction,
both in e/Å³):

    MAE  = Σ|ρ − ρ̂| / N
    RMSE = sqrt(Σ(ρ − ρ̂)² / N)
    NMAE = (1/S) Σ_structures [ Σ_probes |ρ − ρ̂| / Σ_probes |ρ| ]

NMAE is the paper's ε_mae (eq. 1) estimated on the uniformly drawn probes of each structure instead of
the full grid (the voxel volume cancels in the ratio), then averaged over structures. ``best.pt`` is
chosen on MAE.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import ase
import numpy as np
import torch

from rhograph import keys
from rhograph.data import batch_to, collate, make_sample
from rhograph.data.pool import TargetSource
from rhograph.errors import StructureError
from rhograph.train.distributed import DistContext, all_reduce_sum

log = logging.getLogger(__name__)


@dataclass
class ValidationItem:
    """Fixed probes of one validation structure.

    Shapes:
        positions: (num_probes, 3), Å.
        density: (num_probes,), e/Å³.
    """

    index: int
    atoms: ase.Atoms
    positions: np.ndarray
    density: np.ndarray


@dataclass(frozen=True)
class ValidationMetrics:
    """Validation errors; ``mae`` and ``rmse`` in e/Å³, ``nmae`` a fraction (× 100 for %)."""

    mae: float
    rmse: float
    nmae: float
    num_probes: int
    num_structures: int

    def as_dict(self) -> dict[str, float]:
        return {"val_mae": self.mae, "val_rmse": self.rmse, "val_nmae": self.nmae}


def probe_seed(seed: int, index: int) -> int:
    """Seed of the fixed probes of dataset structure ``index`` (independent of the split order)."""
    return int(np.random.SeedSequence([seed, 0x7A1, index]).generate_state(1)[0])


def build_validation_set(
    source: TargetSource, indices: Sequence[int], *, num_probes: int, seed: int, ctx: DistContext
) -> list[ValidationItem]:
    """Load this rank's share of the validation structures (``indices[rank::world_size]``) and fix their
    probes. Grids are dropped after the probes are drawn."""
    items = []
    start = time.perf_counter()
    mine = list(indices)[ctx.rank :: ctx.world_size]
    for index in mine:
        target = source[int(index)]
        positions, density = target.fixed_probes(num_probes, probe_seed(seed, int(index)))
        items.append(
            ValidationItem(
                index=int(index),
                atoms=target.atoms,
                positions=np.asarray(positions, dtype=np.float64),
                density=np.asarray(density, dtype=np.float64),
            )
        )
    log.info(
        "validation set: %d structures × %d fixed probes on this rank (%.1f s)",
        len(items),
        num_probes,
        time.perf_counter() - start,
    )
    return items


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    items: Sequence[ValidationItem],
    *,
    cutoff: float,
    ctx: DistContext,
    structures_per_batch: int = 2,
    dtype: torch.dtype = torch.float32,
    autocast_dtype: torch.dtype | None = None,
) -> ValidationMetrics:
    """Validation metrics of ``model`` over the items of all ranks (sums are all-reduced)."""
    was_training = model.training
    model.eval()
    # abs error, squared error, probes, per-structure NMAE sum, structures
    totals = torch.zeros(5, dtype=torch.float64)
    try:
        for start in range(0, len(items), structures_per_batch):
            chunk = items[start : start + structures_per_batch]
            samples = []
            for item in chunk:
                try:
                    samples.append(
                        make_sample(item.atoms, probe_positions=item.positions, cutoff=cutoff, density=item.density)
                    )
                except StructureError as exc:
                    raise StructureError(f"validation structure {item.index} of the dataset: {exc}") from exc
            batch = batch_to(collate(samples, dtype=dtype), ctx.device)
            with torch.autocast(ctx.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                pred = model(batch)
            err = (pred.double() - batch[keys.DENSITY].double()).cpu()
            target = batch[keys.DENSITY].double().cpu()
            owner = batch[keys.PROBE_BATCH].cpu()
            n = len(chunk)
            abs_per = torch.zeros(n, dtype=torch.float64).index_add_(0, owner, err.abs())
            ref_per = torch.zeros(n, dtype=torch.float64).index_add_(0, owner, target.abs())
            totals += torch.stack(
                [
                    err.abs().sum(),
                    err.square().sum(),
                    torch.tensor(float(err.numel()), dtype=torch.float64),
                    (abs_per / ref_per.clamp_min(1e-300)).sum(),
                    torch.tensor(float(n), dtype=torch.float64),
                ]
            )
    finally:
        model.train(was_training)
    abs_sum, sq_sum, probes, nmae_sum, structures = all_reduce_sum(totals, ctx).tolist()
    if probes == 0:
        raise ValueError("the validation set is empty")
    return ValidationMetrics(
        mae=abs_sum / probes,
        rmse=math.sqrt(sq_sum / probes),
        nmae=nmae_sum / structures,
        num_probes=int(probes),
        num_structures=int(structures),
    )
