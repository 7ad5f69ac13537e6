"""The loaded colorizer: weights checked and on the device once, then any number of
predictions.

Everything that runs the model (the local pipeline, evaluation, temperature choice, and
later engines and the server) goes through this one class, so that how L becomes the
network's input and how its logits become a/b is written once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..colour import bins
from ..colour.resample import thumbnail
from ..colour.rgb import compose
from ..files.read import decode_pil
from .batch import stack_l
from .device import pick_device
from .net import normalise_l
from .weights import load_weights


class Colorizer:
    """The loaded model: build it once and reuse it for every image of a run."""

    def __init__(
        self, weights: Path | None = None, device: str = "auto", temperature: float | None = None
    ) -> None:
        # On the CPU torch already uses every physical core; OMP_NUM_THREADS still rules.
        self.device = pick_device(device)
        net, centres, spec = load_weights(weights)
        self.spec = spec
        self.temperature = temperature if temperature is not None else spec.temperature
        self.net = net.to(self.device, memory_format=torch.channels_last).eval()
        self.centres = centres.to(self.device)

    @property
    def input_size(self) -> int:
        """Side of the square the model sees; a/b come back at a quarter of it."""
        return self.spec.input_size

    @torch.inference_mode()
    def predict_ab(self, L: torch.Tensor) -> torch.Tensor:
        """L ``(N, 1, S, S)`` in [0, 100] -> a/b ``(N, 2, S/4, S/4)``, float32 on the CPU."""
        cuda = self.device.type == "cuda"
        x = normalise_l(L).to(self.device, non_blocking=cuda)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
            logits = self.net(x)
        return bins.annealed_mean(logits, self.centres, self.temperature).cpu()

    def colorize_gray(
        self, gray: np.ndarray, bit_depth: int = 8, alpha: np.ndarray | None = None
    ) -> np.ndarray:
        """(H, W) float32 grey in [0, 1] -> (H, W, 3|4) uint8 or uint16 RGB(A)."""
        ab = self.predict_ab(stack_l([thumbnail(gray, self.input_size)]))[0]
        return compose(gray, ab, bit_depth, alpha)

    def colorize(self, image: Image.Image) -> Image.Image:
        """Colour one Pillow image (any mode); returns 8-bit RGB, or RGBA if it had alpha."""
        d = decode_pil(image)
        alpha = None if d.alpha is None else _to_8bit(d.alpha)
        rgb = self.colorize_gray(d.gray, 8, alpha)
        return Image.fromarray(rgb, mode="RGBA" if rgb.shape[2] == 4 else "RGB")


def _to_8bit(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.uint8 else (a.astype(np.uint32) * 255 // 65535).astype(np.uint8)
