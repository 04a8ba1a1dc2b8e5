"""An ensemble of density models behind the :class:`~rhograph.models.density_model.DensityModel` interface.

:class:`EnsembleModel` holds K members of one cutoff (any architectures). ``encode_atoms`` encodes the atoms
with every member; ``decode_probes`` returns the member mean

    ρ̄(r) = (1/K) Σ_k ρ_k(r),

so :class:`~rhograph.inference.engine.GridPredictor`, derived fields and evaluation take an ensemble as they
take one model. :meth:`EnsembleModel.decode_probes_with_std` also returns the member spread

    σ(r) = sqrt( Σ_k (ρ_k(r) − ρ̄(r))² / (K − 1) )

(the sample standard deviation, unbiased variance), the per-voxel uncertainty that ``rhograph predict
--uncertainty`` writes. :func:`expected_nmae` turns it into the expected ε_mae of the prediction.

An ensemble is loaded from a training run folder that holds members (``RUN/member-0 … member-{K-1}``, as
written by ``rhograph train --ensemble K``; each member's ``best.pt``, else ``last.pt``) or from a list of
checkpoints: :func:`member_checkpoints` finds them, :func:`rhograph.inference.model_source.resolve_model`
loads them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
from torch import nn

from rhograph.errors import CheckpointError, ConfigError, IncompatibleInputsError
from rhograph.models.states import AtomStates

if TYPE_CHECKING:
    from rhograph.models.config import ModelConfig
    from rhograph.models.density_model import DensityModel

__all__ = [
    "MEMBER_PREFIX",
    "EnsembleModel",
    "EnsembleStates",
    "expected_nmae",
    "is_ensemble_dir",
    "member_checkpoints",
    "member_dir",
]

#: members of an ensemble run are the folders ``RUN/member-0``, ``RUN/member-1``, ...
MEMBER_PREFIX = "member-"
_MEMBER_RE = re.compile(rf"^{MEMBER_PREFIX}(\d+)$")
#: E|e| = σ·sqrt(2/π) for a normally distributed error e of standard deviation σ
HALF_NORMAL_MEAN = math.sqrt(2.0 / math.pi)


def member_dir(run_dir: str | os.PathLike[str], index: int) -> Path:
    """``RUN/member-{index}``."""
    return Path(run_dir) / f"{MEMBER_PREFIX}{index}"


def _member_folders(run_dir: Path) -> list[tuple[int, Path]]:
    found = []
    for child in run_dir.iterdir() if run_dir.is_dir() else ():
        match = _MEMBER_RE.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found)


def is_ensemble_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding ``member-N`` sub-folders (an ensemble training run)."""
    return bool(_member_folders(Path(path)))


