"""Does the editor's doubt overlay send the first clicks where they matter?

    python benchmarks/doubt.py EVAL_SET... [--hints 1 3] [--draws 5]

For each photo, puts ``k`` hints with the original's true colour (as a person who knows
the colour would) at three kinds of places, ``min(h, w) / 8`` apart:
- ``doubt``: the peaks of the overlay the editor shows (``Colorizer.doubt``: the a/b error
  the model expects of its colour), averaged over ``min(h, w) / 16``, before any hint,
  so without knowing the truth; ``doubt-wide``: the same averaged over four times that
  (a large unsure region rather than a small very unsure one);
- ``random``: uniformly drawn points (``--draws`` seeded draws, averaged);
- ``worst``: the peaks of the real error, which only someone holding the original could
  find (the bound).
Prints, per kind and number of hints, the mean over the photos of how much the photo's
mean a/b error falls (whole photo, a/b units) and its PSNR gain, and the share of the
random points' gain the doubt points get.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from hints import automatic, lab_ab, worst_points

from colorize_cli import Colorizer
from colorize_cli.colour.hints import Hint, apply_hints
from colorize_cli.colour.rgb import compose
from colorize_cli.training.evaluate import photo_sets
from colorize_cli.training.metrics import psnr


def upsampled(grid: torch.Tensor, h: int, w: int) -> np.ndarray:
    """A map at the model's square grid stretched over the photo, as the page shows it."""
    return torch.nn.functional.interpolate(
        grid[None, None], size=(h, w), mode="bilinear", align_corners=False
    )[0, 0].numpy()


def photo_gains(
    col: Colorizer, path: Path, ks: list[int], draws: int, seed: int
) -> dict[tuple[str, int], tuple[float, float]]:
    """One photo's (fall in mean a/b error, PSNR gain) for each kind of place and ``k``."""
    a = automatic(col, path)
    decoded, truth, ab, guide, auto = a.decoded, a.truth, a.ab, a.guide, a.rgb
    true_ab = lab_ab(truth)
    error = np.linalg.norm(lab_ab(auto) - true_ab, axis=0)
    h, w = error.shape
    reach = max(4, min(h, w) // 16)
    doubt = upsampled(col.doubt(decoded.gray), h, w)
    rng = np.random.default_rng(seed)

    def gain(points: list[tuple[int, int]]) -> tuple[float, float]:
        hints = [Hint(x, y, tuple(int(v) for v in truth[y, x])) for x, y in points]
        hinted = apply_hints(guide, ab, a.features, hints, decoded.size)
        out = compose(decoded.gray, ab, 8, guide=guide, hinted=hinted)
        fixed = np.linalg.norm(lab_ab(out) - true_ab, axis=0).mean()
        return float(error.mean() - fixed), psnr(out, truth) - psnr(auto, truth)

    found: dict[tuple[str, int], tuple[float, float]] = {}
    for k in ks:
        found["doubt", k] = gain(worst_points(doubt, k, reach))
        found["doubt-wide", k] = gain(worst_points(doubt, k, 4 * reach))
        found["worst", k] = gain(worst_points(error, k, reach))
        random = [
            gain([(int(rng.integers(w)), int(rng.integers(h))) for _ in range(k)])
            for _ in range(draws)
        ]
        found["random", k] = tuple(np.mean(random, axis=0))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--hints", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args()
    col = Colorizer(device="cpu")
    paths = [p for ps in photo_sets(args.dirs).values() for p in ps]
    gains: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for seed, path in enumerate(paths):
        for key, value in photo_gains(col, path, args.hints, args.draws, seed).items():
            gains.setdefault(key, []).append(value)
    print(f"{len(paths)} photos; hints with the original's colour at each kind of place")
    print("hints | places     | a/b error fall | PSNR gain (dB)")
    for k in args.hints:
        for kind in ("random", "doubt", "doubt-wide", "worst"):
            fall, db = np.mean(gains[(kind, k)], axis=0)
            print(f"{k:5d} | {kind:10} | {fall:14.3f} | {db:.3f}")
        random = np.mean(gains[("random", k)], axis=0)[0]
        for kind in ("doubt", "doubt-wide"):
            share = np.mean(gains[(kind, k)], axis=0)[0] / random
            print(f"{k:5d} | {kind} over random: {share:.2f}x the fall in error")


if __name__ == "__main__":
    main()
