"""Join predicted a/b with the image's own full-resolution lightness and return RGB.

The a/b map is small (a quarter of the model's input). It is brought to the full image
size by a guided filter: local linear models of a/b against L, fitted on the model's
input grid and applied to every original pixel's L, so colour edges sit on the
photograph's own edges instead of bleeding across them. The result is joined with that
full-resolution L, pulled into the sRGB gamut without touching L, and converted to 8- or
16-bit RGB.

This is the one stage that touches every pixel, and on a CPU it costs more than the
model itself if done as a chain of array operations (each one a pass over memory and a
temporary the size of the image). It is therefore compiled (numba) and goes row by row
through four passes with scratch the size of one row: memory stays at the input and
output arrays whatever the image size, and it releases the GIL, so the writer threads
colour several images at once. Its curves and matrices are tables built from the exact
maths in :mod:`colorize_cli.colour.lab` (grey -> L, linear -> sRGB, the largest in-gamut
chroma per lightness and hue), except f_inv, written out with lab's constants so that
the arithmetic pass has no lookups and runs on SIMD lanes; the tests hold it to that
maths. With the guided filter's coefficients (box means by running sums, compiled too),
a 1024x768 frame costs about 10 ms on one core of this machine (it was 33).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import torch
from torch.nn import functional as F

from ..numba_cache import CACHE  # before numba: it chooses numba's cache folder

# isort: split
import numba

from .lab import (
    A_SCALE,
    B_SCALE,
    F_KNEE,
    F_OFFSET,
    F_SLOPE,
    L_OFFSET,
    L_SCALE,
    f_inv,
    gray_to_l,
    linear_from_f_matrix,
    linear_to_srgb,
    max_chroma_table,
)
from .resample import thumbnail

_LEVELS = 65535  # grey in and linear light out are tabulated at 16-bit steps
_GAMUT_SAFETY = 0.995  # stay just inside the interpolated gamut boundary
GUIDE_SCALE = 4  # the guide grid is this many times finer than the a/b map (the model input)
GUIDE_RADIUS = 12  # guide-grid pixels: a 25x25 window, about six a/b cells
GUIDE_EPS = 1e-2  # in (L/100)^2: lightness steps well under ~10 L carry no colour edge
# guide-grid pixels of the window for what hints changed: their colour stays local, and
# the wide window averaged a clicked spot with its surroundings (measured in
# benchmarks/README.md, hints.py)
CORRECTION_RADIUS = 4


class _Tables(NamedTuple):
    grey: np.ndarray  # (levels, 3) float32 per 16-bit grey level: L / 100, f(Y), Y
    matrix: np.ndarray  # linear RGB from (f_inv(fx), f_inv(fy), f_inv(fz))
    chroma: np.ndarray  # largest in-gamut chroma, (lightness, hue)
    srgb8: np.ndarray  # 8-bit sRGB of every 16-bit step of linear light, rounded
    srgb16: np.ndarray  # sRGB * 65535 of every 16-bit step of linear light


@functools.cache
def _tables() -> _Tables:
    levels = torch.arange(_LEVELS + 1, dtype=torch.float64) / _LEVELS
    srgb = linear_to_srgb(levels)
    L = gray_to_l(levels)
    fy = (L + L_OFFSET) / L_SCALE
    return _Tables(
        grey=torch.stack((L / 100.0, fy, f_inv(fy)), dim=1).float().numpy(),
        matrix=linear_from_f_matrix(levels).numpy(),
        chroma=max_chroma_table().numpy(),
        srgb8=torch.round(srgb * 255).to(torch.uint8).numpy(),
        srgb16=(srgb * _LEVELS).numpy(),
    )


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
    I = (L_low.float() / 100.0)[None].numpy()
    p = F.interpolate(ab[None].float(), size=L_low.shape, mode="bilinear", align_corners=False)
    p = p[0].numpy()
    means = _box_mean(np.concatenate((I, p, I * I, I * p)), radius)  # one pass for all six
    mean_i, mean_p, mean_ii, mean_ip = means[0:1], means[1:3], means[3:4], means[4:6]
    a = (mean_ip - mean_i * mean_p) / (mean_ii - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    return torch.from_numpy(_box_mean(np.concatenate((a, b)), radius))


@numba.njit(nogil=True, cache=CACHE)
def _box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean of each channel of ``x`` ``(C, H, W)`` over a ``2 * radius + 1`` square,
    clipped at the borders, by differences of running sums (O(1) per pixel whatever the
    radius): rows first, then columns."""
    c, h, w = x.shape
    rows = np.empty_like(x)
    out = np.empty_like(x)
    run = np.empty(max(h, w) + 1, np.float64)
    for k in range(c):
        for i in range(h):
            run[0] = 0.0
            for j in range(w):
                run[j + 1] = run[j] + x[k, i, j]
            for j in range(w):
                lo, hi = max(j - radius, 0), min(j + radius + 1, w)
                rows[k, i, j] = (run[hi] - run[lo]) / (hi - lo)
        for j in range(w):
            run[0] = 0.0
            for i in range(h):
                run[i + 1] = run[i] + rows[k, i, j]
            for i in range(h):
                lo, hi = max(i - radius, 0), min(i + radius + 1, h)
                out[k, i, j] = (run[hi] - run[lo]) / (hi - lo)
    return out


