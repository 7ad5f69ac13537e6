"""Frames per second of film through ``colorize``: video files end to end.

    python benchmarks/film.py [--frames 96] [--sizes 1024x768,1920x1080] [--device auto]

For each size, writes a synthetic H.264 film (a slow pan over a grey 'photo' with grain,
and a sine tone) into a temporary folder, colours it with the real API (decode, model,
stabiliser, to-RGB, H.264 encode, audio copied), and prints frames/s; then times the
to-RGB stage alone on one frame of that size (guided upsampling + Lab -> RGB, the one
stage that touches every pixel). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from throughput import synthetic_photo

from colorize_cli import Colorizer, Options, colorize_dir
from colorize_cli.colour.resample import thumbnail
from colorize_cli.colour.rgb import compose, guide_grid
from colorize_cli.model.batch import stack_l


def make_film(path: Path, frames: int, width: int, height: int) -> None:
    wide = synthetic_photo(height, width + 2 * frames, 0)
    rng = np.random.default_rng(0)
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=24)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    audio = out.add_stream("aac", rate=48000, layout="mono")
    for i in range(frames):
        grain = rng.normal(0, 4, (height, width))
        g = np.clip(wide[:, 2 * i : 2 * i + width] + grain, 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(np.repeat(g[..., None], 3, axis=2), format="rgb24")
        frame.pts = i
        for p in video.encode(frame):
            out.mux(p)
    for p in video.encode():
        out.mux(p)
    t = 0
    while t < frames / 24 * 48000:
        tone = (0.1 * np.sin(2 * np.pi * 440 * (np.arange(1024) + t) / 48000)).astype(np.float32)
        af = av.AudioFrame.from_ndarray(tone[None], format="fltp", layout="mono")
        af.sample_rate, af.pts = 48000, t
        t += 1024
        for p in audio.encode(af):
            out.mux(p)
    for p in audio.encode():
        out.mux(p)
    out.close()


def to_rgb_ms(col: Colorizer, width: int, height: int, repeats: int = 20) -> float:
    """The to-RGB stage alone, as the pipeline runs it (the model's input is the guide)."""
    gray = synthetic_photo(height, width, 1).astype(np.float32) / 255
    L = stack_l([thumbnail(gray, col.input_size)])
    ab = col.predict_ab(L)[0]
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        compose(gray, ab, 8, None, guide_grid(gray, ab.shape[-1], L[0, 0]))
        times.append(time.perf_counter() - t0)
    return 1000 * min(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--sizes", default="1024x768,1920x1080")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=Options.batch_size)
    args = ap.parse_args()
    col = Colorizer(device=args.device)
    figures = {}
    for size in args.sizes.split(","):
        width, height = map(int, size.split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            film = Path(tmp, "film.mp4")
            make_film(film, args.frames, width, height)
            opts = Options(device=args.device, batch_size=args.batch_size)
            summary = colorize_dir(film, Path(tmp, "out"), opts, colorizer=col)
            assert summary.done == 1, summary.failures
        fps = summary.images_per_second
        rgb_ms = to_rgb_ms(col, width, height)
        figures[size] = {"frames_per_second": round(fps, 2), "to_rgb_ms": round(rgb_ms, 2)}
        print(f"{size:>10}: {fps:6.2f} frames/s end to end; to-RGB alone {rgb_ms:6.2f} ms/frame")
    print(json.dumps({"device": str(col.device), "batch": args.batch_size, **figures}))


if __name__ == "__main__":
    main()
