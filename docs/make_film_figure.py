"""Draw docs/film.jpg: a short film made from an archive photo (a slow pan and zoom, with
film grain and exposure flicker), coloured by ``colorize`` as an .mp4, frame by frame
(``--temporal-window 0``) and steadied (the default). Rows: the grey film, each frame on
its own, steady; columns: every sixth frame.

    python docs/make_film_figure.py

Reads the photo from ../shared/data (never committed); writes only the figure.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PHOTO = (
    DATA
    / "archive_bw"
    / "ddcolor_test_images"
    / "Broadway at the United States Hotel Saratoga Springs, N.Y. ca 1900-1915.jpg"
)
FRAMES, SIZE, SHOWN = 30, (480, 320), (0, 6, 12, 18, 24, 29)


def make_film(path: Path) -> None:
    photo = Image.open(PHOTO).convert("L")
    w, h = photo.size
    rng = np.random.default_rng(0)
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=24)
    video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
    for i, t in enumerate(np.linspace(0, 1, FRAMES)):
        scale = 0.85 - 0.1 * t
        cw, ch = w * scale, h * scale
        x0, y0 = (w - cw) * (0.2 + 0.6 * t), (h - ch) * 0.5
        g = np.asarray(photo.resize(SIZE, Image.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch)), float)
        g = g * (1 + 0.04 * rng.standard_normal()) + rng.normal(0, 5, g.shape)
        g = np.clip(g, 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(np.repeat(g[..., None], 3, axis=2), format="rgb24")
        frame.pts = i
        for p in video.encode(frame):
            out.mux(p)
    for p in video.encode():
        out.mux(p)
    out.close()


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        film = Path(tmp, "film.mp4")
        make_film(film)
        rows = {"grey film": frames(film)}
        for label, window in (("each frame alone", "0"), ("steady (default)", "16")):
            out = Path(tmp, f"out{window}")
            cmd = [sys.executable, "-m", "colorize_cli", str(film), str(out), "-q"]
            subprocess.run([*cmd, "--temporal-window", window], check=True)
            rows[label] = frames(out / "film.mp4")
    scale = 0.5
    tw, th = int(SIZE[0] * scale), int(SIZE[1] * scale)
    sheet = Image.new("RGB", (110 + tw * len(SHOWN), th * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, shots) in enumerate(rows.items()):
        draw.text((4, r * th + th // 2 - 6), label, fill="black")
        for c, i in enumerate(SHOWN):
            tile = Image.fromarray(shots[i]).resize((tw, th), Image.LANCZOS)
            sheet.paste(tile, (110 + c * tw, r * th))
    for c, i in enumerate(SHOWN):
        draw.text((110 + c * tw + 4, 2), f"frame {i}", fill="white")
    target = Path(__file__).with_name("film.jpg")
    sheet.save(target, quality=88)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
