"""Flicker of coloured film, with and without temporal stabilisation, beside quality.

    python benchmarks/flicker.py [--photos ../shared/data/eval/kodak24] [--count 6]
                                 [--frames 48] [--windows 0,4,8,16]

Builds test sequences from colour photos, so the true colour of every frame is known:
  still a static shot of one photo, with film grain and exposure flicker;
  pan   a slow pan and zoom over one photo, with the same grain and flicker;
  cut   two such shots joined by a hard cut;
  fade  a shot fading to black and back;
  move  a square from another photo crossing a still shot.
Each sequence is coloured through the real stages (thumbnail, batched model, the
stabiliser, full-resolution compose) once per window (0 = off) and scored:
  flicker   mean frame-to-frame change of a/b (Euclidean, a/b units) over the pixels
            whose grey barely changed (their L moved less than 1 unit);
  block     the same over the means of 8x8 blocks (grain averages out: what an eye
            sees as colour pumping), and "over floor": its excess over the true
            frames' own figure, as a share of the unstabilised excess;
  psnr      per-frame PSNR against the true colour, mean;
  colour    colourfulness ratio against the truth (Hasler and Suesstrunk), mean;
  resets    where the stabiliser started over (a cut is expected in "cut" only);
  truth     the same figures for the true colour frames: the flicker metric's floor
            (resampling and 8-bit rounding of the truth).
Also checks that the first frame after the cut is coloured exactly as without
stabilisation. Prints a table; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from colorize_cli import Colorizer
from colorize_cli.colour.lab import gray_to_l, rgb_to_lab
from colorize_cli.colour.resample import thumbnail
from colorize_cli.colour.rgb import apply_coefficients, compose, guide_grid
from colorize_cli.colour.temporal import Stabiliser
from colorize_cli.files.read import decode_pil
from colorize_cli.model.batch import stack_l
from colorize_cli.training import metrics

SIZE = (384, 256)  # frame width, height
Box = tuple[float, float, float, float]  # the part of the photo a frame shows


@dataclass
class Sequence:
    truth: list[np.ndarray]  # RGB frames
    greys: list[np.ndarray]  # the input: grey with grain and exposure flicker
    clean: list[np.ndarray]  # the scene's own grey, to tell where it changed
    boxes: list[Box]  # per frame, to follow the camera when comparing frames
    shots: list[int]  # per frame: frames of different shots are never compared
    # per frame, where a moving object has been within the last frames but is not now
    # (a "move" sequence only): where a colour trail would show
    uncovered: list[np.ndarray] | None = None


def pan(photo: np.ndarray, frames: int, seed: int) -> tuple[list[np.ndarray], list[Box]]:
    """A slow pan (a fifth of the width) and zoom (to 85%) over ``photo``: RGB frames and
    the box of the photo each shows."""
    h, w = photo.shape[:2]
    im = Image.fromarray(photo)
    out, boxes = [], []
    for t in np.linspace(0.0, 1.0, frames):
        scale = 0.8 - 0.12 * t
        cw, ch = w * scale, h * scale
        x0 = (w - cw) * (0.1 + 0.8 * t if seed % 2 else 0.9 - 0.8 * t)
        y0 = (h - ch) * 0.5
        box = (x0, y0, x0 + cw, y0 + ch)
        out.append(np.asarray(im.resize(SIZE, Image.BICUBIC, box=box)))
        boxes.append(box)
    return out, boxes


def film_grey(clean: np.ndarray, rng: np.random.Generator, flicker: float = 0.04) -> np.ndarray:
    """A grey frame as a film scan has it: grain and exposure flicker."""
    gain = 1.0 + flicker * rng.standard_normal()
    grain = rng.normal(0.0, 0.02, clean.shape).astype(np.float32)
    return np.clip(clean * gain + grain, 0.0, 1.0).astype(np.float32)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return decode_pil(Image.fromarray(rgb)).gray


def sequences(photos: list[np.ndarray], frames: int) -> dict[str, Sequence]:
    """The test sequences by name: pan<i>, cut<i>, fade<i>."""
    rng = np.random.default_rng(0)
    out: dict[str, Sequence] = {}

    def make(truth: list, boxes: list, shots: list, ramp: np.ndarray | None = None) -> Sequence:
        if ramp is not None:  # a fade: the scene itself darkens, then comes back
            truth = [np.rint(f * k).astype(np.uint8) for f, k in zip(truth, ramp, strict=True)]
        clean = [_grey(f) for f in truth]
        return Sequence(truth, [film_grey(c, rng) for c in clean], clean, boxes, shots)

    for i, photo in enumerate(photos):
        truth, boxes = pan(photo, frames, i)
        out[f"still{i}"] = make([truth[0]] * frames, [boxes[0]] * frames, [0] * frames)
        out[f"pan{i}"] = make(truth, boxes, [0] * frames)
    for i in range(len(photos) - 1):
        a, boxes_a = pan(photos[i], frames // 2, i)
        b, boxes_b = pan(photos[i + 1], frames - frames // 2, i + 1)
        shots = [0] * len(a) + [1] * len(b)
        out[f"cut{i}"] = make(a + b, boxes_a + boxes_b, shots)
    for i, photo in enumerate(photos):
        truth, boxes = pan(photo, frames, i)
        ramp = np.abs(np.linspace(-1.0, 1.0, frames))  # 1 -> 0 (black) -> 1
        out[f"fade{i}"] = make(truth, boxes, [0] * frames, ramp)
    for i in range(len(photos) - 1):
        truth, uncovered = moving_object(photos[i], photos[i + 1], frames)
        box = (0.0, 0.0, float(SIZE[0]), float(SIZE[1]))
        seq = make(truth, [box] * frames, [0] * frames)
        seq.uncovered = uncovered
        out[f"move{i}"] = seq
    return out


def moving_object(
    background: np.ndarray, other: np.ndarray, frames: int, trail: int = 8
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A still shot of ``background`` with a square cut from ``other`` crossing it, 6
    pixels a frame: RGB frames, and per frame where the square was in the last ``trail``
    frames but is not now."""
    still = np.asarray(Image.fromarray(background).resize(SIZE, Image.BICUBIC))
    side = SIZE[1] // 3
    patch = np.asarray(
        Image.fromarray(other).resize((side, side), Image.BICUBIC, box=(0, 0, 256, 256))
    )
    y0 = (SIZE[1] - side) // 2
    masks, out, uncovered = [], [], []
    for t in range(frames):
        x0 = 6 * t
        frame = still.copy()
        mask = np.zeros(SIZE[::-1], bool)
        x1 = min(x0 + side, SIZE[0])
        if x0 < SIZE[0]:
            frame[y0 : y0 + side, x0:x1] = patch[:, : x1 - x0]
            mask[y0 : y0 + side, x0:x1] = True
        masks.append(mask)
        out.append(frame)
        recent = np.any(masks[-trail - 1 : -1], axis=0) if t else np.zeros_like(mask)
        uncovered.append(recent & ~mask)
    return out, uncovered


