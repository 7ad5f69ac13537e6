"""Colour hints: a few points whose colour the user knows, spread over the regions they
belong to, stopping at the photograph's edges.

The spreading is the optimisation of Levin, Lischinski and Weiss ("Colorization using
optimization", 2004) on the guide grid (:func:`colorize_cli.colour.rgb.guide_grid`):
neighbouring cells are tied together in proportion to how alike their lightness is, how
alike the model found their colours, and how alike the network sees them (its encoder's
features), so a hint flows freely across a flat coat and hardly at all across its
outline, or into the face beside it even where face and wall share a grey. Two fields
are solved with one sparse factorisation: the reach ``w`` of the hints (1 at a hint,
falling to 0 with distance and at edges; ``DECAY`` sets how far it goes in a flat
region) and the hints' colour weighted by that reach. Where a hint reaches, its colour
replaces the model's; where none does, the model's own prediction stays, so hints
correct a photograph without repainting the parts nobody hinted.

Pure maths on tensors: the hints file is read in :mod:`colorize_cli.files.controls`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import splu
from torch.nn import functional as F

from .lab import rgb_to_lab

DEFAULT_RADIUS = 3.0  # pixels of the photograph around a hint that take its colour
EDGE_SIGMA = 4.0  # L units: neighbours this much apart in lightness are ~60% tied
# a/b units: neighbours whose colours the model found this far apart are ~60% tied, so a
# hint stops where the model sees another thing of like lightness
AB_SIGMA = 2.0
# distance between the unit-length encoder features of neighbouring cells: a hint stops
# where the model sees another thing (a face beside a wall of its colour and lightness).
# Chosen with benchmarks/hints.py (hints where the colour is most wrong, as a person
# clicks; figures in benchmarks/README.md) on the shipped weights: on kodak24 + cbsd68
# it gains 0.4-1.3 dB over no features at 1-10 hints (mean of the two), and moves the
# pixels the model had right, far from every hint, 2-3 times less.
FEATURE_SIGMA = 0.1
DECAY = 1e-5  # pull towards the model's colour: in a flat region a hint reaches the whole photo
# Measured (session 10; kodak24 + cbsd68, true-colour hints at random points, gain over
# automatic for 1/3/30 hints): the model's colours in the affinity (AB_SIGMA 2) gain
# +0.28 dB at 1 hint and +0.07 at 10 on kodak24, and keep more colour. A shorter reach
# (DECAY 3e-5 / 1e-4) keeps a single hint local (colourfulness 0.63 / 0.69 of the
# originals after one hint, against 0.50) but loses 0.5 / 1.0 dB at 1 hint, 0.2 / 0.6 dB
# at 30, and leaves the clicked point further from the chosen colour (the guided
# upsampling averages a small hinted spot with its surroundings): not taken.
PIN = 100.0  # how hard a hinted cell holds its colour, against its neighbours
SOLVE_STEP = 2  # solved on the guide grid shrunk this many times


@dataclass(frozen=True)
class Hint:
    """One known colour at a point of the (upright) photograph, in its own pixels."""

    x: float
    y: float
    rgb: tuple[int, int, int]  # sRGB, 0-255
    radius: float = DEFAULT_RADIUS
    # how much of its correction it makes, 0-1: a film's keyframe hint carried to another
    # frame of its shot weighs less as the picture matches less and time passes
    weight: float = 1.0


def hint_ab(hints: list[Hint]) -> torch.Tensor:
    """The a/b of each hint's colour, ``(K, 2)``; its lightness is not used: the
    photograph keeps its own."""
    rgb = torch.tensor([h.rgb for h in hints], dtype=torch.float64).T[:, :, None] / 255.0
    return rgb_to_lab(rgb)[1:, :, 0].T.float()


def _hint_cells(
    hints: list[Hint], size: tuple[int, int], side: int, colours: torch.Tensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per grid cell: 1 where a hint covers it (else 0), the covering hint's a/b, and its
    weight."""
    width, height = size
    sx, sy = side / width, side / height
    mask = np.zeros((side, side), dtype=np.float64)
    weight = np.zeros((side, side), dtype=np.float64)
    ab = np.zeros((2, side, side), dtype=np.float64)
    ys, xs = np.mgrid[0:side, 0:side]
    for hint, colour in zip(hints, colours.numpy(), strict=True):
        gx, gy = (hint.x + 0.5) * sx - 0.5, (hint.y + 0.5) * sy - 0.5
        rx, ry = max(hint.radius * sx, 0.5), max(hint.radius * sy, 0.5)
        inside = ((xs - gx) / rx) ** 2 + ((ys - gy) / ry) ** 2 <= 1.0
        inside[min(max(round(gy), 0), side - 1), min(max(round(gx), 0), side - 1)] = True
        mask[inside] = 1.0
        weight[inside] = hint.weight
        ab[:, inside] = colour[:, None]
    return mask, ab, weight


