"""Colourization quality metrics (pure functions on uint8 RGB arrays).

- PSNR over RGB, and SSIM (scikit-image), against the original colour photo.
- AuC: area under the curve of the share of pixels whose a/b error is within a threshold,
  thresholds 0..150 (Zhang et al. 2016), in percent; 100 means every pixel's a/b exact.
- a/b error: the mean a/b distance per pixel (what a photo's confidence ranks).
- Colourfulness: Hasler and Suesstrunk (2003), M = sigma_rgyb + 0.3 * mu_rgyb on 0..255.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from skimage.metrics import structural_similarity

from ..colour.lab import rgb_to_lab

AUC_THRESHOLDS = np.arange(0, 151)


def psnr(out: np.ndarray, truth: np.ndarray) -> float:
    mse = np.mean((out.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0**2 / max(mse, 1e-10))


def ssim(out: np.ndarray, truth: np.ndarray) -> float:
    return float(structural_similarity(out, truth, channel_axis=2, data_range=255))


def _ab(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.tensor(rgb).permute(2, 0, 1).double() / 255.0)[1:]


def ab_auc(out: np.ndarray, truth: np.ndarray) -> float:
    """Mean over thresholds 0..150 of the share of pixels with a/b error <= threshold, %."""
    err = torch.linalg.vector_norm(_ab(out) - _ab(truth), dim=0).flatten().numpy()
    counts = np.searchsorted(np.sort(err), AUC_THRESHOLDS, side="right")
    return float(100.0 * np.mean(counts / err.size))


def ab_error(out: np.ndarray, truth: np.ndarray) -> float:
    """Mean a/b distance per pixel: the error a photo's confidence is meant to rank."""
    return float(torch.linalg.vector_norm(_ab(out) - _ab(truth), dim=0).mean())


def stratified_mean(values: Sequence[float], sources: Sequence[str]) -> float:
    """Mean over sources of each source's mean: a validation split where three
    homogeneous sets hold most photos would otherwise score the easy case."""
    by_source: dict[str, list[float]] = {}
    for v, s in zip(values, sources, strict=True):
        by_source.setdefault(s, []).append(v)
    return float(np.mean([np.mean(v) for v in by_source.values()]))


def colourfulness(rgb: np.ndarray) -> float:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
