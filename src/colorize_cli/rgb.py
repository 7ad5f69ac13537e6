"""Join predicted a/b with the image's own full-resolution lightness and return RGB.

The a/b map is small (a quarter of the model's input). It is brought to the full image
size by a guided filter: local linear models of a/b against L, fitted on the model's
input grid and applied to every original pixel's L, so colour edges sit on the
photograph's own edges instead of bleeding across them. The result is joined with that
full-resolution L, pulled into the sRGB gamut without touching L, and converted to 8- or
16-bit RGB.

This is the one stage that touches every pixel, so it is built for speed from the exact
maths in :mod:`colorize_cli.lab`: grey -> L and (for 8-bit output) linear -> sRGB are
table lookups, and out-of-gamut colours are scaled back with a precomputed table of the
largest chroma per lightness and hue, in one pass. Full-resolution work is done in strips
of rows, so peak memory stays a few strips whatever the image size; strips give the same
pixels as the whole image at once, because each output row only depends on its own two
neighbouring a/b rows.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch.nn import functional as F

from .batch import thumbnail
from .lab import gray_to_l, lab_to_linear, linear_to_srgb, max_chroma_table

STRIP_PIXELS = 2_000_000  # full-resolution pixels converted at a time
_GRAY_LEVELS = 65535  # grey is looked up at 16-bit precision: exact for 8- and 16-bit files
_GAMUT_SAFETY = 0.995  # stay just inside the interpolated gamut boundary
GUIDE_SCALE = 4  # the guide grid is this many times finer than the a/b map (the model input)
GUIDE_RADIUS = 12  # guide-grid pixels: a 25x25 window, about six a/b cells
GUIDE_EPS = 1e-2  # in (L/100)^2: lightness steps well under ~10 L carry no colour edge


@functools.cache
def _l_table() -> torch.Tensor:
    """L of every 16-bit grey level."""
    return gray_to_l(torch.arange(_GRAY_LEVELS + 1, dtype=torch.float64) / _GRAY_LEVELS).float()


@functools.cache
def _srgb8_table() -> torch.Tensor:
    """8-bit sRGB value of every 16-bit step of linear light, rounded."""
    lin = torch.arange(_GRAY_LEVELS + 1, dtype=torch.float64) / _GRAY_LEVELS
    return torch.round(linear_to_srgb(lin) * 255).to(torch.uint8)


@functools.cache
def _chroma_table() -> torch.Tensor:
    return max_chroma_table().float()


def gray_to_l_fast(gray: torch.Tensor) -> torch.Tensor:
    """:func:`colorize_cli.lab.gray_to_l` by table lookup (grey in [0, 1], any shape)."""
    idx = (gray * _GRAY_LEVELS + 0.5).to(torch.int32).clamp_(0, _GRAY_LEVELS)
    return _l_table()[idx]


def linear_in_gamut(lab: torch.Tensor) -> torch.Tensor:
    """Lab ``(3, H, W)`` -> linear RGB in [0, 1], out-of-gamut colours reduced in chroma
    at constant L and hue (clipping channels instead would change the lightness)."""
    lin = lab_to_linear(lab)
    rows = ((lin < 0) | (lin > 1)).any(dim=0).any(dim=1).nonzero().squeeze(1)
    if len(rows):  # most strips have few such rows: work on those rows alone
        lin[:, rows] = _fit_rows(lab[:, rows], lin[:, rows])
    return lin.clamp_(0.0, 1.0)  # what is left is interpolation residue, far below 1/255


def _fit_rows(lab: torch.Tensor, lin: torch.Tensor) -> torch.Tensor:
    """Scale back the chroma of out-of-gamut pixels; ``lin`` is ``lab``'s linear RGB and
    is updated in place."""
    outside = ((lin < 0) | (lin > 1)).any(dim=0)
    L, a, b = lab[0][outside], lab[1][outside], lab[2][outside]
    table = _chroma_table()
    nl, nh = table.shape
    fl = (L.clamp(0, 100) / 100) * (nl - 1)
    fh = torch.remainder(torch.atan2(b, a), 2 * torch.pi) / (2 * torch.pi) * (nh - 1)
    l0, h0 = fl.floor().long().clamp(max=nl - 2), fh.floor().long().clamp(max=nh - 2)
    wl, wh = fl - l0, fh - h0
    cmax = (table[l0, h0] * (1 - wh) + table[l0, h0 + 1] * wh) * (1 - wl) + (
        table[l0 + 1, h0] * (1 - wh) + table[l0 + 1, h0 + 1] * wh
    ) * wl
    chroma = torch.hypot(a, b).clamp(min=1e-6)
    scale = (cmax * _GAMUT_SAFETY / chroma).clamp(max=1.0)
    fixed = lab_to_linear(torch.stack((L, a * scale, b * scale))[:, :, None])[:, :, 0]
    lin[:, outside] = fixed
    return lin


def guided_coefficients(
    L_low: torch.Tensor, ab: torch.Tensor, radius: int = GUIDE_RADIUS, eps: float = GUIDE_EPS
) -> torch.Tensor:
    """Local linear models ab = A * (L/100) + B, ``(4, H, W)`` as (A_a, A_b, B_a, B_b),
    fitted on the guide grid of ``L_low`` ``(H, W)`` (the fast guided filter, He and Sun
    2015).

    Applied to the full-resolution L, the models put colour edges where the lightness has
    its edges, instead of smearing them over a whole a/b cell; ``eps`` keeps flat areas
    flat (no lightness texture turns into colour noise).
    """
    I = (L_low / 100.0)[None]
    p = F.interpolate(ab[None], size=L_low.shape, mode="bilinear", align_corners=False)[0]

    def box(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x[None], 2 * radius + 1, 1, radius, count_include_pad=False)[0]

    mean_i, mean_p = box(I), box(p)
    var_i = box(I * I) - mean_i * mean_i
    a = (box(I * p) - mean_i * mean_p) / (var_i + eps)
    b = mean_p - a * mean_i
    return torch.cat((box(a), box(b)))


def _row_weights(n_out: int, n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source rows and weights of bilinear resizing (half-pixel centres, edges clamped),
    the same as ``F.interpolate(..., align_corners=False)``."""
    pos = ((torch.arange(n_out, dtype=torch.float64) + 0.5) * (n_in / n_out) - 0.5).clamp(min=0)
    i0 = pos.floor().long().clamp(max=n_in - 1)
    i1 = (i0 + 1).clamp(max=n_in - 1)
    return i0, i1, (pos - i0).float()


