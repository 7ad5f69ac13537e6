"""A run's resumable state on disk: ``last.pt`` (model, optimiser, its average, step,
seconds spent, random state, classes and prior, architecture), rewritten atomically, so
a run cut off at any moment goes on from its last checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict | None:
    return torch.load(path, weights_only=True) if path.exists() else None
