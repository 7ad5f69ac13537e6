"""Quantized a/b colour classes: the maths that keeps colours vivid.

A colorizer trained to regress a/b with a squared error learns the mean of all plausible
colours, which is brownish grey. Following Zhang et al. ("Colorful Image Colorization",
2016), the model instead predicts a distribution over in-gamut a/b bins of a
``GRID``-unit grid, is trained against soft-encoded targets with rare (saturated) colours
weighted up, and is decoded with an annealed mean that sharpens the distribution before
averaging. Pure tensor functions: no I/O, device and dtype follow the inputs.
"""

from __future__ import annotations

import torch

GRID = 10.0  # bin spacing in a/b units
AB_RANGE = 110.0  # sRGB a/b lie within +-110
SOFT_NEIGHBOURS = 5
SOFT_SIGMA = 5.0
PRIOR_SIGMA = 5.0
PRIOR_UNIFORM_MIX = 0.5  # lambda in Zhang et al.


def bin_index(ab: torch.Tensor) -> torch.Tensor:
    """Flat grid index of each a/b pair; ``ab`` is ``(..., 2)``."""
    side = round(2 * AB_RANGE / GRID) + 1
    ij = torch.round((ab.clamp(-AB_RANGE, AB_RANGE) + AB_RANGE) / GRID).long()
    return ij[..., 0] * side + ij[..., 1]


def occupied_bins(ab: torch.Tensor, min_count: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin centres ``(Q, 2)`` seen at least ``min_count`` times in ``ab`` (``(N, 2)``), and
    their empirical probabilities ``(Q,)``.

    Deriving the classes from the training data keeps only colours that occur in real
    photographs (about 300 for a 10-unit grid), so no logit is spent on impossible ones.
    """
    side = round(2 * AB_RANGE / GRID) + 1
    counts = torch.bincount(bin_index(ab), minlength=side * side)
    keep = torch.nonzero(counts >= min_count).squeeze(1)
    centres = torch.stack((keep // side, keep % side), dim=1).to(ab.dtype) * GRID - AB_RANGE
    probs = counts[keep].to(ab.dtype)
    return centres, probs / probs.sum()


def soft_encode(
    ab: torch.Tensor, centres: torch.Tensor, k: int = SOFT_NEIGHBOURS, sigma: float = SOFT_SIGMA
) -> torch.Tensor:
    """Soft one-hot targets ``(N, Q, H, W)`` for a/b maps ``(N, 2, H, W)``.

    Each pixel spreads its mass over its ``k`` nearest bin centres with Gaussian weights, so
    that neighbouring colours are not punished as hard as distant ones.
    """
    n, _, h, w = ab.shape
    px = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    dist2 = torch.cdist(px, centres).square()
    d2, idx = dist2.topk(min(k, len(centres)), dim=1, largest=False)
    weights = torch.softmax(-d2 / (2 * sigma**2), dim=1)
    target = torch.zeros(px.shape[0], centres.shape[0], dtype=ab.dtype, device=ab.device)
    target.scatter_(1, idx, weights)
    return target.reshape(n, h, w, -1).permute(0, 3, 1, 2)


def rebalance_weights(
    probs: torch.Tensor,
    centres: torch.Tensor,
    lam: float = PRIOR_UNIFORM_MIX,
    sigma: float = PRIOR_SIGMA,
) -> torch.Tensor:
    """Per-class loss weights ``(Q,)`` that boost rare colours.

    The empirical prior is smoothed over a/b space, mixed with a uniform distribution and
    inverted; weights are scaled so that their expectation under the prior is 1, which keeps
    the loss on the same scale as an unweighted one.
    """
    kernel = torch.exp(-torch.cdist(centres, centres).square() / (2 * sigma**2))
    smoothed = kernel @ probs
    smoothed = smoothed / smoothed.sum()
    weights = 1.0 / ((1 - lam) * smoothed + lam / probs.numel())
    return weights / (weights * smoothed).sum()


def rebalancing_shift(probs: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """The logit shift ``(Q,)`` that takes the rebalancing of :func:`rebalance_weights` back.

    A network trained with class weights ``w`` learns about ``w * p`` rather than ``p``, so
    it leans towards rare colours wherever it is unsure: grey walls and white sails come
    out brown. Adding a share of ``-log w`` to the logits takes that lean back.
    """
    return -torch.log(rebalance_weights(probs, centres))


def annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float) -> torch.Tensor:
    """Decode logits ``(N, Q, H, W)`` into a/b ``(N, 2, H, W)``.

    ``temperature`` 1 gives the plain mean (safe but dull), towards 0 the mode (vivid but
    patchy); Zhang et al. found about 0.38 a good compromise. Dividing the logits by T is
    the same as raising the probabilities to 1/T and renormalising.
    """
    p = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("nqhw,qc->nchw", p, centres.float())


NEUTRAL_CHROMA = 12.0  # a/b units: closer to grey than this is a neutral, not a hue
HUE_FAMILIES = 6  # sectors of the hue circle, 60 degrees each


def families(probs: torch.Tensor, centres: torch.Tensor) -> list[tuple[torch.Tensor, float]]:
    """One distribution over the bins ``(Q,)`` grouped into the distinct colours it
    holds: the neutrals, and :data:`HUE_FAMILIES` sectors of the hue circle, the first
    centred on the most likely colour's hue (so its own family is never cut in two).
    Each family's a/b (the mean of its bins, weighted by probability) and its share of
    the probability, largest share first; empty families left out.

    A colorizer's distribution at a point is often one broad hill (a peak-finder sees a
    single colour where the model also gives a blue sky a fifth of its belief); families
    show that fifth as a colour of its own, which is what a person choosing wants.
    """
    p = probs.double()
    c = centres.double()
    chroma = c.norm(dim=1)
    hue = torch.atan2(c[:, 1], c[:, 0])
    top = int(torch.where(chroma >= NEUTRAL_CHROMA, p, torch.zeros_like(p)).argmax())
    width = 2 * torch.pi / HUE_FAMILIES
    sector = torch.floor(((hue - hue[top] + width / 2) % (2 * torch.pi)) / width).long()
    group = torch.where(chroma < NEUTRAL_CHROMA, torch.full_like(sector, -1), sector)
    out = []
    for g in torch.unique(group):
        member = group == g
        share = float(p[member].sum())
        if share <= 0:
            continue
        ab = (p[member, None] * c[member]).sum(0) / share
        out.append((ab.float(), share))
    return sorted(out, key=lambda m: -m[1])
