"""Draw docs/keyframes.jpg: a pan over an evaluation photo as a frame folder, coloured by
``colorize`` without hints and with true-colour hints on its middle frame only. Rows: the
keyframe's grey with its hints marked, then the film without and with them, and the
original colour; columns: every seventh frame (the keyframe is the middle one).

    python docs/make_keyframes_figure.py

Reads the photo from ../shared/data (never committed); writes only the figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PHOTO = DATA / "eval" / "kodak24" / "kodim05.jpg"
FRAMES, SIZE, KEY, SHOWN = 29, (384, 256), 14, (0, 7, 14, 21, 28)
POINTS = [(90, 104), (230, 112), (330, 125), (45, 140), (25, 160), (215, 30), (100, 128)]


def coloured(out: Path, i: int) -> Image.Image:
    return Image.open(out / "reel" / f"frame_{i:03d}.png").convert("RGB")


def pan(photo: Image.Image) -> list[Image.Image]:
    w, h = photo.size
    out = []
    for t in np.linspace(0, 1, FRAMES):
        cw, ch = w * 0.7, h * 0.7
        x0, y0 = (w - cw) * (0.1 + 0.8 * t), (h - ch) * 0.5
        out.append(photo.resize(SIZE, Image.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch)))
    return out


def known(rgb: np.ndarray, x: int, y: int) -> list[int]:
    """The original's colour at a point, over a few pixels: what a restorer would know."""
    return [round(v) for v in rgb[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(0)]


def main() -> None:
    truth = pan(Image.open(PHOTO).convert("RGB"))
    with tempfile.TemporaryDirectory() as tmp:
        src, hints = Path(tmp) / "in" / "reel", Path(tmp) / "hints" / "reel"
        src.mkdir(parents=True)
        hints.mkdir(parents=True)
        for i, frame in enumerate(truth):
            frame.convert("L").save(src / f"frame_{i:03d}.png")
        key = np.asarray(truth[KEY], np.float32)
        points = [{"x": x, "y": y, "rgb": known(key, x, y)} for x, y in POINTS]
        (hints / f"frame_{KEY:03d}.hints.json").write_text(json.dumps({"points": points}))
        for out, extra in (("plain", []), ("hinted", ["--hints", str(Path(tmp) / "hints")])):
            cmd = [sys.executable, "-m", "colorize_cli", src.parent, Path(tmp) / out, "-q"]
            subprocess.run([*map(str, cmd), *extra], check=True)
        rows = [
            [truth[i].convert("L").convert("RGB") for i in SHOWN],
            [coloured(Path(tmp) / "plain", i) for i in SHOWN],
            [coloured(Path(tmp) / "hinted", i) for i in SHOWN],
            [truth[i] for i in SHOWN],
        ]
    marked = rows[0][SHOWN.index(KEY)].copy()
    draw = ImageDraw.Draw(marked)
    for p in points:
        x, y = p["x"], p["y"]
        box = (x - 7, y - 7, x + 7, y + 7)
        draw.ellipse(box, fill=tuple(p["rgb"]), outline=(255, 255, 255), width=2)
    rows[0][SHOWN.index(KEY)] = marked
    scale = 0.5
    w, h = int(SIZE[0] * scale), int(SIZE[1] * scale)
    label = 110
    sheet = Image.new("RGB", (label + w * len(SHOWN), h * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    names = ["grey (hints\non frame 14)", "no hints", "keyframe\nhints", "original"]
    for r, row in enumerate(rows):
        draw.multiline_text((6, r * h + h // 2 - 14), names[r], fill="black")
        for c, im in enumerate(row):
            sheet.paste(im.resize((w, h), Image.BICUBIC), (label + c * w, r * h))
    for c, i in enumerate(SHOWN):
        draw.text((label + c * w + 4, 2), f"frame {i}", fill="white")
    out = Path(__file__).with_name("keyframes.jpg")
    sheet.save(out, quality=88)
    print(out)


if __name__ == "__main__":
    main()
