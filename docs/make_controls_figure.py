"""Draw docs/controls.jpg: one archive photo coloured automatically, with a reference
photo, and with three hints (points marked), through the public API.

    python docs/make_controls_figure.py

Reads the photos from ../shared/data (never committed); writes only the figure.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from colorize_cli import Colorizer, Hint

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PHOTO = DATA / "archive_bw" / "ddcolor_test_images" / "Detroit circa 1915.jpg"
REFERENCE = DATA / "eval" / "kodak24" / "kodim08.jpg"  # a colour town street with sky
HINTS = [
    Hint(330, 50, (150, 185, 225), radius=6),  # sky: pale blue
    Hint(100, 200, (150, 85, 65), radius=6),  # the hotel on the left: brick
    Hint(470, 305, (85, 125, 60), radius=6),  # the park in the square: grass
]
HEIGHT = 300


def _panel(im: Image.Image, label: str) -> Image.Image:
    im = im.convert("RGB").resize((round(im.width * HEIGHT / im.height), HEIGHT), Image.LANCZOS)
    out = Image.new("RGB", (im.width, HEIGHT + 18), "white")
    out.paste(im, (0, 18))
    ImageDraw.Draw(out).text((4, 3), label, fill="black")
    return out


def main() -> None:
    col = Colorizer()
    with Image.open(PHOTO) as photo, Image.open(REFERENCE) as ref:
        photo.load()
        ref.load()
        auto = col.colorize(photo)
        referenced = col.colorize(photo, reference=ref)
        hinted = col.colorize(photo, hints=HINTS)
        scale = HEIGHT / photo.height
        marked = hinted.copy()
        draw = ImageDraw.Draw(marked)
        r = 7 / scale
        for h in HINTS:
            draw.ellipse((h.x - r, h.y - r, h.x + r, h.y + r), outline="black", width=3)
            draw.ellipse((h.x - r + 3, h.y - r + 3, h.x + r - 3, h.y + r - 3), fill=h.rgb)
        ref_thumb = ref.convert("RGB").resize((ref.width * 90 // ref.height, 90))
    panels = [
        _panel(photo, "archive photo (grey)"),
        _panel(auto, "automatic"),
        _panel(referenced, "--reference (inset)"),
        _panel(marked, "--hints: 3 points (marked)"),
    ]
    panels[2].paste(ref_thumb, (panels[2].width - ref_thumb.width - 4, HEIGHT + 18 - 94))
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 4 * (len(panels) - 1), HEIGHT + 18))
    sheet.paste("white", (0, 0, sheet.width, sheet.height))
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width + 4
    out = Path(__file__).parent / "controls.jpg"
    sheet.save(out, quality=85)
    print(out)


if __name__ == "__main__":
    main()
