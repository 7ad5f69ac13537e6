"""Join predicted a/b with the image's own full-resolution lightness and return RGB.

The a/b map is small (a quarter of the model's input); it is stretched bilinearly to the
full image size, joined with the L of every original pixel, pulled into the sRGB gamut
without touching L, and converted to 8- or 16-bit RGB. Full-resolution work is done in
strips of rows, so peak memory stays a few strips whatever the image size; strips give the
same pixels as doing the whole image at once, because each output row only depends on its
own two neighbouring a/b rows.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from .lab import fit_ab_to_gamut, gray_to_l, lab_to_rgb

STRIP_PIXELS = 4_000_000  # full-resolution pixels converted at a time


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
    ``(2, h, w)`` prediction for it.
    """
    height, width = gray.shape
    dtype, scale = (np.uint16, 65535.0) if bit_depth == 16 else (np.uint8, 255.0)
    channels = 3 if alpha is None else 4
    out = np.empty((height, width, channels), dtype=dtype)
    ab = ab.float().cpu()
    # Widen once to full width (h rows only); rows are then interpolated strip by strip.
    ab_wide = F.interpolate(
        ab[None], size=(ab.shape[1], width), mode="bilinear", align_corners=False
    )[0]
    i0, i1, w = _row_weights(height, ab.shape[1])
    rows = max(1, strip_pixels // max(1, width))
    for top in range(0, height, rows):
        sl = slice(top, min(height, top + rows))
        wt = w[sl][None, :, None]
        ab_strip = ab_wide[:, i0[sl]] * (1 - wt) + ab_wide[:, i1[sl]] * wt
        L = gray_to_l(torch.from_numpy(gray[sl]))[None]
        lab = fit_ab_to_gamut(torch.cat((L, ab_strip), dim=0))
        rgb = lab_to_rgb(lab).permute(1, 2, 0).numpy()
        out[sl, :, :3] = np.rint(rgb * scale).astype(dtype)
        if alpha is not None:
            out[sl, :, 3] = alpha[sl]
    return out
