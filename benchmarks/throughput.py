"""Throughput of colorize-cli: model only, end to end, and where the time goes.

    python benchmarks/throughput.py [--device cpu] [--batch-size 8] [--count 64] [--runs 3]
        [--weights FILE]

Makes its own synthetic grey photos (``--count`` of ``--width`` x ``--height``, JPEG) in a
temporary folder, then measures on the same device and settings:
  1. model_ips: forward passes alone at the weights' inference size and the batch size;
  2. end_to_end_ips: the real API (``colorize_dir``) over the files, median of ``--runs``;
  3. per-image time of each stage run alone: decode, to-Lab (+thumbnail), model,
     to-RGB, encode, write.
Prints a table; the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorize_cli import Colorizer, Options, colorize_dir
from colorize_cli.colour.resample import thumbnail
from colorize_cli.colour.rgb import compose, guide_grid
from colorize_cli.files.read import read_image
from colorize_cli.files.write import encoder, write_atomic
from colorize_cli.model.batch import stack_l


def synthetic_photo(h: int, w: int, seed: int) -> np.ndarray:
    """Grey 'photo' with smooth shading, edges and grain, so codecs do real work."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 0.5 + 0.25 * np.sin(x / (40 + 30 * rng.random())) * np.cos(y / (50 + 30 * rng.random()))
    for _ in range(6):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(30, 200)
        img += rng.uniform(-0.3, 0.3) * (((y - cy) ** 2 + (x - cx) ** 2) < r * r)
    img += rng.normal(0, 0.03, (h, w))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def synthetic_jpeg(h: int, w: int, seed: int = 0) -> bytes:
    """:func:`synthetic_photo` encoded as a quality-90 JPEG, as a client would upload it."""
    buf = io.BytesIO()
    Image.fromarray(synthetic_photo(h, w, seed)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def model_rate(col: Colorizer, batch: int, seconds: float = 8.0) -> float:
    s = col.input_size
    L = torch.rand(batch, 1, s, s) * 100
    for _ in range(2):
        col.predict_ab(L)
    sync(col.device)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        col.predict_ab(L)
        n += batch
    sync(col.device)
    return n / (time.perf_counter() - t0)


def stage_times(col: Colorizer, files: list[Path], out: Path) -> dict[str, float]:
    """Mean seconds per image of each stage, run one after the other on one image."""
    t = {k: 0.0 for k in ("decode", "to_lab", "model", "to_rgb", "encode", "write")}
    for i, f in enumerate(files):
        t0 = time.perf_counter()
        d = read_image(f)
        t1 = time.perf_counter()
        L = stack_l([thumbnail(d.gray, col.input_size)])
        t2 = time.perf_counter()
        ab = col.predict_ab(L)[0]
        sync(col.device)
        t3 = time.perf_counter()
        rgb = compose(d.gray, ab, d.bit_depth, d.alpha, guide_grid(d.gray, ab.shape[-1], L[0, 0]))
        t4 = time.perf_counter()
        buf = io.BytesIO()
        encoder(rgb, d, "jpg")(buf)
        t5 = time.perf_counter()
        data = buf.getvalue()
        write_atomic(out / f"{i}.jpg", lambda fh, data=data: fh.write(data), overwrite=True)
        t6 = time.perf_counter()
        for k, a, b in (
            ("decode", t0, t1),
            ("to_lab", t1, t2),
            ("model", t2, t3),
            ("to_rgb", t3, t4),
            ("encode", t4, t5),
            ("write", t5, t6),
        ):
            t[k] += b - a
    return {k: v / len(files) for k, v in t.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=Options.batch_size)
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=Options.workers)
    ap.add_argument("--weights", type=Path, default=None, help="default: the shipped weights")
    args = ap.parse_args()

    col = Colorizer(args.weights, device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "in")
        src.mkdir()
        files = []
        for i in range(args.count):
            p = src / f"photo_{i:04d}.jpg"
            Image.fromarray(synthetic_photo(args.height, args.width, i)).save(p, quality=90)
            files.append(p)
        model_ips = model_rate(col, args.batch_size)
        e2e = []
        opts = Options(device=args.device, batch_size=args.batch_size, workers=args.workers)
        for r in range(args.runs):
            summary = colorize_dir(src, Path(tmp, f"out{r}"), opts, colorizer=col)
            assert summary.done == args.count, summary
            e2e.append(summary.images_per_second)
        stages = stage_times(col, files[: min(16, len(files))], Path(tmp, "stages"))

    e2e_ips = statistics.median(e2e)
    total = sum(stages.values())
    print(
        f"device {col.device}, inference size {col.input_size}, batch {args.batch_size}, "
        f"{args.count} photos {args.width}x{args.height}, workers {args.workers}"
    )
    print(f"{'model only':<28}{model_ips:8.2f} img/s")
    print(
        f"{'end to end (median)':<28}{e2e_ips:8.2f} img/s   runs: "
        + ", ".join(f"{x:.2f}" for x in e2e)
    )
    print(f"{'ratio end-to-end / model':<28}{e2e_ips / model_ips:8.2f}")
    print("per image, each stage alone (ms, share):")
    for k, v in stages.items():
        print(f"  {k:<10}{1000 * v:8.1f} ms  {100 * v / total:5.1f}%")
    print(
        json.dumps(
            {
                "end_to_end_ips": round(e2e_ips, 3),
                "model_ips": round(model_ips, 3),
                "ratio": round(e2e_ips / model_ips, 3),
                "device": str(col.device),
                "size": col.input_size,
                "batch": args.batch_size,
                "image": f"{args.width}x{args.height}",
                "runs": [round(x, 3) for x in e2e],
                "stages_ms": {k: round(1000 * v, 2) for k, v in stages.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
