"""Draw docs/archive.jpg: real black-and-white archive photographs (no colour original
exists), grey | the weights shipped before | the shipped weights, side by side.

    python docs/make_archive_figure.py OLD_WEIGHTS [--data ../shared/data/archive_bw]

OLD_WEIGHTS is 0.3's file, trained on clean photos only
(``git show 2bd79d7:weights/colorizer.safetensors > old.st``); the photos are read in
place from the shared data and never committed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from colorize_cli import Colorizer
from colorize_cli.files.read import read_image
from colorize_cli.training.evaluate import contact_sheet

PHOTOS = [
    "ddcolor_test_images/Audrey Hepburn.jpg",
    "ddcolor_test_images/Helen Keller meeting Charlie Chaplin in 1919.jpg",
    "ddcolor_test_images/Louis Armstrong practicing in his dressing room, ca 1946.jpg",
    "ddcolor_test_images/Detroit circa 1915.jpg",
    "ddcolor_test_images/Ansel Adams _ Moore Photography.jpg",
    "ddcolor_test_images/Abandoned Boy Holding a Stuffed Toy Animal. London 1945.jpg",
]
HEIGHT = 200


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old_weights", type=Path)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/archive_bw"))
    args = ap.parse_args()
    old, new = Colorizer(args.old_weights, "cpu"), Colorizer(None, "cpu")
    rows = []
    for name in PHOTOS:
        decoded = read_image(args.data / name)
        scale = min(1.0, 600 / max(decoded.size))  # the figure is small; colour a 600 px copy
        grey = Image.fromarray(np.rint(decoded.gray * 255).astype(np.uint8))
        grey = grey.resize((round(grey.width * scale), round(grey.height * scale)), Image.LANCZOS)
        g = np.asarray(grey, np.float32) / 255
        rows.append(
            (
                np.repeat(np.asarray(grey)[..., None], 3, 2),
                old.colorize_gray(g),
                new.colorize_gray(g),
            )
        )
    out = Path(__file__).parent / "archive.jpg"
    png = out.with_suffix(".png")
    contact_sheet(
        rows, png, HEIGHT, ("grey scan", "0.3: clean photos only", "0.4: also damaged copies")
    )
    Image.open(png).convert("RGB").save(out, quality=85)
    png.unlink()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