def _unlikeness(x: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    """Squared distance between neighbours along ``axis`` (summed over a leading channel
    axis if ``x`` has one), over twice ``sigma`` squared."""
    d = np.square(np.diff(x, axis=axis))
    return (d.sum(0) if x.ndim == 3 else d) / (2 * sigma**2)


def _affinity_laplacian(L: np.ndarray, ab: np.ndarray, features: np.ndarray) -> sp.csc_matrix:
    """Graph Laplacian of the 4-neighbour grid, edges weighted by lightness likeness, by
    how alike the model found the two cells' colours, and by how alike it saw them."""
    h, w = L.shape
    idx = np.arange(h * w).reshape(h, w)
    wx, wy = (
        np.exp(
            -_unlikeness(L, EDGE_SIGMA, axis)
            - _unlikeness(ab, AB_SIGMA, axis + 1)
            - _unlikeness(features, FEATURE_SIGMA, axis + 1)
        )
        for axis in (1, 0)
    )
    rows = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    cols = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    vals = np.concatenate([wx.ravel(), wy.ravel()])
    W = sp.coo_matrix((vals, (rows, cols)), shape=(h * w, h * w))
    W = W + W.T
    degree = np.asarray(W.sum(axis=1)).ravel()
    return (sp.diags(degree) - W).tocsc()


def apply_hints(
    guide: torch.Tensor,
    ab: torch.Tensor,
    features: torch.Tensor,
    hints: list[Hint],
    size: tuple[int, int],
) -> torch.Tensor:
    """The model's a/b ``(2, h, w)`` corrected by ``hints``, on the guide grid ``(2, S, S)``.

    ``guide`` is the photograph's L on the guide grid ``(S, S)``; ``features`` the
    model's view of it (``(C, h', w')``, from
    :meth:`colorize_cli.model.colorizer.Colorizer.logits_and_features`); ``size`` is the
    photograph's (width, height), the frame the hints' coordinates are in.
    """
    side = guide.shape[-1]
    model = F.interpolate(ab[None].float(), size=(side, side), mode="bilinear")[0]
    if not hints:
        return model
    reach, hinted = hint_fields(guide, ab, features, hints, size)
    return hinted + (1 - reach) * model


def hint_fields(
    guide: torch.Tensor,
    ab: torch.Tensor,
    features: torch.Tensor,
    hints: list[Hint],
    size: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two fields of :func:`apply_hints` on the guide grid: the hints' reach ``(1, S,
    S)`` and their colour weighted by it ``(2, S, S)`` (a film's keyframe carries them
    through its shot, :mod:`colorize_cli.colour.keyframes`)."""
    side = guide.shape[-1]
    model = F.interpolate(ab[None].float(), size=(side, side), mode="bilinear")[0]
    L = F.avg_pool2d(guide[None, None].double(), SOLVE_STEP)[0, 0]
    n = L.shape[-1]
    mask, target, weight = _hint_cells(hints, size, n, hint_ab(hints))
    pin = PIN * mask.ravel()
    # a hint of weight w pins its cells as hard, but to w of its reach and colour: the
    # fields are linear in the right-hand side, so it makes w of its correction, and
    # neither field leaves [0, 1] times the colours (the pins stay in the matrix)
    held = pin * weight.ravel()
    model_n = F.avg_pool2d(model[None].double(), SOLVE_STEP)[0].numpy()
    # unit length before blending (no point outweighs its neighbours) and after (the
    # blend of two unit vectors is shorter)
    seen = F.normalize(features[None].cpu().double(), dim=1)
    seen = F.interpolate(seen, size=(n, n), mode="bilinear")[0]
    seen_n = F.normalize(seen, dim=0).numpy()
    A = _affinity_laplacian(L.numpy(), model_n, seen_n) + sp.diags(DECAY * SOLVE_STEP**2 + pin)
    rhs = np.stack([held, held * target[0].ravel(), held * target[1].ravel()], axis=1)
    solved = torch.from_numpy(splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A").solve(rhs))
    fields = F.interpolate(solved.T.reshape(1, 3, n, n).float(), size=(side, side), mode="bilinear")
    return fields[0, :1], fields[0, 1:]
