"""What the network learns to predict and how a prediction is scored: a/b classes at a
quarter of the input's resolution, their prior, and the rebalanced cross-entropy of
Zhang et al. (2016) against soft-encoded targets."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ..colour import bins
from .traindata import to_lab

OUTPUT_STRIDE = 4  # the network predicts a/b at a quarter of its input resolution
MIN_BIN_PIXELS = 1  # every a/b bin that occurs in the training targets becomes a class


def targets_ab(lab: torch.Tensor) -> torch.Tensor:
    """a/b at the network's output resolution (area average, as the pipeline upsamples)."""
    return F.avg_pool2d(lab[:, 1:], OUTPUT_STRIDE)


def derive_bins(crops: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Classes and their prior from every training pixel at output resolution."""
    abs_ = []
    for i in range(0, len(crops), 512):
        ab = targets_ab(to_lab(crops[i : i + 512]))
        abs_.append(ab.permute(0, 2, 3, 1).reshape(-1, 2))
    return bins.occupied_bins(torch.cat(abs_), min_count=MIN_BIN_PIXELS)


def probs_for(centres: torch.Tensor, crops: np.ndarray) -> torch.Tensor:
    """Prior over existing classes (nearest centre), for a phase started from weights."""
    counts = torch.zeros(len(centres))
    for i in range(0, len(crops), 512):
        ab = targets_ab(to_lab(crops[i : i + 512])).permute(0, 2, 3, 1).reshape(-1, 2)
        counts += torch.bincount(torch.cdist(ab, centres).argmin(1), minlength=len(centres))
    return counts / counts.sum()


def class_loss(
    logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Rebalanced cross-entropy against soft-encoded targets (Zhang et al., eq. 2)."""
    target = bins.soft_encode(ab, centres)
    logp = F.log_softmax(logits.float(), dim=1)
    pixel_w = weights[target.argmax(dim=1)]
    return -(pixel_w * (target * logp).sum(dim=1)).mean()
