"""Film folders: frames/s on the local and the Ray engine, and what the film guess costs.

    python benchmarks/films.py [--frames 96] [--width 640] [--height 480] [--guess-files 10000]

1. Writes a frame folder (a slow pan over a synthetic grey 'photo' with grain, numbered
   JPEGs) and colours it with ``colorize_dir`` on each engine, into a fresh folder each
   time: frames/s of the whole call (Ray: a local instance starting, a worker importing
   torch and loading the model) and the steady rate after the first frame.
2. Writes ``--guess-files`` numbered 320x240 JPEGs into one folder, once as a film (a pan)
   and once as unrelated photos, and times the walk (``discover``) and the guess
   (``mark_sequences``) on each: the guess reads two headers and decodes at most 16
   small images, whatever the folder's length.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from throughput import synthetic_photo

from colorize_cli import Colorizer, Options, colorize_dir
from colorize_cli.files.discover import discover
from colorize_cli.files.sequences import mark_sequences


def pan(folder: Path, frames: int, width: int, height: int, seed: int = 0) -> None:
    wide = synthetic_photo(height, width + 2 * frames, seed)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(frames):
        grain = rng.normal(0, 4, (height, width))
        g = np.clip(wide[:, 2 * i : 2 * i + width] + grain, 0, 255).astype(np.uint8)
        Image.fromarray(g).save(folder / f"frame_{i:05d}.jpg", quality=90)


def engines(tmp: Path, frames: int, width: int, height: int) -> dict[str, dict[str, float]]:
    src = Path(tmp, "film")
    pan(src / "reel", frames, width, height)
    colorizer = Colorizer(device="cpu")
    out: dict[str, dict[str, float]] = {}
    for engine in ("local", "ray"):
        stamps: list[float] = []
        t0 = time.perf_counter()
        summary = colorize_dir(
            src,
            Path(tmp, f"out-{engine}"),
            Options(device="cpu", engine=engine),
            colorizer=colorizer,
            on_result=lambda _r, stamps=stamps: stamps.append(time.perf_counter()),
        )
        total = time.perf_counter() - t0
        assert summary.done == frames, summary.failures
        steady = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        out[engine] = {"fps": frames / total, "steady_fps": steady, "seconds": total}
        print(
            f"{engine:>6}: {frames / total:.2f} frames/s ({steady:.2f} steady) "
            f"over {frames} frames {width}x{height}"
        )
    return out


def guess(tmp: Path, files: int) -> dict[str, dict[str, float]]:
    out = {}
    for kind in ("film", "photos"):
        folder = Path(tmp, f"guess-{kind}", "box")
        if kind == "film":
            pan(folder, files, 320, 240)
        else:
            folder.mkdir(parents=True)
            for i in range(files):  # unrelated: a different 'photo' each
                g = synthetic_photo(240, 320, i)
                Image.fromarray(g).save(folder / f"img_{i:05d}.jpg", quality=90)
        t0 = time.perf_counter()
        jobs = discover(folder.parent, Path(tmp, "unused")).jobs
        t1 = time.perf_counter()
        marked = mark_sequences(jobs, None)
        t2 = time.perf_counter()
        film = all(j.sequence is not None for j in marked)
        out[kind] = {"walk_s": t1 - t0, "guess_s": t2 - t1, "taken_as_film": film}
        print(
            f"guess on {files} numbered {kind}: walk {t1 - t0:.2f}s, guess {t2 - t1:.3f}s, "
            f"taken as a film: {film}"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--guess-files", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = {
            "engines": engines(Path(tmp), args.frames, args.width, args.height),
            "guess": guess(Path(tmp), args.guess_files),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
