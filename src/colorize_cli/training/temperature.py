"""Choose the inference size and the annealed-mean temperature on held-out training photos,
never on the evaluation sets.

Lower temperatures give more vivid colour and, once colours are wrong, lower PSNR; an
inference size far from the scale the model was trained at gives confident wrong colours
on large flat areas. The validation photos come from the training distribution and are
easier than unseen photos, so "PSNR no worse than grey" would choose colours far too
bold. The rule is calibrated instead: among the settings whose outputs are at least
:data:`MIN_COLOURFULNESS` as colourful as the real photos, take the one with the best
PSNR. Both choices are written into the weights file.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch

from ..colour import bins
from ..colour.resample import thumbnail
from ..colour.rgb import compose
from ..model.batch import stack_l
from ..model.net import normalise_l
from . import metrics
from .evaluate import grey_rgb, load_photo

SIZES = (96, 112, 128, 160, 224)
TEMPERATURES = (0.2, 0.25, 0.3, 0.38, 0.45, 0.55, 0.7, 1.0)
MIN_COLOURFULNESS = 0.9  # outputs' colourfulness over the originals', on validation


@torch.inference_mode()
def choose(weights: Path, val_paths: list[Path]) -> tuple[int, float, list[dict]]:
    """Return (input size, temperature) and the validation table they were chosen from."""
    from ..model.colorizer import Colorizer

    col = Colorizer(weights, "auto")
    decoded, truths = zip(*(load_photo(p) for p in val_paths), strict=True)
    cf_truth = np.mean([metrics.colourfulness(t) for t in truths])
    grey_psnr = float(
        np.mean([metrics.psnr(grey_rgb(d), t) for d, t in zip(decoded, truths, strict=True)])
    )
    table = []
    for size in SIZES:
        logits = []
        for i in range(0, len(decoded), 32):
            L = stack_l([thumbnail(d.gray, size) for d in decoded[i : i + 32]])
            x = normalise_l(L).to(col.device).contiguous(memory_format=torch.channels_last)
            logits.append(col.net(x).float().cpu())
        all_logits = torch.cat(logits)
        for t in TEMPERATURES:
            ab = bins.annealed_mean(all_logits, col.centres.cpu(), t)
            outs = [compose(d.gray, a, 8) for d, a in zip(decoded, ab, strict=True)]
            row = {
                "size": size,
                "temperature": t,
                "psnr": float(
                    np.mean([metrics.psnr(o, tr) for o, tr in zip(outs, truths, strict=True)])
                ),
                "grey_psnr": grey_psnr,
                "colourfulness_ratio": float(
                    np.mean([metrics.colourfulness(o) for o in outs]) / cf_truth
                ),
            }
            table.append(row)
            click.echo(
                "  ".join(
                    f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                )
            )
    vivid = [r for r in table if r["colourfulness_ratio"] >= MIN_COLOURFULNESS]
    best = (
        max(vivid, key=lambda r: r["psnr"])
        if vivid
        else max(table, key=lambda r: r["colourfulness_ratio"])
    )
    return best["size"], best["temperature"], table
