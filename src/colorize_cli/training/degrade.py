"""What time and copying do to a photograph, made on purpose: the inputs of the archive-like
evaluation and of training on degraded photos.

Archives hold old prints, flatbed scans of negatives and telecined film, not clean modern
photos turned grey. Each degradation here imitates one thing that happens to them, on the
grey that ``colorize`` would read (sRGB-encoded grey of the lightness, in [0, 1]). Toned
prints and a colour cast act on the colour photo, which is then made grey, as a user
converting such a scan would. Sizes scale with the photo's short side, so a 128-pixel
training crop and a 500-pixel evaluation photo are degraded alike.

Everything is drawn from the ``numpy`` generator passed in: the same seed gives the same
degraded photo.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from ..colour.lab import l_to_gray, rgb_to_lab

Gen = np.random.Generator

# paper tones from black to white: a toned print is a blend of its two ends
TONES = {
    "sepia": ((0.16, 0.09, 0.04), (1.0, 0.95, 0.84)),
    "selenium": ((0.14, 0.08, 0.12), (0.98, 0.95, 0.95)),
    "cyanotype": ((0.02, 0.10, 0.30), (0.88, 0.95, 1.0)),
}


def grey_of(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(3, H, W)`` -> the grey ``colorize`` reads from it ``(H, W)``: its own
    lightness, sRGB-encoded."""
    return l_to_gray(rgb_to_lab(rgb[None])[0, 0])


