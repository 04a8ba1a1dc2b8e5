"""Learning-rate schedule of the paper: exponential decay in the gradient step.

    lr(s) = lr₀ · decay^(s / decay_steps)        (the paper: lr₀ = 1e-4, decay = 0.96, decay_steps = 1e5)

The multiplier is a picklable object, so ``LambdaLR.state_dict()`` records it and a resumed run continues
with the same schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rhograph.errors import ConfigError


@dataclass(frozen=True)
class ExponentialDecay:
    """Multiplier ``decay^(step / decay_steps)`` of the initial learning rate (for ``LambdaLR``).

    Args:
        decay: factor per ``decay_steps`` steps (0 < decay; 1 = constant).
        decay_steps: steps over which the rate is multiplied by ``decay``.
    """

    decay: float = 0.96
    decay_steps: int = 100_000

    def __post_init__(self) -> None:
        if not self.decay > 0 or not self.decay_steps > 0:
            raise ConfigError(f"decay and decay_steps must be > 0, got {self.decay}, {self.decay_steps}")

    def __call__(self, step: int) -> float:
        return float(self.decay ** (step / self.decay_steps))


def make_scheduler(
    optimizer: torch.optim.Optimizer, decay: float, decay_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` stepping once per gradient step with :class:`ExponentialDecay`."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, ExponentialDecay(decay, decay_steps))
