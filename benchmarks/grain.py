"""Does film grain turn into colour noise?

Grain is luminance noise; if the colour follows it, flat grey walls and skies come out
speckled with colour. For every photo of the evaluation sets, the flat regions are found
on the clean grey (7x7 standard deviation of the grey below 1%), the photo is coloured
from its clean grey and from grainy copies (``training/degrade.py``, seeded), and the
chroma noise there is measured: the 7x7 standard deviation of the output's a/b, averaged
over the flat pixels. Prints the mean per set and over all photos, in a/b units.

    python benchmarks/grain.py ../shared/data/eval [--weights FILE] [--strength 0.6 1.0]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import uniform_filter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from colorize_cli.colour.lab import rgb_to_lab  # noqa: E402
from colorize_cli.colour.resample import thumbnail  # noqa: E402
from colorize_cli.colour.rgb import compose  # noqa: E402
from colorize_cli.model.batch import stack_l  # noqa: E402
from colorize_cli.model.colorizer import Colorizer  # noqa: E402
from colorize_cli.training.degrade import degrade  # noqa: E402
from colorize_cli.training.evaluate import load_photo, photo_sets  # noqa: E402

WINDOW = 7
FLAT = 0.01  # grey standard deviation in a window below which a region is flat


def local_std(x: np.ndarray) -> np.ndarray:
    m = uniform_filter(x, WINDOW)
    return np.sqrt(np.maximum(uniform_filter(x * x, WINDOW) - m * m, 0))


def chroma_noise(col: Colorizer, decoded, flat: np.ndarray) -> float:
    L = stack_l([thumbnail(decoded.gray, col.input_size)])
    out = compose(decoded.gray, col.predict_ab(L)[0], 8)
    ab = rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1)[None].float() / 255)[0, 1:].numpy()
    noise = np.sqrt(local_std(ab[0]) ** 2 + local_std(ab[1]) ** 2)
    return float(noise[flat].mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--strength", type=float, nargs="+", default=[0.6, 1.0])
    args = ap.parse_args()
    col = Colorizer(args.weights, "cpu")
    names = ["clean", *(f"grain {s}" for s in args.strength)]
    table: dict[str, list[list[float]]] = {}
    for name, paths in photo_sets(args.dirs).items():
        for i, path in enumerate(paths):
            decoded, truth = load_photo(path)
            flat = local_std(decoded.gray) < FLAT
            if flat.mean() < 0.01:  # no flat region worth measuring
                continue
            rgb = torch.from_numpy(truth.copy()).permute(2, 0, 1).float() / 255
            row = [chroma_noise(col, decoded, flat)]
            for s in args.strength:
                grainy = degrade(rgb, ("grain",), s, np.random.default_rng(i))
                row.append(chroma_noise(col, replace(decoded, gray=grainy.numpy()), flat))
            table.setdefault(name, []).append(row)
    print(f"chroma noise in flat regions (a/b units, {WINDOW}x{WINDOW} std), mean per photo")
    print(f"{'set':12} {'photos':>6} " + " ".join(f"{n:>10}" for n in names))
    every = [r for rows in table.values() for r in rows]
    for name, rows in [*table.items(), ("all", every)]:
        m = np.mean(rows, axis=0)
        print(f"{name:12} {len(rows):6d} " + " ".join(f"{v:10.2f}" for v in m))


if __name__ == "__main__":
    main()