def _blur(g: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a ``(H, W)`` grey, edges reflected."""
    if sigma < 0.3:
        return g
    r = max(1, math.ceil(3 * sigma))
    r = min(r, g.shape[0] - 1, g.shape[1] - 1)
    x = torch.arange(-r, r + 1, dtype=g.dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    t = F.pad(g[None, None], (r, r, r, r), mode="reflect")
    t = F.conv2d(t, k.view(1, 1, 1, -1))
    return F.conv2d(t, k.view(1, 1, -1, 1))[0, 0]


def _short(g: torch.Tensor) -> int:
    return min(g.shape[-2:])


def _noise(g: torch.Tensor, rng: Gen) -> torch.Tensor:
    return torch.from_numpy(rng.standard_normal(g.shape).astype(np.float32))


def _smooth_field(g: torch.Tensor, rng: Gen, cells: int) -> torch.Tensor:
    """Noise that varies over a few ``cells`` across the photo, in about [-1, 1]."""
    coarse = torch.from_numpy(rng.standard_normal((1, 1, cells, cells)).astype(np.float32))
    return F.interpolate(coarse, size=g.shape, mode="bicubic", align_corners=True)[0, 0] / 1.5


def grain(g: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """Film grain: clumped (noise blurred over a pixel or two) and strongest in the mid-tones,
    where silver grains are half developed."""
    clump = _blur(_noise(g, rng), 0.6 + 0.8 * s)
    clump = clump / clump.std().clamp_min(1e-6)
    amount = 0.015 + 0.04 * s
    return g + amount * (0.25 + 3.0 * g * (1 - g)) * clump


def soft(g: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """Soft focus: an out-of-focus lens or an enlarger's diffuser."""
    return _blur(g, _short(g) * (0.002 + 0.008 * s))


def motion(g: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """Motion blur: the camera moved during a long exposure, along one direction."""
    length = _short(g) * (0.008 + 0.025 * s)
    angle = rng.uniform(0, math.pi)
    n = max(3, math.ceil(length))
    h, w = g.shape
    acc = torch.zeros_like(g)
    for t in np.linspace(-length / 2, length / 2, n):
        dx, dy = t * math.cos(angle), t * math.sin(angle)
        theta = torch.tensor([[[1.0, 0.0, 2 * dx / w], [0.0, 1.0, 2 * dy / h]]], dtype=g.dtype)
        grid = F.affine_grid(theta, (1, 1, h, w), align_corners=False)
        acc += F.grid_sample(g[None, None], grid, padding_mode="reflection", align_corners=False)[
            0, 0
        ]
    return acc / n


def faded(g: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """Faded print: blacks gone grey and whites dimmed, a flat, low-contrast photo."""
    lo = 0.06 + 0.22 * s * rng.uniform(0.6, 1.0)
    hi = 0.97 - 0.15 * s * rng.uniform(0.3, 1.0)
    return lo + g * (hi - lo)


def crushed(g: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """Crushed levels: a hard print or a bad scan, shadows and highlights clipped."""
    c = 0.04 + 0.12 * s
    gamma = math.exp(rng.uniform(-0.35, 0.35) * s)
    return ((g - c) / (1 - 2 * c)).clamp(0, 1) ** gamma


def uneven(g: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """Uneven fading and stains: a slow wash of light and dark over the print, and a few
    water or foxing stains."""
    out = g * (1 + (0.08 + 0.2 * s) * _smooth_field(g, rng, 4))
    h, w = g.shape
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = _short(g) * rng.uniform(0.04, 0.15)
        blob = torch.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))
        out = out + rng.choice((-1.0, 1.0)) * (0.1 + 0.2 * s) * blob * (0.3 + out * 0.7)
    return out


def vignette(g: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """Vignetting: corners darkened by an old lens or an enlarger's uneven light."""
    h, w = g.shape
    y = torch.linspace(-1, 1, h)[:, None]
    x = torch.linspace(-1, 1, w)[None, :]
    r2 = (x * x + y * y) / 2
    return g * (1 - (0.25 + 0.45 * s) * r2**1.5)


def jpeg(g: torch.Tensor, quality: int) -> torch.Tensor:
    """Grey 8-bit JPEG at ``quality``, decoded again."""
    buf = io.BytesIO()
    arr = (g.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    Image.fromarray(arr, mode="L").save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return torch.from_numpy(np.asarray(im, dtype=np.float32) / 255)


def scanner(g: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """A cheap scan, saved small: sensor noise, then JPEG."""
    noisy = (g + (0.008 + 0.025 * s) * _noise(g, rng)).clamp(0, 1)
    return jpeg(noisy, round(75 - 55 * s))


def dust(g: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """Dust and hair (white specks on a print from a dirty negative, dark from a dirty
    print) and vertical scratches along a film."""
    out = g.clone()
    h, w = g.shape
    count = int(h * w / 4000 * (0.3 + s))
    ys, xs = rng.integers(0, h, count), rng.integers(0, w, count)
    values = torch.from_numpy(rng.choice((0.05, 0.95), count).astype(np.float32))
    out[ys, xs] = values
    if rng.random() < 0.5:  # specks of two pixels for larger dust
        out[ys, np.minimum(xs + 1, w - 1)] = values
    for _ in range(rng.integers(0, 1 + round(3 * s))):
        x = rng.integers(0, w)
        top, bottom = sorted(rng.integers(0, h, 2))
        out[top : bottom + 1, x] = float(rng.choice((0.1, 0.9)))
    return out


def halftone(g: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """A newspaper print: a dot screen at 45 degrees, scanned softly."""
    period = max(3.0, _short(g) / (90 - 40 * s))
    h, w = g.shape
    yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    u = (xx + yy) / math.sqrt(2) * 2 * math.pi / period
    v = (xx - yy) / math.sqrt(2) * 2 * math.pi / period
    screen = (torch.cos(u) + torch.cos(v) + 2) / 4  # 0..1 over each cell
    ink = (screen > g).float()  # darker greys get larger dots
    return _blur(1 - ink, period * 0.45)


def toned(rgb: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """A toned print (sepia, selenium or cyanotype), made grey again: its lightness."""
    y = grey_of(rgb)
    dark, light = TONES[str(rng.choice(sorted(TONES)))]
    a, b = torch.tensor(dark)[:, None, None], torch.tensor(light)[:, None, None]
    tone = a + (b - a) * y
    return grey_of(y + s * (tone - y))


def cast(rgb: torch.Tensor, s: float, rng: Gen) -> torch.Tensor:
    """A colour cast (a faded colour print or a wrongly balanced scan), made grey again:
    colours change brightness against each other."""
    gain = torch.from_numpy(1 + (0.15 + 0.35 * s) * rng.uniform(-1, 1, 3).astype(np.float32))
    return grey_of((rgb * gain[:, None, None]).clamp(0, 1))


GreyStep = Callable[[torch.Tensor, float, Gen], torch.Tensor]

# the order they happen in: the print's colour, the optics, the print, age, the scan
COLOUR_STEPS: dict[str, GreyStep] = {"toned": toned, "cast": cast}
GREY_STEPS: dict[str, GreyStep] = {
    "soft": soft,
    "motion": motion,
    "halftone": halftone,
    "grain": grain,
    "faded": faded,
    "crushed": crushed,
    "uneven": uneven,
    "vignette": vignette,
    "dust": dust,
    "scanner": scanner,
}
KINDS = (*COLOUR_STEPS, *GREY_STEPS)


def degrade(rgb: torch.Tensor, kinds: Sequence[str], strength: float, rng: Gen) -> torch.Tensor:
    """A colour photo ``(3, H, W)`` in [0, 1] -> the grey of its degraded copy ``(H, W)``,
    each of ``kinds`` applied at ``strength`` (0 mild .. 1 strong), in the order they
    would happen to a real print."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown degradations: {', '.join(sorted(unknown))}")
    g = None
    for name, step in COLOUR_STEPS.items():
        if name in kinds:
            g = step(rgb if g is None else g.expand(3, -1, -1), strength, rng)
    g = grey_of(rgb) if g is None else g
    for name, step in GREY_STEPS.items():
        if name in kinds:
            g = step(g, strength, rng).clamp(0, 1)
    return g.clamp(0, 1)


def archive_mix(rng: Gen) -> tuple[tuple[str, ...], float]:
    """A random archive photo's troubles: one to three kinds, at a random strength."""
    k = int(rng.integers(1, 4))
    kinds = tuple(str(x) for x in rng.choice(KINDS, size=k, replace=False))
    return kinds, float(rng.uniform(0.2, 1.0))
