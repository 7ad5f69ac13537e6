"""Choose the annealed-mean temperature on held-out training photos, never on evaluation sets.

Lower temperatures give more vivid colour and, once colours are wrong, lower PSNR. The
chosen temperature is the most vivid one whose PSNR stays within ``max_psnr_drop`` dB of
the grey baseline on the validation photos; it is written into the weights file.
"""

from __future__ import annotations

from pathlib import Path

import click

from .evaluate import score_set

TEMPERATURES = (0.25, 0.3, 0.38, 0.45, 0.55, 0.7, 1.0)
MAX_PSNR_DROP = 0.2  # dB below grey allowed on validation (the target on eval sets is 0.3)


def choose(
    weights: Path, val_paths: list[Path], max_psnr_drop: float = MAX_PSNR_DROP
) -> tuple[float, list[dict]]:
    """Return the chosen temperature and the validation table it was chosen from."""
    from .api import Colorizer

    table = []
    for t in TEMPERATURES:
        scored = score_set(Colorizer(weights, "auto", t), val_paths)
        ours, grey = scored["ours"], scored["grey"]
        row = {
            "temperature": t,
            "psnr": ours.psnr,
            "grey_psnr": grey.psnr,
            "ssim": ours.ssim,
            "auc": ours.auc,
            "grey_auc": grey.auc,
            "colourfulness_ratio": ours.colourfulness_ratio,
        }
        table.append(row)
        click.echo("  ".join(f"{k}={v:.3f}" for k, v in row.items()))
    ok = [r for r in table if r["psnr"] >= r["grey_psnr"] - max_psnr_drop]
    best = min(ok, key=lambda r: r["temperature"]) if ok else max(table, key=lambda r: r["psnr"])
    return best["temperature"], table
