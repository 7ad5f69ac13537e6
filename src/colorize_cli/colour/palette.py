"""A reference photo's palette, swapped in for the training photos' as the model's prior.

The network's per-pixel distribution over a/b classes is, by Bayes, evidence from the
grey image times the prior it was trained under (how common each colour is in the
training photos). When the user knows the palette (a colour still of the same film, a
photo of the same street), dividing the training prior out and multiplying the
reference's in keeps the evidence and changes only which of the plausible colours wins:
``logits += strength * (log p_ref - log p_train)`` before the annealed mean. Measured on
the evaluation sets (model card): the right colours are usually among the model's
candidates; choosing among them is what goes wrong, and this is what a palette fixes.

Both distributions are smoothed over a/b space by the same kernel as the class
rebalancing in :mod:`colorize_cli.colour.bins`, and mixed with a little of the uniform
distribution, so that a colour absent from the reference is made unlikely, not
impossible. Pure tensor maths.
"""

from __future__ import annotations

import torch

from .bins import PRIOR_SIGMA, soft_encode

UNIFORM_MIX = 1e-3  # share of the uniform distribution in each smoothed palette


def smooth_distribution(p: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """``p`` ``(Q,)`` blurred over a/b space (Gaussian, ``PRIOR_SIGMA``), with a little of
    the uniform mixed in; sums to 1."""
    c = centres.double()
    kernel = torch.exp(-torch.cdist(c, c).square() / (2 * PRIOR_SIGMA**2))
    q = kernel @ p.double()
    q = q / q.sum()
    return ((1 - UNIFORM_MIX) * q + UNIFORM_MIX / q.numel()).float()


def palette(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """The distribution ``(Q,)`` of an a/b map ``(2, H, W)`` over the classes, soft-encoded
    as the training targets are, then smoothed."""
    counts = soft_encode(ab[None].float(), centres.float()).mean(dim=(0, 2, 3))
    return smooth_distribution(counts, centres)


def prior_shift(
    reference: torch.Tensor, prior: torch.Tensor, centres: torch.Tensor, strength: float
) -> torch.Tensor:
    """What to add to every pixel's logits ``(Q,)`` so that the reference palette
    ``reference`` (from :func:`palette`) replaces the training ``prior``."""
    return strength * (reference.log() - smooth_distribution(prior, centres).log())