def _row_weights(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source rows and weights of bilinear resizing (half-pixel centres, edges clamped),
    the same as ``F.interpolate(..., align_corners=False)``."""
    pos = ((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5).clip(min=0)
    i0 = np.minimum(np.floor(pos).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (pos - i0).astype(np.float32)


@numba.njit(nogil=True, cache=CACHE, inline="always")
def _lerp(table: np.ndarray, pos: float) -> float:
    """``table`` linearly interpolated at fractional index ``pos`` (clamped to its ends)."""
    pos = min(max(pos, 0.0), table.shape[0] - 1.0)
    i = min(int(pos), table.shape[0] - 2)
    return table[i] + (table[i + 1] - table[i]) * (pos - i)


@numba.njit(nogil=True, cache=CACHE, inline="always", fastmath=True)
def _f_inv(t: float) -> float:
    """:func:`colorize_cli.colour.lab.f_inv` on one number, with lab's constants."""
    return t * t * t if t > F_KNEE else (t - F_OFFSET) * F_SLOPE


@numba.njit(nogil=True, cache=CACHE, inline="always", fastmath=True)
def _linear(fy: float, y: float, a: float, b: float, m: np.ndarray) -> tuple[float, float, float]:
    """Lab (as fy, f_inv(fy), a, b) -> unclipped linear RGB."""
    x = _f_inv(fy + a * (1.0 / A_SCALE))
    z = _f_inv(fy - b * (1.0 / B_SCALE))
    return (
        m[0, 0] * x + m[0, 1] * y + m[0, 2] * z,
        m[1, 0] * x + m[1, 1] * y + m[1, 2] * z,
        m[2, 0] * x + m[2, 1] * y + m[2, 2] * z,
    )


@numba.njit(nogil=True, cache=CACHE, inline="always", fastmath=True)
def _atan2(y: float, x: float) -> float:
    """atan2 to within 1e-5 rad (a tenth of the chroma table's hue step is 2e-3): a
    polynomial instead of the library call, which dominated the out-of-gamut pixels."""
    ax, ay = abs(x), abs(y)
    big, small = max(ax, ay), min(ax, ay)
    if big == 0.0:
        return 0.0
    t = small / big
    t2 = t * t
    r = t * (
        0.99997726
        + t2
        * (
            -0.33262347
            + t2 * (0.19354346 + t2 * (-0.11643287 + t2 * (0.05265332 - 0.01172120 * t2)))
        )
    )
    if ay > ax:
        r = 1.5707963267948966 - r
    if x < 0:
        r = 3.141592653589793 - r
    return -r if y < 0 else r


@numba.njit(nogil=True, cache=CACHE, inline="always")
def _max_chroma(L: float, a: float, b: float, chroma: np.ndarray) -> float:
    """The largest in-gamut chroma at this lightness and hue, bilinear in the table."""
    nl, nh = chroma.shape
    hue = _atan2(b, a)
    if hue < 0:
        hue += 2 * math.pi
    fl = min(max(L, 0.0), 100.0) / 100.0 * (nl - 1)
    fh = hue / (2 * math.pi) * (nh - 1)
    l0, h0 = min(int(fl), nl - 2), min(int(fh), nh - 2)
    wl, wh = fl - l0, fh - h0
    lo = chroma[l0, h0] * (1 - wh) + chroma[l0, h0 + 1] * wh
    hi = chroma[l0 + 1, h0] * (1 - wh) + chroma[l0 + 1, h0 + 1] * wh
    return lo * (1 - wl) + hi * wl


_FAST = {"nogil": True, "cache": CACHE, "fastmath": True, "error_model": "numpy"}


@numba.njit(**_FAST)
def _grey_row(
    gray: np.ndarray, grey: np.ndarray, k_: np.ndarray, fy_: np.ndarray, y_: np.ndarray
) -> None:
    """Pass 1: each pixel's L / 100, f(Y) and Y, from the table of 16-bit grey levels."""
    for x in range(gray.shape[0]):
        level = min(max(int(gray[x] * _LEVELS + np.float32(0.5)), 0), _LEVELS)
        k_[x], fy_[x], y_[x] = grey[level, 0], grey[level, 1], grey[level, 2]


@numba.njit(**_FAST)
def _linear_row(
    coef: np.ndarray, r0: int, r1: int, w1: np.float32, m: np.ndarray, row: np.ndarray
) -> None:
    """Pass 2, no lookups or branches (SIMD lanes): a/b from the local models of rows r0
    and r1 of ``coef`` blended by w1, then unclipped linear RGB."""
    k_, fy_, y_, r_, g_, b_, a_, b2_ = row
    ka0, ka1, kb0, kb1 = coef[0, r0], coef[0, r1], coef[1, r0], coef[1, r1]
    da0, da1, db0, db1 = coef[2, r0], coef[2, r1], coef[3, r0], coef[3, r1]
    w0 = np.float32(1.0) - w1
    m00, m01, m02, m10, m11, m12 = m[0, 0], m[0, 1], m[0, 2], m[1, 0], m[1, 1], m[1, 2]
    m20, m21, m22 = m[2, 0], m[2, 1], m[2, 2]
    inv_a, inv_b = np.float32(1.0 / A_SCALE), np.float32(1.0 / B_SCALE)
    knee, slope, offset = np.float32(F_KNEE), np.float32(F_SLOPE), np.float32(F_OFFSET)
    for x in range(k_.shape[0]):
        k, fy, lum = k_[x], fy_[x], y_[x]
        a = (ka0[x] * w0 + ka1[x] * w1) * k + da0[x] * w0 + da1[x] * w1
        b = (kb0[x] * w0 + kb1[x] * w1) * k + db0[x] * w0 + db1[x] * w1
        fx = fy + a * inv_a
        fz = fy - b * inv_b
        lx = fx * fx * fx if fx > knee else (fx - offset) * slope  # lab.f_inv
        lz = fz * fz * fz if fz > knee else (fz - offset) * slope
        r_[x] = m00 * lx + m01 * lum + m02 * lz
        g_[x] = m10 * lx + m11 * lum + m12 * lz
        b_[x] = m20 * lx + m21 * lum + m22 * lz
        a_[x], b2_[x] = a, b


@numba.njit(**_FAST)
def _gamut_row(row: np.ndarray, outside: np.ndarray, m: np.ndarray, chroma: np.ndarray) -> None:
    """Pass 3: list the pixels outside the sRGB gamut, then reduce each one's chroma at
    constant L and hue (clipping channels instead would change the lightness)."""
    k_, fy_, y_, r_, g_, b_, a_, b2_ = row
    n = 0
    for x in range(k_.shape[0]):
        lo, hi = min(r_[x], g_[x], b_[x]), max(r_[x], g_[x], b_[x])
        outside[n] = x
        n += (lo < 0.0) | (hi > 1.0)
    for j in range(n):
        x = outside[j]
        a, b = a_[x], b2_[x]
        c = math.sqrt(a * a + b * b)
        s = min(1.0, _max_chroma(k_[x] * 100.0, a, b, chroma) * _GAMUT_SAFETY / max(c, 1e-6))
        r_[x], g_[x], b_[x] = _linear(fy_[x], y_[x], a * s, b * s, m)


@numba.njit(**_FAST)
def _srgb_row(row: np.ndarray, out: np.ndarray, s8: np.ndarray, s16: np.ndarray) -> None:
    """Pass 4: linear light -> sRGB, rounded, from the 8- or 16-bit table."""
    r_, g_, b_ = row[3], row[4], row[5]
    if out.itemsize == 2:
        for x in range(r_.shape[0]):
            out[x, 0] = int(_lerp(s16, min(max(r_[x], 0.0), 1.0) * _LEVELS) + 0.5)
            out[x, 1] = int(_lerp(s16, min(max(g_[x], 0.0), 1.0) * _LEVELS) + 0.5)
            out[x, 2] = int(_lerp(s16, min(max(b_[x], 0.0), 1.0) * _LEVELS) + 0.5)
    else:
        for x in range(r_.shape[0]):
            out[x, 0] = s8[int(min(max(r_[x], 0.0), 1.0) * _LEVELS + 0.5)]
            out[x, 1] = s8[int(min(max(g_[x], 0.0), 1.0) * _LEVELS + 0.5)]
            out[x, 2] = s8[int(min(max(b_[x], 0.0), 1.0) * _LEVELS + 0.5)]


@numba.njit(**_FAST)
def _compose_rows(
    gray: np.ndarray,
    coef: np.ndarray,
    i0: np.ndarray,
    i1: np.ndarray,
    wrow: np.ndarray,
    t: _Tables,
    out: np.ndarray,
    row: np.ndarray,
    outside: np.ndarray,
) -> None:
    """Fill ``out`` (H, W, >=3) with the RGB of each pixel of ``gray`` (H, W).

    ``coef`` (4, h, W) float32 holds the guided filter's models already widened to full
    width; row y blends its rows ``i0[y]`` and ``i1[y]`` by ``wrow[y]``. ``row`` (8, W)
    float32 and ``outside`` (W,) int64 are scratch. Each row goes through four passes,
    each its own compiled function (kept apart, LLVM vectorises the arithmetic pass;
    inlined into one loop it did not, and the stage took twice as long).
    """
    grey, m64, chroma, s8, s16 = t
    m = m64.astype(np.float32)
    for y in range(gray.shape[0]):
        _grey_row(gray[y], grey, row[0], row[1], row[2])
        _linear_row(coef, i0[y], i1[y], np.float32(wrow[y]), m, row)
        _gamut_row(row, outside, m64, chroma)
        _srgb_row(row, out[y], s8, s16)


def guide_grid(
    gray: np.ndarray, ab_size: int, model_input: torch.Tensor | None = None
) -> torch.Tensor:
    """L ``(S, S)`` of the photograph on the guide grid for an a/b map of side ``ab_size``:
    the grid on which colour is fitted to lightness (and hints are propagated). The
    model's input L ``model_input`` is that grid when its side matches, and is reused."""
    side = GUIDE_SCALE * ab_size
    if model_input is not None and model_input.shape[-1] == side:
        return model_input.float().cpu()
    return gray_to_l(torch.tensor(thumbnail(gray, side)))


def compose(
    gray: np.ndarray,
    ab: torch.Tensor,
    bit_depth: int,
    alpha: np.ndarray | None = None,
    guide: torch.Tensor | None = None,
    hinted: torch.Tensor | None = None,
) -> np.ndarray:
    """Full-resolution RGB(A) ``(H, W, 3|4)`` of dtype uint8 or uint16 (as ``bit_depth``).

    ``gray`` is the (H, W) float32 grey from :mod:`colorize_cli.files.read`, ``ab`` the model's
    ``(2, h, w)`` prediction for it (on the square grid the image was squeezed to).
    ``hinted``: the same a/b corrected by hints, on ``guide``'s grid (from
    :func:`colorize_cli.colour.hints.apply_hints`). The filter is linear in the a/b, so
    the model's colour and what the hints changed are fitted apart: the first exactly as
    without hints (the parts nobody hinted render as before), the change in a window of
    :data:`CORRECTION_RADIUS`, so that a clicked spot keeps its colour.
    """
    ab = ab.float().cpu()
    if guide is None:
        guide = guide_grid(gray, ab.shape[-1])
    coef = guided_coefficients(guide, ab)
    if hinted is not None:
        model = F.interpolate(ab[None], size=guide.shape, mode="bilinear", align_corners=False)
        coef += guided_coefficients(guide, hinted - model[0], CORRECTION_RADIUS)
    return apply_coefficients(gray, coef, bit_depth, alpha)


def apply_coefficients(
    gray: np.ndarray, coef: torch.Tensor, bit_depth: int, alpha: np.ndarray | None = None
) -> np.ndarray:
    """:func:`compose` from the guided filter's coefficients ``(4, h, w)`` (from
    :func:`guided_coefficients`), which a film's frames may share over time."""
    height, width = gray.shape
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    out = np.empty((height, width, 3 if alpha is None else 4), dtype=dtype)
    # Widen once to full width (few rows); the loop blends rows as it goes.
    coef_wide = F.interpolate(
        coef[None], size=(coef.shape[1], width), mode="bilinear", align_corners=False
    )[0]
    i0, i1, w = _row_weights(height, coef.shape[1])
    row = np.empty((8, width), np.float32)
    outside = np.empty(width, np.int64)
    coef_wide = np.ascontiguousarray(coef_wide.numpy(), dtype=np.float32)
    _compose_rows(np.ascontiguousarray(gray), coef_wide, i0, i1, w, _tables(), out, row, outside)
    if alpha is not None:
        out[..., 3] = alpha
    return out
