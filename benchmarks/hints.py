"""How hints correct a photo, as a person would place them: at the places the automatic
colour is most wrong, with the original's colour there.

    python benchmarks/hints.py EVAL_SET [--hints 1 3 10] [--feature-sigma 0.1 1e9]

``colorize-eval --hints K`` puts hints at random points, which rewards a hint that floods
the whole photo with its colour (one true colour is a good guess for a photo's overall
cast). A person clicks where the colour is wrong instead, and wants the rest left alone.
For each number of hints and each ``FEATURE_SIGMA`` (1e9: the features play no part),
this prints the mean over the set of:
- PSNR of the corrected photo, beside the automatic one;
- ``fixed``: the mean a/b error within 1/16 of the photo's side around the hints, after
  the correction (the automatic error there is given too);
- ``harmed``: how far the correction moved pixels the model had right (a/b error under
  6) and that are farther than 1/8 of the photo's side from every hint, in a/b units.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import uniform_filter

from colorize_cli import Colorizer
from colorize_cli.colour import hints as hints_module
from colorize_cli.colour.hints import Hint, apply_hints
from colorize_cli.colour.lab import rgb_to_lab
from colorize_cli.colour.resample import thumbnail
from colorize_cli.colour.rgb import compose, guide_grid
from colorize_cli.files.formats import is_image_name
from colorize_cli.files.read import Decoded
from colorize_cli.model.batch import stack_l
from colorize_cli.training.evaluate import load_photo
from colorize_cli.training.metrics import psnr

RIGHT = 6.0  # a/b units: a pixel this close to the original was right already


def lab_ab(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).double() / 255)[1:].numpy()


@dataclass
class Automatic:
    """An evaluation photo coloured without hints, with what hints would need."""

    decoded: Decoded
    truth: np.ndarray  # the original, uint8 RGB
    ab: torch.Tensor  # the model's a/b at its grid
    features: torch.Tensor  # (C, h, w), where hints stop
    guide: torch.Tensor
    rgb: np.ndarray  # the automatic output


def automatic(col: Colorizer, path: Path) -> Automatic:
    decoded, truth = load_photo(path)
    L = stack_l([thumbnail(decoded.gray, col.input_size)])
    logits, features = col.logits_and_features(L)
    ab = col.decode(logits)[0]
    guide = guide_grid(decoded.gray, ab.shape[-1])
    rgb = compose(decoded.gray, ab, 8, guide=guide)
    return Automatic(decoded, truth, ab, features[0], guide, rgb)


def worst_points(error: np.ndarray, k: int, reach: int) -> list[tuple[int, int]]:
    """The ``k`` places of largest error (averaged over ``reach``), each at least
    ``2 * reach`` from the others: where a person would click first."""
    smooth = uniform_filter(error, size=reach)
    ys, xs = np.mgrid[0 : error.shape[0], 0 : error.shape[1]]
    points = []
    for _ in range(k):
        y, x = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
        points.append((int(x), int(y)))
        smooth[(xs - x) ** 2 + (ys - y) ** 2 < (2 * reach) ** 2] = -1.0
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--hints", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--feature-sigma", type=float, nargs="+", default=[0.1, 1e9])
    args = parser.parse_args()
    col = Colorizer(device="cpu")
    paths = sorted(p for p in args.photos.rglob("*") if is_image_name(p.name))
    rows: dict[tuple[int, float], list[tuple[float, float, float]]] = {}
    auto_psnr, auto_near = [], {k: [] for k in args.hints}
    for path in paths:
        a = automatic(col, path)
        decoded, truth, ab, guide, auto = a.decoded, a.truth, a.ab, a.guide, a.rgb
        auto_ab, true_ab = lab_ab(auto), lab_ab(truth)
        error = np.linalg.norm(auto_ab - true_ab, axis=0)
        auto_psnr.append(psnr(auto, truth))
        h, w = error.shape
        reach = max(4, min(h, w) // 16)
        ys, xs = np.mgrid[0:h, 0:w]
        for k in args.hints:
            points = worst_points(error, k, reach)
            dist = np.min([np.hypot(xs - x, ys - y) for x, y in points], axis=0)
            near, far_right = dist < reach, (dist > 2 * reach) & (error < RIGHT)
            auto_near[k].append(float(error[near].mean()))
            hints = [Hint(x, y, tuple(int(v) for v in truth[y, x])) for x, y in points]
            for sigma in args.feature_sigma:
                hints_module.FEATURE_SIGMA = sigma
                hinted = apply_hints(guide, ab, a.features, hints, decoded.size)
                out = compose(decoded.gray, ab, 8, guide=guide, hinted=hinted)
                out_ab = lab_ab(out)
                fixed = float(np.linalg.norm(out_ab - true_ab, axis=0)[near].mean())
                moved = np.linalg.norm(out_ab - auto_ab, axis=0)
                harmed = float(moved[far_right].mean()) if far_right.any() else 0.0
                rows.setdefault((k, sigma), []).append((psnr(out, truth), fixed, harmed))
    print(f"{args.photos.name}: {len(paths)} photos; automatic PSNR {np.mean(auto_psnr):.2f}")
    print("hints | feature sigma | PSNR | error near the hints (automatic) | harmed")
    for (k, sigma), values in rows.items():
        p, fixed, harmed = np.mean(values, axis=0)
        print(
            f"{k:5d} | {sigma:13g} | {p:.2f} | {fixed:5.1f} ({np.mean(auto_near[k]):5.1f})"
            f" | {harmed:.2f}"
        )


if __name__ == "__main__":
    main()
