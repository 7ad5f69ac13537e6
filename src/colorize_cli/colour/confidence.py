"""How sure the model is of a photo's colours, from the logits of the pass that colours it.

An archive run colours far more photos than anyone can check, so each gets a confidence
in [0, 1] that sends people to the ones most likely wrong first. It is read off the
model's own per-pixel distributions (no second pass): how spread they are, how much
error the model expects of the colour it shows, how colourful it expects the photo to
be, pooled over the photo three ways (mean, weighted by the colour shown, the worst
tenth), and the grey's own levels. A small linear estimate of the photo's mean a/b error
(:class:`Estimate`), fitted on held-out photos and stored in the weights file, turns
those into one number; the confidence is the share of those held-out photos that the
estimate expected to come out worse. No single signal ranked the real errors as well
(benchmarks/README.md, "Confidence").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

# per-pixel maps, each pooled as its mean, its chroma-weighted mean and its 90th percentile
MAPS = ("entropy", "spread", "expected", "expected_chroma", "chroma", "top")
POOLS = ("mean", "weighted", "p90")
LEVELS = ("l_mean", "l_std", "l_gradient")
FEATURES = tuple(f"{m}_{p}" for m in MAPS for p in POOLS) + LEVELS


def expected_error(probs: torch.Tensor, centres: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """The a/b error ``(N, h, w)`` the model expects of the colour it shows: the root mean
    square distance, under its distribution ``probs`` ``(N, Q, h, w)``, from the a/b
    ``ab`` ``(N, 2, h, w)`` decoded from it. Also the editor's map of where it hesitates."""
    mean_ab = torch.einsum("nqhw,qc->nchw", probs, centres)
    second = torch.einsum("nqhw,q->nhw", probs, centres.square().sum(1))
    return _expected(second, mean_ab, ab)