def member_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The checkpoint of every member of an ensemble run: ``member-k/best.pt``, else ``member-k/last.pt``.

    Raises:
        CheckpointError: no members, a gap in the member numbers, or a member without a checkpoint.
    """
    run_dir = Path(run_dir)
    folders = _member_folders(run_dir)
    if not folders:
        raise CheckpointError(run_dir, f"holds no ensemble members ({MEMBER_PREFIX}0, {MEMBER_PREFIX}1, ... folders)")
    indices = [index for index, _ in folders]
    if indices != list(range(len(indices))):
        raise CheckpointError(run_dir, f"ensemble member folders are not numbered 0..K-1 (found {indices})")
    paths = []
    for _, folder in folders:
        for name in ("best.pt", "last.pt"):
            if (folder / name).is_file():
                paths.append(folder / name)
                break
        else:
            raise CheckpointError(folder, "ensemble member has no best.pt or last.pt (not trained yet? resume the run)")
    return paths


class EnsembleStates(list):
    """Per-member :class:`~rhograph.models.states.AtomStates` of one batch (what
    :meth:`EnsembleModel.encode_atoms` returns)."""

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> EnsembleStates:
        return EnsembleStates(states.apply(fn) for states in self)

    def to(self, device: torch.device | str) -> EnsembleStates:
        return self.apply(lambda t: t.to(device))

    def detach(self) -> EnsembleStates:
        return self.apply(torch.Tensor.detach)


class EnsembleModel(nn.Module):
    """K density models whose mean is the prediction and whose spread is its uncertainty.

    ``ρ̄ = mean_k ρ_k`` (``decode_probes``, ``forward``); ``σ = std_k ρ_k`` with the ``K − 1`` (unbiased
    variance) normalisation (:meth:`decode_probes_with_std`).

    Args:
        members: two or more :class:`~rhograph.models.density_model.DensityModel` with the same cutoff (the
            graphs are built once for all of them); architectures and widths may differ.
        names: where each member came from (for messages and the model card).

    Shapes:
        batch: as :class:`~rhograph.models.density_model.DensityModel`; ``decode_probes`` → ``(M,)``,
        :meth:`decode_members` → ``(K, M)``, in e/Å³.

    Raises:
        ValueError: fewer than two members or members of different cutoffs.
    """

    def __init__(self, members: Sequence[DensityModel], names: Sequence[str] | None = None) -> None:
        super().__init__()
        members = list(members)
        names = [f"member {k}" for k in range(len(members))] if names is None else [str(n) for n in names]
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs at least 2 members, got {len(members)}")
        if len(names) != len(members):
            raise ValueError(f"{len(names)} names for {len(members)} ensemble members")
        cutoffs = {float(m.config.cutoff) for m in members}
        if len(cutoffs) > 1:
            detail = ", ".join(f"{name}: {float(m.config.cutoff)} Å" for name, m in zip(names, members, strict=True))
            raise IncompatibleInputsError(f"ensemble members must share one cutoff, got {detail}")
        self.members = nn.ModuleList(members)
        self.names = names

    @property
    def models(self) -> list[DensityModel]:
        """The members."""
        return [cast("DensityModel", member) for member in self.members]

    @property
    def config(self) -> ModelConfig:
        """The first member's :class:`~rhograph.models.config.ModelConfig` (all members share its cutoff)."""
        return self.models[0].config

    @property
    def size(self) -> int:
        """Number of members K."""
        return len(self.members)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def encode_atoms(self, batch: dict[str, torch.Tensor]) -> EnsembleStates:
        """Every member's atom states."""
        return EnsembleStates(member.encode_atoms(batch) for member in self.models)

    def decode_members(
        self, states: Sequence[AtomStates], batch: dict[str, torch.Tensor], *, raw: bool = False
    ) -> torch.Tensor:
        """Every member's density ``(K, num_probes)`` in e/Å³."""
        return torch.stack(
            [member.decode_probes(s, batch, raw=raw) for member, s in zip(self.models, states, strict=True)]
        )

    def decode_probes(
        self,
        atom_states: Sequence[AtomStates],
        batch: dict[str, torch.Tensor],
        probe_forward: Callable[..., torch.Tensor] | None = None,
        *,
        raw: bool = False,
    ) -> torch.Tensor:
        """Member-mean density ``(num_probes,)`` in e/Å³. (``probe_forward``, a compiled decoder of one model,
        is not supported.)"""
        if probe_forward is not None:
            raise ConfigError("a compiled probe decoder cannot be used with an ensemble; predict without compile")
        return self.decode_members(atom_states, batch, raw=raw).mean(dim=0)

    def decode_probes_with_std(
        self, atom_states: Sequence[AtomStates], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean (M,), std (M,))`` over the members, e/Å³ (std with the K − 1 normalisation)."""
        values = self.decode_members(atom_states, batch)
        return values.mean(dim=0), values.std(dim=0, correction=1)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.decode_probes(self.encode_atoms(batch), batch)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return f"K={self.size}, cutoff {float(self.config.cutoff)} Å"


def expected_nmae(mean: np.ndarray, std: np.ndarray) -> float:
    """Expected ε_mae (percent) of a prediction with per-voxel uncertainty ``std``.

    If the error of every voxel is normal with standard deviation σ_v, ``E|e_v| = σ_v · sqrt(2/π)``, so

        ε_mae ≈ sqrt(2/π) · ∫σ dV / ∫|ρ̄| dV = sqrt(2/π) · Σ_v σ_v / Σ_v |ρ̄_v|

    on a uniform grid (the voxel volume cancels, as in ε_mae itself; the reference density in the
    denominator is replaced by the prediction ρ̄). Sums in float64.
    """
    denominator = float(np.abs(np.asarray(mean, dtype=np.float64)).sum())
    if denominator <= 0.0:
        return float("nan")
    return 100.0 * HALF_NORMAL_MEAN * float(np.asarray(std, dtype=np.float64).sum()) / denominator
