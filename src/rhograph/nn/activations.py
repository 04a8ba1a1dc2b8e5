"""Activation functions of the invariant (SchNet-like) DeepDFT model."""

from __future__ import annotations

import math

import torch
from torch import nn

_LN2 = math.log(2.0)


def shifted_softplus(x: torch.Tensor) -> torch.Tensor:
    """``ssp(x) = softplus(x) − ln 2`` (zero at ``x = 0``)."""
    return nn.functional.softplus(x) - _LN2


class ShiftedSoftplus(nn.Module):
    """Shifted softplus activation.

    .. math:: \\mathrm{ssp}(x) = \\ln(1 + e^{x}) - \\ln 2

    Shapes:
        input: any shape; output: the same shape.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return shifted_softplus(x)
