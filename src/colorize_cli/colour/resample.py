"""Shrink a full-resolution grey to a small square grid.

The model sees every photograph at one small square size, and the guided upsampling in
:mod:`colorize_cli.colour.rgb` fits its colour models on a grid of the same kind, so both
shrink through this one function.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def thumbnail(gray: np.ndarray, size: int) -> np.ndarray:
    """(H, W) float32 grey -> (size, size) float32 grey, area-filtered (Pillow's resize
    widens its filter when shrinking, so a 100-megapixel scan does not alias)."""
    img = Image.fromarray(gray, mode="F") if gray.dtype == np.float32 else Image.fromarray(gray)
    return np.asarray(img.resize((size, size), Image.BILINEAR), dtype=np.float32)
