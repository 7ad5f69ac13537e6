"""Recreate the bundled grey samples from colour photos inside scikit-image's package data.

    python samples/make_samples.py

The photos (astronaut, chelsea, coffee, rocket, motorcycle) are public domain or CC0 (see
scikit-image's data/README.txt). Each is reduced to the grey of its own CIE lightness, the
way an old black-and-white print records a scene; coffee is also kept as a 16-bit TIFF.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data

from colorize_cli.colour.lab import linear_to_srgb, rgb_to_luminance

HERE = Path(__file__).parent
SAMPLES = {
    "people/astronaut.png": data.astronaut,
    "animals/chelsea.png": data.chelsea,
    "things/coffee.tif": data.coffee,
    "things/motorcycle.png": data.stereo_motorcycle,
    "rocket.jpg": data.rocket,
}


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float grey in [0, 1] with the same lightness."""
    t = torch.from_numpy(rgb[..., :3].copy()).permute(2, 0, 1).float() / 255
    return linear_to_srgb(rgb_to_luminance(t)).numpy()


def main() -> None:
    for rel, load in SAMPLES.items():
        rgb = load()
        if isinstance(rgb, tuple):  # stereo pair: take the left view
            rgb = rgb[0]
        gray = gray_of(rgb)
        out = HERE / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".tif":
            Image.fromarray(np.rint(gray * 65535).astype(np.uint16)).save(
                out, compression="tiff_deflate"
            )
        else:
            Image.fromarray(np.rint(gray * 255).astype(np.uint8)).save(out, quality=92)
        print(out, gray.shape)


if __name__ == "__main__":
    main()