def _expected(second: torch.Tensor, mean_ab: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    # E|c - ab|^2 = E|c|^2 - 2 ab.E[c] + |ab|^2, without a (Q, h, w) intermediate
    sq = second - 2 * (ab * mean_ab).sum(1) + ab.square().sum(1)
    return sq.clamp_min(0).sqrt()


def features(
    logits: torch.Tensor, centres: torch.Tensor, ab: torch.Tensor, L: torch.Tensor
) -> torch.Tensor:
    """:data:`FEATURES` ``(N, F)`` of a batch: logits ``(N, Q, h, w)`` as the photos were
    coloured from (reference shift and all), their decoded a/b ``(N, 2, h, w)`` and the
    model's input L ``(N, 1, S, S)`` in [0, 100]. Float32, on the logits' device."""
    centres = centres.to(logits.device).float()
    # a photo's doubt is a summary: a grid of half the side costs a quarter as much
    logits = F.avg_pool2d(logits.float(), 2)
    ab = F.avg_pool2d(ab.to(logits.device).float(), 2)
    n, q, h, w = logits.shape
    # classes last: a free view of the network's channels-last output, so every sum over
    # the classes runs along contiguous memory
    x = logits.permute(0, 2, 3, 1).reshape(n, h * w, q)
    p = torch.softmax(x, dim=2)
    top, likeliest = p.max(2)
    # log Z from the likeliest class (p = exp(x - log Z)), without a second pass
    lse = x.gather(2, likeliest[..., None])[..., 0] - torch.log(top)
    # one product over the classes for every per-class sum: a, b, |c|^2 and |c|
    per_class = torch.stack(
        [centres[:, 0], centres[:, 1], centres.square().sum(1), centres.norm(dim=1)], dim=1
    )
    sums = (p @ per_class).permute(0, 2, 1).reshape(n, 4, h, w)
    mean_ab, second, expected_chroma = sums[:, :2], sums[:, 2], sums[:, 3]
    chroma = ab.norm(dim=1)
    entropy = (lse - (p * x).sum(2)).view_as(chroma) / math.log(q)  # log Z - sum p x
    maps = {
        "entropy": entropy,
        "spread": (second - mean_ab.square().sum(1)).clamp_min(0).sqrt(),
        "expected": _expected(second, mean_ab, ab),
        "expected_chroma": expected_chroma,
        "chroma": chroma,
        "top": 1 - top.view_as(chroma),
    }
    stacked = torch.stack([maps[m].flatten(1) for m in MAPS], dim=1)  # (N, maps, hw)
    w = chroma.flatten(1)
    w = (w / w.sum(1, keepdim=True).clamp_min(1e-6))[:, None]
    pooled = torch.stack(
        [stacked.mean(2), (stacked * w).sum(2), stacked.quantile(0.9, dim=2)], dim=2
    ).flatten(1)  # (N, maps * pools), in FEATURES' order
    L = L.to(logits.device).float()
    gradient = (L[..., :, 1:] - L[..., :, :-1]).abs().mean((1, 2, 3)) + (
        L[..., 1:, :] - L[..., :-1, :]
    ).abs().mean((1, 2, 3))
    levels = torch.stack([L.mean((1, 2, 3)), L.std((1, 2, 3)), gradient], dim=1)
    return torch.cat([pooled, levels], dim=1)


@dataclass(frozen=True)
class Estimate:
    """A linear estimate of a photo's mean a/b error from its :data:`FEATURES`, and how
    the estimates of the photos it was fitted on were spread (``quantiles``, ascending),
    which turn an estimate into a confidence."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    quantiles: tuple[float, ...]

    def error(self, feats: torch.Tensor) -> np.ndarray:
        """Estimated mean a/b error of each photo of ``feats`` ``(N, F)``."""
        x = (feats.detach().cpu().double().numpy() - np.array(self.mean)) / np.array(self.scale)
        return x @ np.array(self.weights) + self.bias

    def confidence(self, feats: torch.Tensor) -> list[float]:
        """Each photo's confidence: the share of the fitted photos whose estimated error
        was larger than its own, to three decimals."""
        levels = np.linspace(0.0, 1.0, len(self.quantiles))
        worse = 1.0 - np.interp(self.error(feats), self.quantiles, levels)
        return [round(float(c), 3) for c in worse]

    def to_json(self) -> str:
        return json.dumps({"features": FEATURES, **self.__dict__})

    @classmethod
    def from_json(cls, text: str) -> Estimate:
        """Raises ValueError for a record that is not an estimate over :data:`FEATURES`."""
        d = json.loads(text)
        if tuple(d.pop("features", ())) != FEATURES:
            raise ValueError("its confidence estimate was fitted on other features")
        est = cls(**{k: tuple(v) if isinstance(v, list) else float(v) for k, v in d.items()})
        if not (len(est.mean) == len(est.scale) == len(est.weights) == len(FEATURES)):
            raise ValueError("its confidence estimate has the wrong number of weights")
        return est


def fit(feats: np.ndarray, errors: np.ndarray, ridge: float = 1.0) -> Estimate:
    """The ridge regression of ``errors`` ``(N,)`` on standardised ``feats`` ``(N, F)``
    (the measured choice: benchmarks/confidence.py)."""
    mean, scale = feats.mean(0), feats.std(0) + 1e-9
    z = np.c_[(feats - mean) / scale, np.ones(len(feats))]
    penalty = ridge * np.eye(z.shape[1])
    penalty[-1, -1] = 0.0
    coef = np.linalg.solve(z.T @ z + penalty, z.T @ errors)
    estimates = z @ coef
    quantiles = np.quantile(estimates, np.linspace(0.0, 1.0, 101))
    return Estimate(
        tuple(mean.tolist()),
        tuple(scale.tolist()),
        tuple(coef[:-1].tolist()),
        float(coef[-1]),
        tuple(np.maximum.accumulate(quantiles).tolist()),
    )
