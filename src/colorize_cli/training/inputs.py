"""What the network sees of a training photo: its lightness, or, for a share of the
photos, the lightness of a copy damaged as archive photos are. The targets stay the clean
photo's a/b, so the network learns the clean colour from a damaged print. Any new
transform of the network's input during training belongs here."""

from __future__ import annotations

import numpy as np
import torch

from ..colour.lab import gray_to_l, lab_to_rgb
from .degrade import archive_mix, degrade


def model_input(lab: torch.Tensor, degraded: float, rng: np.random.Generator) -> torch.Tensor:
    """The batch's L ``(N, 1, H, W)`` with a ``degraded`` share of its photos damaged
    (:func:`~colorize_cli.training.degrade.archive_mix`), drawn from ``rng``."""
    if not degraded:
        return lab[:, :1]
    L = lab[:, :1].clone()
    rgb = None
    for j in range(len(lab)):
        if rng.random() < degraded:
            rgb = lab_to_rgb(lab) if rgb is None else rgb
            kinds, strength = archive_mix(rng)
            L[j, 0] = gray_to_l(degrade(rgb[j], kinds, strength, rng))
    return L