def compose(
    gray: np.ndarray,
    ab: torch.Tensor,
    bit_depth: int,
    alpha: np.ndarray | None = None,
    strip_pixels: int = STRIP_PIXELS,
) -> np.ndarray:
    """Full-resolution RGB(A) ``(H, W, 3|4)`` of dtype uint8 or uint16 (as ``bit_depth``).

    ``gray`` is the (H, W) float32 grey from :mod:`colorize_cli.read`, ``ab`` the model's
    ``(2, h, w)`` prediction for it (on the square grid the image was squeezed to).
    """
    height, width = gray.shape
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    out = np.empty((height, width, 3 if alpha is None else 4), dtype=dtype)
    ab = ab.float().cpu()
    guide = gray_to_l_fast(torch.tensor(thumbnail(gray, GUIDE_SCALE * ab.shape[-1])))
    coef = guided_coefficients(guide, ab)
    # Widen once to full width (few rows); rows are then interpolated strip by strip.
    coef_wide = F.interpolate(
        coef[None], size=(coef.shape[1], width), mode="bilinear", align_corners=False
    )[0]
    i0, i1, w = _row_weights(height, coef.shape[1])
    rows = max(1, strip_pixels // max(1, width))
    for top in range(0, height, rows):
        sl = slice(top, min(height, top + rows))
        wt = w[sl][None, :, None]
        coef_strip = coef_wide[:, i0[sl]] * (1 - wt) + coef_wide[:, i1[sl]] * wt
        L = gray_to_l_fast(torch.from_numpy(gray[sl]))[None]
        ab_strip = coef_strip[:2] * (L / 100.0) + coef_strip[2:]
        lin = linear_in_gamut(torch.cat((L, ab_strip), dim=0))  # planar: contiguous ops
        if bit_depth == 16:
            planes = np.rint(linear_to_srgb(lin).numpy() * 65535).astype(np.uint16)
        else:
            planes = _srgb8_table()[(lin * _GRAY_LEVELS + 0.5).to(torch.int32)].numpy()
        out[sl, :, :3] = planes.transpose(1, 2, 0)
        if alpha is not None:
            out[sl, :, 3] = alpha[sl]
    return out
