"""Steady colour over a shot of film: the model's logits averaged over time where the
picture stands still, started over at cuts.

A frame coloured on its own flickers: where the model hesitates between two hues, grain
and exposure flicker in the grey tip it one way, then the other. The stabiliser keeps a
running average of the model's logits per a/b cell, so the choice among hues is made on
the evidence of many frames. Averaging logits is a geometric mean of the per-frame colour
distributions: one hue wins, where averaging a/b would blend two hues into brown.

The same average, with the same weights, then holds the guided filter's coefficients
(:mod:`colorize_cli.colour.rgb`), which are fitted to each frame's own grey: without it,
exposure flicker and grain would refit them every frame and the colour would shimmer at
full resolution even with steady logits. Where the whole frame brightens or darkens a
lot (a fade), the coefficients follow the current frame more, so the chroma fitted to
bright frames does not carry into dark ones.

The camera's motion is followed cheaply: the shift between consecutive frames (phase
correlation of the model's small input, to a fraction of a pixel) moves the state with
the picture, so a pan keeps its colour. What still differs after that (things moving on
their own) lowers the past's weight where it happens, so moving things leave no colour
trail. Changes of the whole frame's brightness (flicker, fades) are taken out first: each
frame's grey is compared after normalising its mean and spread. A cut is a jump in the
normalised difference of the coarse layout far above its running level; there the state
starts over, so no colour carries from one shot into the next.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .lab import L_OFFSET
from .rgb import guided_coefficients

# L units of local change (after the camera's shift and the frame's overall brightness
# change are taken out) at which the past's weight has fallen to 1/e. Grain averaged over
# an a/b cell stays well below it; a zoom's edges and moving things reach it. Measured in
# benchmarks/flicker.py: 2 leaves a pan's flicker at 0.30 of unstabilised, 8 at 0.20,
# 16 at 0.18 but with twice the colour trail behind a moving object.
MOTION_SCALE = 8.0
STD_FLOOR = 2.0  # L units: a nearly black frame (a fade's end) is not stretched into noise
CUT_CELLS = 8  # the coarse layout compared for cuts: grain and motion average out in it
CUT_FLOOR = 0.6  # normalised difference below which no frame is a cut (fades reach 0.4)
CUT_RATIO = 3.0  # a cut is this many times the running level of the difference (pans: 0.2)
LEVEL_KEEP = 0.8  # weight of the past in that running level
# L units of change in the frame's mean lightness at which the guided coefficients' past
# weight has fallen to 1/e. In a fade, coefficients fitted to brighter frames would carry
# their chroma into the dark ones (measured: colourfulness 1.65x unstabilised, PSNR -0.35
# dB); at 4 that is 1.05x and -0.1 dB, for a little more flicker on exposure flicker.
FADE_SCALE = 4.0
MAX_SHIFT = 0.125  # of the frame: a larger estimated shift is no pan, and is not followed


def warm_up_frames(window: int) -> int:
    """How many finished frames before the first one still to do a resumed film runs
    through the stabiliser again (not written), so that the state it resumes from is the
    one an uninterrupted run had. Three windows: what is older weighs under 0.3% of it."""
    return 3 * window if window > 1 else 0


def layout(L: torch.Tensor, cells: int) -> tuple[torch.Tensor, float]:
    """L ``(S, S)`` averaged onto a ``cells x cells`` grid and normalised to zero mean and
    unit spread, with that spread (in L units)."""
    g = F.adaptive_avg_pool2d(L[None, None].float(), cells)[0, 0]
    spread = max(float(g.std()), STD_FLOOR)
    return (g - g.mean()) / spread, spread


def shot_change(before: torch.Tensor, after: torch.Tensor) -> float:
    """How much the coarse layout changed between two frames' L ``(S, S)``, in units of
    its spread: the statistic a cut is a jump of. Consecutive frames of a shot score
    about 0.2 (pans), fades up to 0.4; unrelated photos 0.4 to 1.5, median 1.1 (measured
    on 40 neighbouring pairs of each training set: 0 to 7% of them under 0.6)."""
    z_before, _ = layout(before, CUT_CELLS)
    z_after, _ = layout(after, CUT_CELLS)
    return float((z_after - z_before).abs().mean())


def same_shot(before: torch.Tensor, after: torch.Tensor) -> bool:
    """Whether two frames could follow each other within one shot (no level to compare
    with, so only the floor under which nothing is a cut)."""
    return shot_change(before, after) <= CUT_FLOOR


def estimate_shift(before: torch.Tensor, after: torch.Tensor) -> tuple[float, float]:
    """How far the picture moved from ``before`` to ``after`` (both ``(S, S)``), in their
    pixels (down, right): phase correlation with a parabola through the peak."""
    n = before.shape[-1]
    window = torch.hann_window(n, periodic=False, dtype=torch.float32, device=before.device)
    window = window[:, None] * window[None, :]
    fa = torch.fft.rfft2((before - before.mean()) * window)
    fb = torch.fft.rfft2((after - after.mean()) * window)
    cross = fb * fa.conj()
    corr = torch.fft.irfft2(cross / cross.abs().clamp(min=1e-9), s=before.shape)
    peak = int(corr.argmax())
    py, px = divmod(peak, corr.shape[-1])

    def refine(c_minus: float, c0: float, c_plus: float) -> float:
        denom = c_minus - 2 * c0 + c_plus
        return 0.0 if abs(denom) < 1e-12 else 0.5 * (c_minus - c_plus) / denom

    h, w = corr.shape
    dy = py + refine(
        float(corr[(py - 1) % h, px]), float(corr[py, px]), float(corr[(py + 1) % h, px])
    )
    dx = px + refine(
        float(corr[py, (px - 1) % w]), float(corr[py, px]), float(corr[py, (px + 1) % w])
    )
    return (dy - h if dy > h / 2 else dy), (dx - w if dx > w / 2 else dx)


def translate(t: torch.Tensor, dy: float, dx: float) -> torch.Tensor:
    """``t`` ``(C, H, W)`` moved by (dy, dx) of its own pixels, bilinear; what comes into
    view repeats the border (and is then freed by the motion weight)."""
    if dy == 0 and dx == 0:
        return t
    h, w = t.shape[-2:]
    ys = torch.linspace(-1, 1, h, device=t.device) - 2 * dy / max(h - 1, 1)
    xs = torch.linspace(-1, 1, w, device=t.device) - 2 * dx / max(w - 1, 1)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1)[None]
    return F.grid_sample(t[None], grid, mode="bilinear", padding_mode="border", align_corners=True)[
        0
    ]


def exposure_matched(coef: torch.Tensor, gain: float) -> torch.Tensor:
    """Coefficients that colour a frame as the averaged ones colour it made ``gain``
    times brighter (in L + 16, which a scan's exposure scales about evenly): exposure
    flicker then no longer moves every pixel's colour along with its lightness."""
    a, b = coef[:2], coef[2:]
    return torch.cat((a * gain, b + a * (L_OFFSET * (gain - 1.0) / 100.0)))


class Cuts:
    """Where a film's shots start: feed it every frame's model input in order. The
    stabiliser starts over where it says, and a film's keyframes (colour/keyframes.py)
    reach as far as it says, from the same frames and so at the same places."""

    def __init__(self) -> None:
        self._L: torch.Tensor | None = None
        self.before: torch.Tensor | None = None  # the model input of the frame before
        self._size: tuple[int, int] | None = None
        self._level = 0.0
        self.cuts = 0  # where a new shot started, not counting the first frame

    def starts_shot(self, L: torch.Tensor, size: tuple[int, int]) -> bool:
        """Whether the frame with model input L ``(S, S)`` and own ``size`` starts a shot
        (the first frame does, as does one of another size, neither counted as a cut).
        After it, :attr:`before` is the frame before this one."""
        prev = self.before = self._L
        self._L = L
        if prev is None or self._size != size:
            self._size, self._level = size, 0.0
            return True
        score = shot_change(prev, L)
        if score > max(CUT_FLOOR, CUT_RATIO * self._level):
            self.cuts += 1
            self._level = 0.0
            return True
        self._level = LEVEL_KEEP * self._level + (1 - LEVEL_KEEP) * score
        return False


def followed_shift(
    prev: torch.Tensor, L: torch.Tensor, cells: int
) -> tuple[float, float, torch.Tensor]:
    """The camera's shift from ``prev`` to ``L`` (model inputs ``(S, S)``) in their
    pixels, (0, 0) where no shift explains the change (grain or a smooth picture fooled
    the estimate, or it is too large to be a pan), and what changed beyond it on a
    ``cells``-square layout, in units of the frame's spread (with that spread)."""
    n = L.shape[-1]
    z, spread = layout(L, cells)
    still, _ = layout(prev, cells)
    change = (z - still).abs()
    dy, dx = estimate_shift(prev, L)
    if 0 < max(abs(dy), abs(dx)) <= MAX_SHIFT * n:
        moved, _ = layout(translate(prev[None], dy, dx)[0], cells)
        if (z - moved).abs().mean() < change.mean():  # the shift explains the change
            return dy, dx, (z - moved).abs() * spread
    return 0.0, 0.0, change * spread


class Stabiliser:
    """The temporal state of one shot: feed it every frame's logits in order."""

    def __init__(self, window: int) -> None:
        # an exponential average with the centre of mass of a ``window``-frame box: it
        # lies (window - 1) / 2 frames back
        self.keep = 1.0 - 2.0 / (window + 1) if window > 1 else 0.0
        self._state: torch.Tensor | None = None  # logits (Q, h, w)
        self._coef: torch.Tensor | None = None  # guided coefficients (4, H, W)
        self._exposure = 0.0  # the guide's mean L + 16 those coefficients were fitted at
        self._keep: torch.Tensor | None = None  # the last frame's weights of the past
        self._shift = (0.0, 0.0)  # the last frame's motion, in model-input pixels
        self._bright = 1.0  # how little the last frame's mean lightness changed, 0-1
        self._cuts = Cuts()

    @property
    def cuts(self) -> int:
        """Where the state started over, not counting the first frame."""
        return self._cuts.cuts

    def __call__(
        self, logits: torch.Tensor, L: torch.Tensor, size: tuple[int, int]
    ) -> torch.Tensor:
        """Logits ``(Q, h, w)`` of one frame, the model's input L ``(S, S)`` it came from,
        and the frame's own size -> the logits to decode for it."""
        L = L.to(logits.device).float()
        if self._cuts.starts_shot(L, size) or self.keep == 0:
            self._state, self._keep, self._coef = logits.clone(), None, None
            return logits
        prev = self._cuts.before
        assert prev is not None and self._state is not None
        n, cells = L.shape[-1], logits.shape[-1]
        dy, dx, change = followed_shift(prev, L, cells)
        self._shift = (dy / n, dx / n)  # as a fraction of the frame
        self._bright = math.exp(-abs(float(L.mean() - prev.mean())) / FADE_SCALE)
        # local change in L units, widened by a cell so a moving edge frees both sides
        moved = F.max_pool2d(change[None, None], 3, 1, 1)[0, 0]
        self._keep = keep = self.keep * torch.exp(-moved / MOTION_SCALE)
        past = translate(self._state, dy * cells / n, dx * cells / n)
        self._state = keep * past + (1 - keep) * logits
        return self._state

    def coefficients(self, guide: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """The guided filter's coefficients ``(4, H, W)`` (for
        :func:`colorize_cli.colour.rgb.apply_coefficients`) of the frame last given to
        :meth:`__call__`, fitted to its guide grid and decoded a/b, and averaged with the
        same weights and motion (started over with it)."""
        coef = guided_coefficients(guide, ab.float().cpu())
        exposure = float(guide.float().mean()) + L_OFFSET
        if self._keep is None or self._coef is None or self._coef.shape != coef.shape:
            self._coef, self._exposure = coef, exposure
            return coef
        h, w = coef.shape[-2:]
        keep = F.interpolate(self._keep[None, None].cpu(), size=(h, w), mode="bilinear")[0]
        keep = keep * self._bright
        past = translate(self._coef, self._shift[0] * h, self._shift[1] * w)
        self._coef = keep * past + (1 - keep) * coef
        k = float(keep.mean())
        self._exposure = k * self._exposure + (1 - k) * exposure
        return exposure_matched(self._coef, self._exposure / exposure)
