"""Shrink each image's grey to the model's square input and stack several into a batch.

Nothing needs undoing later: the model's a/b come back at a fixed small size and
:mod:`colorize_cli.rgb` stretches them to each image's own full resolution.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .lab import gray_to_l


def thumbnail(gray: np.ndarray, size: int) -> np.ndarray:
    """(H, W) float32 grey -> (size, size) float32 grey, area-filtered (Pillow's resize
    widens its filter when shrinking, so a 100-megapixel scan does not alias)."""
    img = Image.fromarray(gray, mode="F") if gray.dtype == np.float32 else Image.fromarray(gray)
    return np.asarray(img.resize((size, size), Image.BILINEAR), dtype=np.float32)


def stack_l(thumbs: list[np.ndarray]) -> torch.Tensor:
    """Thumbnails -> L batch ``(N, 1, S, S)`` in [0, 100]."""
    return gray_to_l(torch.from_numpy(np.stack(thumbs)))[:, None]
