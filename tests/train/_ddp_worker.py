"""Run by ``torchrun`` in test_ddp.py: train from a YAML config, then save this rank's parameters."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from rhograph.train.config import load_train_config
from rhograph.train.loop import train


def main() -> None:
    config_path, out = Path(sys.argv[1]), Path(sys.argv[2])
    config = load_train_config(config_path)
    rank = int(__import__("os").environ["RANK"])

    def save_params(step, trainer):
        if step == config.max_steps:
            torch.save(trainer.model.state_dict(), out / f"params_rank{rank}.pt")

    result = train(config, out / "run", on_step=save_params)
    assert result.step == config.max_steps, result


if __name__ == "__main__":
    main()
