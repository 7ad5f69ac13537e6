"""The loaded colorizer: weights checked and on the device once, then any number of
predictions.

Everything that runs the model (the local pipeline, evaluation, temperature choice, and
later engines and the server) goes through this one class, so that how L becomes the
network's input and how its logits become a/b is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from ..colour import bins
from ..colour.confidence import expected_error, features
from ..colour.hints import Hint, apply_hints
from ..colour.palette import palette, prior_shift
from ..colour.resample import thumbnail
from ..colour.rgb import compose, guide_grid
from ..config import DEFAULT_REFERENCE_STRENGTH
from ..files.controls import check_inside, reference_ab
from ..files.read import decode_pil
from .batch import stack_l
from .device import autocast, pick_device
from .net import normalise_l
from .weights import WeightsError, load_weights

MIN_SHARE = 0.03  # a candidate colour the model gives less than this is not offered
MAX_CANDIDATES = 6


@dataclass(frozen=True)
class Candidate:
    """A colour the model finds plausible at a point, at the photo's own lightness there,
    and the share of its belief it gives that colour."""

    rgb: tuple[int, int, int]
    p: float


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
        # the file's share of the training's rebalancing taken back, on every pass (the
        # colours offered at a point and a reference palette start from it too)
        self._undo = None
        if spec.undo_rebalancing and spec.prior is not None:
            shift = spec.undo_rebalancing * bins.rebalancing_shift(spec.prior, centres)
            self._undo = shift.to(self.device)[None, :, None, None]

    @property
    def input_size(self) -> int:
        """Side of the square the model sees; a/b come back at a quarter of it."""
        return self.spec.input_size

    def logits(self, L: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """L ``(N, 1, S, S)`` in [0, 100] -> logits ``(N, Q, S/4, S/4)`` on the device.

        ``shift`` ``(N, Q)`` is added to every pixel's logits (a reference palette, from
        :meth:`reference_shift`; zeros for images without one).
        """
        return self.logits_and_features(L, shift)[0]

    @torch.inference_mode()
    def logits_and_features(
        self, L: torch.Tensor, shift: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`logits`, and what hints need from the same pass: the encoder's features
        ``(N, C, S/8, S/8)``, float32 on the device (most photos have no hints, so
        nothing more is done with them or copied for them)."""
        cuda = self.device.type == "cuda"
        x = normalise_l(L).to(self.device, non_blocking=cuda)
        x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device):
            logits, features = self.net.forward_with_features(x)
        logits = logits.float()
        if self._undo is not None:
            logits = logits + self._undo
        if shift is not None:
            logits = logits + shift.to(self.device)[:, :, None, None]
        return logits, features.float()

    @torch.inference_mode()
    def decode(self, logits: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """Logits ``(N, Q, h, w)`` -> a/b ``(N, 2, h, w)``, float32 on the CPU, at
        ``temperature`` (default: the colorizer's)."""
        t = self.temperature if temperature is None else temperature
        return bins.annealed_mean(logits, self.centres, t).cpu()

    def predict_ab(self, L: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """L ``(N, 1, S, S)`` in [0, 100] -> a/b ``(N, 2, S/4, S/4)``, float32 on the CPU
        (:meth:`logits`, then :meth:`decode`)."""
        return self.decode(self.logits(L, shift))

    @torch.inference_mode()
    def confidence(
        self, logits: torch.Tensor, ab: torch.Tensor, L: torch.Tensor
    ) -> list[float | None]:
        """Each photo's confidence in [0, 1] (:mod:`colorize_cli.colour.confidence`) from
        the logits ``(N, Q, h, w)`` it was coloured from, their a/b and the model's input
        L; None for each where the weights carry no confidence estimate."""
        if self.spec.confidence is None:
            return [None] * len(logits)
        return self.spec.confidence.confidence(features(logits, self.centres, ab, L))

    @torch.inference_mode()
    def doubt(self, gray: np.ndarray, shift: torch.Tensor | None = None) -> torch.Tensor:
        """Where the model hesitates over a grey ``(H, W)`` in [0, 1]: the a/b error it
        expects of the colour it shows, ``(h, w)`` at its output grid, on the CPU."""
        L = stack_l([thumbnail(gray, self.input_size)])
        logits = self.logits(L, None if shift is None else shift[None])
        ab = self.decode(logits).to(logits.device)
        return expected_error(torch.softmax(logits, dim=1), self.centres, ab)[0].cpu()

    def reference_shift(
        self, ref_ab: torch.Tensor, strength: float = DEFAULT_REFERENCE_STRENGTH
    ) -> torch.Tensor:
        """The logit shift ``(Q,)`` that makes a reference's a/b palette (``(2, h, w)``,
        from :func:`colorize_cli.files.controls.reference_ab`) the prior."""
        if self.spec.prior is None:
            raise WeightsError(
                "these weights carry no training prior (bins.prior), so a reference palette "
                "cannot replace it; retrain them with this version of colorize-train"
            )
        centres = self.centres.cpu()
        return prior_shift(palette(ref_ab, centres), self.spec.prior, centres, strength)

    def candidates(
        self, gray: np.ndarray, x: float, y: float, shift: torch.Tensor | None = None
    ) -> list[Candidate]:
        """The distinct colours the model hesitates between at pixel (``x``, ``y``) of a
        grey ``(H, W)`` in [0, 1] (upright, full size): its distribution there (at
        temperature 1) grouped into colour families
        (:func:`colorize_cli.colour.bins.families`), each at the photo's lightness at
        that point, most likely first, those under :data:`MIN_SHARE` left out. Raises
        ``ValueError`` for a point outside the photo."""
        h, w = gray.shape
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"point ({x:g}, {y:g}) is outside the {w}x{h} photo")
        L = stack_l([thumbnail(gray, self.input_size)])
        probs = torch.softmax(self.logits(L, None if shift is None else shift[None]), dim=1)
        where = torch.tensor([[[[2 * (x + 0.5) / w - 1, 2 * (y + 0.5) / h - 1]]]])
        at = F.grid_sample(probs.cpu(), where.to(probs.dtype), align_corners=False)[0, :, 0, 0]
        # each colour as the output would show it at that pixel: through the same
        # compose, which pulls a colour the sRGB gamut lacks in at the pixel's lightness
        pixel = np.ascontiguousarray(gray[int(y) : int(y) + 1, int(x) : int(x) + 1])
        out = []
        for ab, share in bins.families(at, self.centres.cpu())[:MAX_CANDIDATES]:
            if share < MIN_SHARE:
                break
            rgb = compose(pixel, ab.float().view(2, 1, 1), 8)[0, 0]
            out.append(Candidate(tuple(int(v) for v in rgb), round(share, 4)))  # type: ignore[arg-type]
        return out

    def colorize_gray(
        self,
        gray: np.ndarray,
        bit_depth: int = 8,
        alpha: np.ndarray | None = None,
        shift: torch.Tensor | None = None,
        hints: list[Hint] | None = None,
    ) -> np.ndarray:
        """(H, W) float32 grey in [0, 1] -> (H, W, 3|4) uint8 or uint16 RGB(A), with an
        optional reference shift ``(Q,)`` and hints in the grey's own pixel coordinates."""
        L = stack_l([thumbnail(gray, self.input_size)])
        logits, features = self.logits_and_features(L, None if shift is None else shift[None])
        ab = self.decode(logits)[0]
        if not hints:
            return compose(gray, ab, bit_depth, alpha)
        guide = guide_grid(gray, ab.shape[-1])
        size = (gray.shape[1], gray.shape[0])
        hinted = apply_hints(guide, ab, features[0], hints, size)
        return compose(gray, ab, bit_depth, alpha, guide, hinted)

    def colorize(
        self,
        image: Image.Image,
        reference: Image.Image | None = None,
        hints: list[Hint] | None = None,
        reference_strength: float = DEFAULT_REFERENCE_STRENGTH,
    ) -> Image.Image:
        """Colour one Pillow image (any mode); returns 8-bit RGB, or RGBA if it had alpha.

        ``reference``: a colour photo whose palette to use. ``hints``: known colours at
        points of ``image`` as shown upright (after its EXIF orientation).
        """
        d = decode_pil(image)
        if hints:
            check_inside(hints, d.size)
        alpha = None if d.alpha is None else _to_8bit(d.alpha)
        shift = None
        if reference is not None:
            shift = self.reference_shift(reference_ab(reference), reference_strength)
        rgb = self.colorize_gray(d.gray, 8, alpha, shift, hints)
        return Image.fromarray(rgb, mode="RGBA" if rgb.shape[2] == 4 else "RGB")


def _to_8bit(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.uint8 else (a.astype(np.uint32) * 255 // 65535).astype(np.uint8)
