"""What colour control costs: a reference palette on the model stage, hints on the
to-RGB stage, per 1024x768 photo.

    python benchmarks/controls.py [--runs 20] [--hints 10]

Prints the median milliseconds of each stage with and without the control.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image

from colorize_cli import Colorizer
from colorize_cli.colour.hints import Hint, apply_hints
from colorize_cli.colour.resample import thumbnail
from colorize_cli.colour.rgb import compose, guide_grid
from colorize_cli.files.controls import reference_ab
from colorize_cli.model.batch import stack_l


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up (compiled loops, caches)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--hints", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:768, 0:1024] / 1024.0
    gray = 0.5 + 0.3 * np.sin(9 * x) * np.cos(7 * y) + 0.05 * rng.standard_normal(x.shape)
    gray = np.clip(gray, 0, 1).astype(np.float32)
    col = Colorizer(device="cpu")
    L = stack_l([thumbnail(gray, col.input_size)] * args.batch_size)
    ref = Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8))
    shift = col.reference_shift(reference_ab(ref))
    shifts = shift[None].expand(args.batch_size, -1)
    hints = [
        Hint(float(rng.integers(1024)), float(rng.integers(768)), (200, 40, 40))
        for _ in range(args.hints)
    ]
    logits, features = col.logits_and_features(L[:1])
    ab = col.decode(logits)[0]

    def with_hints() -> None:
        guide = guide_grid(gray, ab.shape[-1])
        hinted = apply_hints(guide, ab, features[0], hints, (1024, 768))
        compose(gray, ab, 8, guide=guide, hinted=hinted)

    n = args.batch_size
    print(f"torch threads: {torch.get_num_threads()}; 1024x768; batch {n}; {args.runs} runs")
    plain = median_ms(lambda: col.predict_ab(L), args.runs) / n
    referenced = median_ms(lambda: col.predict_ab(L, shifts), args.runs) / n
    palette = median_ms(lambda: col.reference_shift(reference_ab(ref)), args.runs)
    print(f"model per image: {plain:.1f} ms plain, {referenced:.1f} ms with a reference")
    print(f"reference palette (once per reference photo): {palette:.1f} ms")
    rgb = median_ms(lambda: compose(gray, ab, 8), args.runs)
    hinted = median_ms(with_hints, args.runs)
    print(f"to-RGB per image: {rgb:.1f} ms plain, {hinted:.1f} ms with {args.hints} hints "
          f"(+{hinted - rgb:.1f} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
