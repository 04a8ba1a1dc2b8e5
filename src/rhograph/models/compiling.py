"""``torch.compile`` of rhograph modules, with the tool-chain check done before any work starts."""

from __future__ import annotations

import shutil

import torch

from rhograph.errors import RhographError

#: C++ compilers torch's inductor backend can use on CPU
CPU_COMPILERS = ("g++", "c++", "clang++")


def check_compile_toolchain(device: torch.device | str) -> None:
    """Raise a clear error if ``torch.compile`` cannot work on ``device`` (on CPU: no C++ compiler on PATH).

    Called before any work starts, instead of a failure in the middle of a prediction or a training run.
    """
    if torch.device(device).type == "cpu" and not any(shutil.which(cc) for cc in CPU_COMPILERS):
        raise RhographError(
            f"torch.compile on CPU needs a C++ compiler on PATH (one of {', '.join(CPU_COMPILERS)}); "
            "install one or run without compiling (--compile / compile: true)"
        )


def compile_module(module: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """``torch.compile(module, dynamic=True)`` (shapes vary with every batch), compiled at its first call.

    The result shares ``module``'s parameters; ``module`` itself is not changed. Checks the tool chain first
    (:func:`check_compile_toolchain`).
    """
    check_compile_toolchain(device)
    return torch.compile(module, dynamic=True)  # type: ignore[return-value]
