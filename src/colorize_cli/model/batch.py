"""Stack the thumbnails of several images into one batch of the model's input.

Nothing needs undoing later: the model's a/b come back at a fixed small size and
:mod:`colorize_cli.colour.rgb` stretches them to each image's own full resolution.
"""

from __future__ import annotations

import numpy as np
import torch

from ..colour.lab import gray_to_l


def stack_shifts(shifts: list[torch.Tensor | None], classes: int) -> torch.Tensor | None:
    """Per-image reference shifts ``(Q,)`` (None: no reference) -> ``(N, Q)`` for
    :meth:`colorize_cli.model.colorizer.Colorizer.logits`, or None when no image has one."""
    if all(s is None for s in shifts):
        return None
    zero = torch.zeros(classes)
    return torch.stack([zero if s is None else s for s in shifts])


def stack_l(thumbs: list[np.ndarray]) -> torch.Tensor:
    """Thumbnails (from :func:`colorize_cli.colour.resample.thumbnail`) -> L batch
    ``(N, 1, S, S)`` in [0, 100]."""
    return gray_to_l(torch.from_numpy(np.stack(thumbs)))[:, None]
