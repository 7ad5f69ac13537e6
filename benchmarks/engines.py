"""The local and Ray engines on the same synthetic photos: images/s of each.

    python benchmarks/engines.py [--count 96] [--width 1024] [--height 768] [--runs 2]

Writes ``--count`` synthetic grey JPEGs (as benchmarks/throughput.py makes them) into a
temporary folder and colours them with ``colorize_dir`` once per engine and run, into a
fresh output folder each time. The Ray figure is given twice: the whole call (a local Ray
instance starting, workers importing torch, the model loaded in its actor) and the
steady rate after the first result (what a long job on a warm cluster sees). The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from PIL import Image
from throughput import synthetic_photo

from colorize_cli import Colorizer, Options, colorize_dir


def run(src: Path, out: Path, options: Options, colorizer: Colorizer) -> dict[str, float]:
    t0 = time.perf_counter()
    firsts: list[float] = []

    def on_result(_result: object) -> None:
        firsts.append(time.perf_counter())

    summary = colorize_dir(src, out, options, colorizer=colorizer, on_result=on_result)
    total = time.perf_counter() - t0
    assert summary.done == len(firsts), summary.failures
    steady = (len(firsts) - 1) / (firsts[-1] - firsts[0]) if len(firsts) > 1 else 0.0
    return {"ips": summary.done / total, "steady_ips": steady, "seconds": total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=96)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=Options.batch_size)
    args = ap.parse_args()
    colorizer = Colorizer(device="cpu")
    figures: dict[str, list[dict[str, float]]] = {"local": [], "ray": []}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "in")
        src.mkdir()
        for i in range(args.count):
            photo = Image.fromarray(synthetic_photo(args.height, args.width, i))
            photo.save(src / f"photo_{i:04d}.jpg", quality=90)
        for r in range(args.runs):
            for engine in ("local", "ray"):
                options = Options(
                    batch_size=args.batch_size, device="cpu", engine=engine, sequence=False
                )  # numbered photos of one size would otherwise be guessed to be a film
                figures[engine].append(run(src, Path(tmp, f"{engine}{r}"), options, colorizer))
    for engine, runs in figures.items():
        line = ", ".join(f"{x['ips']:.2f} ({x['steady_ips']:.2f} steady)" for x in runs)
        print(f"{engine:>6}: {line} img/s over {args.count} photos {args.width}x{args.height}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