def colour(colorizer: Colorizer, greys: list[np.ndarray], window: int) -> tuple[list, int]:
    """Colour frames in order through the stabiliser; 16-bit RGB frames (so that 8-bit
    rounding does not count as flicker) and the resets."""
    size = colorizer.input_size
    stab = Stabiliser(window)
    rgbs = []
    for start in range(0, len(greys), 8):
        chunk = greys[start : start + 8]
        L = stack_l([thumbnail(g, size) for g in chunk])
        logits = colorizer.logits(L)
        if window == 0:
            ab = colorizer.decode(logits)
            rgbs += [compose(g, a, 16) for g, a in zip(chunk, ab, strict=True)]
            continue
        for g, lg, l in zip(chunk, logits, L, strict=True):
            ab = colorizer.decode(stab(lg, l[0], g.shape[::-1])[None])[0]
            rgbs.append(
                apply_coefficients(g, stab.coefficients(guide_grid(g, ab.shape[-1]), ab), 16)
            )
    return rgbs, stab.cuts


def eight_bit(rgb: np.ndarray) -> np.ndarray:
    return ((rgb.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _follow(x: torch.Tensor, before: Box, now: Box) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame ``x`` ``(C, H, W)`` that showed ``before``, resampled onto the pixels of the
    frame that shows ``now`` (the camera's motion undone), and where it is defined."""
    h, w = x.shape[-2:]
    xs = (torch.arange(w) + 0.5) / w * (now[2] - now[0]) + now[0]  # photo coordinates
    ys = (torch.arange(h) + 0.5) / h * (now[3] - now[1]) + now[1]
    gx = (xs - before[0]) / (before[2] - before[0]) * 2 - 1  # in the earlier frame
    gy = (ys - before[1]) / (before[3] - before[1]) * 2 - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None].float()
    moved = F.grid_sample(x[None], grid, mode="bilinear", align_corners=False)[0]
    inside = (grid[0, ..., 0].abs() <= 1) & (grid[0, ..., 1].abs() <= 1)
    return moved, inside


def flicker(rgbs: list[np.ndarray], seq: Sequence, block: int = 1) -> float:
    """Mean |delta ab| between consecutive frames of a shot, the camera's motion undone,
    over the pixels (or ``block`` x ``block`` means) where the scene's own L moved < 1
    (where the grey did change, colour may rightly follow it)."""
    changes = []
    prev = None
    for rgb, clean, box, shot in zip(rgbs, seq.clean, seq.boxes, seq.shots, strict=True):
        L = gray_to_l(torch.from_numpy(clean))
        ab = _ab(rgb)
        if block > 1:
            L = F.avg_pool2d(L[None, None], block)[0, 0]
            ab = F.avg_pool2d(ab[None], block)[0]
        if prev is not None and prev[3] == shot:
            moved, inside = _follow(torch.cat((prev[0][None], prev[1])), prev[2], box)
            still = inside & ((L - moved[0]).abs() < 1.0)
            if still.any():
                changes.append(float(torch.linalg.norm(ab - moved[1:], dim=0)[still].mean()))
        prev = (L, ab, box, shot)
    return float(np.mean(changes)) if changes else float("nan")


def _ab(rgb: np.ndarray) -> torch.Tensor:
    scale = 65535 if rgb.dtype == np.uint16 else 255
    return rgb_to_lab(torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1) / scale)[1:]


def trail(rgbs: list[np.ndarray], seq: Sequence) -> float:
    """Mean a/b error against the truth where a moving object just was: a colour trail
    raises it above the unstabilised figure."""
    errors = []
    for out, truth, where in zip(rgbs, seq.truth, seq.uncovered or [], strict=False):
        if where.any():
            d = torch.linalg.norm(_ab(out) - _ab(truth), dim=0)
            errors.append(float(d[torch.from_numpy(where)].mean()))
    return float(np.mean(errors)) if errors else float("nan")


def scores(rgbs: list[np.ndarray], seq: Sequence) -> dict[str, float]:
    eight = [eight_bit(o) if o.dtype == np.uint16 else o for o in rgbs]
    pairs = list(zip(eight, seq.truth, strict=True))
    return {
        "flicker": flicker(rgbs, seq),
        "block": flicker(rgbs, seq, 8),
        "trail": trail(rgbs, seq),
        "psnr": float(np.mean([metrics.psnr(o, t) for o, t in pairs])),
        "colour": float(
            np.mean(
                [metrics.colourfulness(o) / max(metrics.colourfulness(t), 1e-6) for o, t in pairs]
            )
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--photos", type=Path, default=Path("../shared/data/eval/kodak24"))
    ap.add_argument("--count", type=int, default=6)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--windows", default="0,4,8,16")
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--kinds", default="still,pan,cut,fade,move", help="sequences to build")
    args = ap.parse_args()
    colorizer = Colorizer(args.weights, "cpu")
    files = sorted(args.photos.glob("*"))[: args.count]
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    kinds = args.kinds.split(",")
    seqs = {
        k: v for k, v in sequences(photos, args.frames).items() if k.rstrip("0123456789") in kinds
    }
    windows = [int(w) for w in args.windows.split(",")]
    if 0 not in windows:
        windows.insert(0, 0)
    table: dict[str, dict[str, list[dict[str, float]]]] = {}
    cut_exact = []
    for name, seq in seqs.items():
        kind = name.rstrip("0123456789")
        rows = table.setdefault(kind, {})
        rows.setdefault("truth", []).append({**scores(seq.truth, seq), "resets": 0.0})
        plain = None
        for window in windows:
            rgbs, resets = colour(colorizer, seq.greys, window)
            if window == 0:
                plain = rgbs
            elif kind == "cut" and plain is not None:
                first = seq.shots.index(1)  # the second shot's first frame
                cut_exact.append(bool(np.array_equal(rgbs[first], plain[first])))
            rows.setdefault(str(window), []).append({**scores(rgbs, seq), "resets": resets})
    means = {
        kind: {w: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for w, rs in rows.items()}
        for kind, rows in table.items()
    }
    head = ("sequence", "window", "flicker", "vs 0", "block", "over floor", "psnr", "colour")
    print("{:8} {:>6} {:>8} {:>6} {:>7} {:>10} {:>7} {:>7} resets   trail".format(*head))
    for kind, rows in means.items():
        floor = rows["truth"]["block"]
        for window, r in rows.items():
            ratio = r["flicker"] / rows["0"]["flicker"]
            over = (r["block"] - floor) / max(rows["0"]["block"] - floor, 1e-9)
            print(
                f"{kind:8} {window:>6} {r['flicker']:8.3f} {ratio:6.2f} {r['block']:7.3f} "
                f"{over:10.2f} {r['psnr']:7.2f} {r['colour']:7.3f} {r['resets']:7.2f} "
                f"{r['trail']:7.3f}"
            )
    print(f"first frame after the cut equals the unstabilised frame: {all(cut_exact)}")
    print(json.dumps({"means": means, "cut_first_frame_exact": all(cut_exact)}))


if __name__ == "__main__":
    main()
