"""Make docs/samples.jpg: grey input | colorize-cli | original, for the bundled samples.

    python docs/make_samples_figure.py

The originals are the colour photos inside scikit-image's package data that
samples/make_samples.py turned grey; the figure goes through colorize-eval's code path.
"""

from pathlib import Path

import skimage
from PIL import Image

from colorize_cli import Colorizer
from colorize_cli.training.evaluate import colorize_photos, contact_sheet

DATA = Path(skimage.__file__).parent / "data"
ORIGINALS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]


def main() -> None:
    out = Path(__file__).parent / "samples.jpg"
    triples = [
        (grey, outs["ours"], truth)
        for grey, outs, truth in colorize_photos(Colorizer(), [DATA / n for n in ORIGINALS])
    ]
    png = out.with_suffix(".png")
    contact_sheet(triples, png, height=220)
    Image.open(png).convert("RGB").save(out, quality=85)
    png.unlink()
    print(out)


if __name__ == "__main__":
    main()
