"""Two-layer perceptrons as ``nn.Sequential`` (parameter names ``0.*`` and ``2.*``, as in the released models)."""

from __future__ import annotations

from torch import nn


def two_layer_mlp(
    in_features: int,
    hidden_features: int,
    out_features: int,
    activation: nn.Module,
    output_activation: nn.Module | None = None,
    *,
    bias: bool = True,
) -> nn.Sequential:
    """``Linear(in, hidden) → activation → Linear(hidden, out) [→ output_activation]``.

    The Linear layers are children ``0`` and ``2`` of the returned Sequential, so state-dict keys read
    ``<name>.0.weight``, ``<name>.2.bias``, ... (the naming of the released DeepDFT checkpoints).

    Shapes:
        input: ``(..., in_features)``; output: ``(..., out_features)``.
    """
    layers: list[nn.Module] = [
        nn.Linear(in_features, hidden_features, bias=bias),
        activation,
        nn.Linear(hidden_features, out_features, bias=bias),
    ]
    if output_activation is not None:
        layers.append(output_activation)
    return nn.Sequential(*layers)
