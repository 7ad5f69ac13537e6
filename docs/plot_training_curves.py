"""Draw docs/training_curves.png from the shipped weights' training logs.

    python docs/plot_training_curves.py

Reads ``weights/training-logs/phase*.jsonl`` (copies of each phase's ``runs/*/log.jsonl``)
and puts all phases on one axis of crops seen, so a reader can judge how far the loss
still falls per hour of training. Drawn with Pillow, which the project already needs.
"""

import json
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).parent.parent
LOGS = sorted((ROOT / "weights" / "training-logs").glob("phase*.jsonl"))
BATCH = 32  # every phase's batch size (weights/MODEL_CARD.md)
W, H = 900, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 50, 30  # room for labels, title and legend
SMOOTH = 10  # logged train losses (20 steps each) averaged per point


def read_phase(path: Path) -> tuple[dict[int, float], dict[int, dict]]:
    """Train losses and validation records by step; a resumed run logs some steps twice,
    and the later record wins."""
    train: dict[int, float] = {}
    val: dict[int, dict] = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if "val_loss" in rec:
            val[rec["step"]] = rec
        elif "loss" in rec:
            train[rec["step"]] = rec["loss"]
    return train, val


def panel(
    series: list[tuple[str, list[tuple[float, float]]]],
    boundaries: list[float],
    title: str,
) -> Image.Image:
    """One line chart against crops seen, phases separated by grey lines."""
    img = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(img)
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts]
    x0, x1 = 0.0, max(xs)
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.05 or 1.0
    y0, y1 = y0 - pad, y1 + pad

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (
            LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT),
            TOP + (y1 - y) / (y1 - y0) * (H - TOP - BOTTOM),
        )

    for b in boundaries:
        draw.line([to_px(b, y0), to_px(b, y1)], fill=(200, 200, 200))
    draw.rectangle([to_px(x0, y1), to_px(x1, y0)], outline="black")
    for i in range(5):
        y = y0 + (y1 - y0) * i / 4
        px, py = to_px(x0, y)
        draw.text((px - 45, py - 6), f"{y:.2f}", fill="black")
    for i in range(6):
        x = x1 * i / 5
        px, py = to_px(x, y0)
        draw.text((px - 12, py + 6), f"{x / 1000:.0f}k", fill="black")
    draw.text((LEFT, 8), title, fill="black")
    colours = [(31, 119, 180), (214, 39, 40)]  # each panel draws two series
    for k, ((name, pts), colour) in enumerate(zip(series, colours, strict=True)):
        draw.line([to_px(x, y) for x, y in pts], fill=colour, width=2)
        draw.text((W - RIGHT - 220, 8 + 14 * k), name, fill=colour)
    return img


def main() -> None:
    offset = 0.0
    boundaries: list[float] = []
    train_pts: list[tuple[float, float]] = []
    val_pts: list[tuple[float, float]] = []
    psnr_pts: list[tuple[float, float]] = []
    grey_pts: list[tuple[float, float]] = []
    for path in LOGS:
        train, val = read_phase(path)
        steps = sorted(train)
        for i in range(0, len(steps) - SMOOTH + 1, SMOOTH):
            chunk = steps[i : i + SMOOTH]
            loss = sum(train[s] for s in chunk) / len(chunk)
            train_pts.append((offset + chunk[-1] * BATCH, loss))
        for s in sorted(val):
            x = offset + s * BATCH
            val_pts.append((x, val[s]["val_loss"]))
            psnr_pts.append((x, val[s]["val_psnr_1.0"]))
            grey_pts.append((x, val[s]["val_psnr_grey"]))
        offset += max(steps) * BATCH
        boundaries.append(offset)
    top = panel(
        [("train loss (200-step mean)", train_pts), ("validation loss", val_pts)],
        boundaries[:-1],
        "soft-encoded cross-entropy vs crops seen (phases split by grey lines)",
    )
    bottom = panel(
        [("validation PSNR, T=1 (dB)", psnr_pts), ("grey baseline", grey_pts)],
        boundaries[:-1],
        "validation PSNR at T=1 vs crops seen",
    )
    out = ROOT / "docs" / "training_curves.png"
    fig = Image.new("RGB", (W, 2 * H), "white")
    fig.paste(top, (0, 0))
    fig.paste(bottom, (0, H))
    fig.save(out, optimize=True)
    print(out)


if __name__ == "__main__":
    main()
