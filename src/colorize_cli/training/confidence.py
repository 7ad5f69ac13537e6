"""Fit the estimate behind each photo's confidence (:mod:`colorize_cli.colour.confidence`)
on held-out photos, as ``colorize`` colours them, against their real mean a/b error.

``colorize-train`` fits it after choosing the decoding; for weights trained before it
existed (or to fit it on other held-out photos):

    python -m colorize_cli.training.confidence WEIGHTS PHOTOS_DIR... [--val-fraction F]
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
import numpy as np
import torch

from ..colour.confidence import Estimate, features, fit
from ..colour.resample import thumbnail
from ..colour.rgb import compose
from ..model.batch import stack_l
from ..model.colorizer import Colorizer
from ..model.weights import load_weights, save_weights
from . import metrics
from .evaluate import load_photo
from .traindata import held_out_paths

BATCH = 16
# fewer held-out photos than this fit 21 weights to noise: a fine-tune on a small
# collection keeps the estimate of the weights it started from instead
MIN_PHOTOS = 100


@torch.inference_mode()
def measure(col: Colorizer, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Each photo's confidence features ``(N, F)`` and its real mean a/b error ``(N,)``,
    coloured as ``colorize`` colours it (no reference, no hints)."""
    feats, errors = [], []
    for i in range(0, len(paths), BATCH):
        photos = [load_photo(p) for p in paths[i : i + BATCH]]
        L = stack_l([thumbnail(d.gray, col.input_size) for d, _ in photos])
        logits = col.logits(L)
        ab = col.decode(logits)
        feats.append(features(logits, col.centres, ab, L).cpu().numpy())
        for (decoded, truth), a in zip(photos, ab, strict=True):
            errors.append(metrics.ab_error(compose(decoded.gray, a, 8), truth))
    return np.concatenate(feats).astype(np.float64), np.array(errors)


def fit_estimate(weights: Path, paths: list[Path]) -> Estimate:
    """The estimate for ``weights`` (with their chosen decoding), fitted on ``paths``."""
    return fit(*measure(Colorizer(weights, "auto"), paths))


def refit(weights: Path, paths: list[Path], start: Estimate | None) -> str:
    """After a training run: fit ``weights``' estimate on its held-out ``paths``, or keep
    ``start`` (the starting weights') when they are too few; what was done, in words."""
    if len(paths) >= MIN_PHOTOS:
        store(weights, fit_estimate(weights, paths))
        return f"fitted the confidence estimate on {len(paths)} validation photos"
    store(weights, start)
    kept = "kept the starting weights' confidence estimate" if start else "no confidence estimate"
    return f"{kept}: {len(paths)} validation photos are too few to fit one ({MIN_PHOTOS})"


def store(weights: Path, estimate: Estimate | None) -> None:
    """Write ``estimate`` into the weights file (atomically, tensors unchanged)."""
    net, centres, spec = load_weights(weights)
    save_weights(weights, net, centres, replace(spec, confidence=estimate))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("weights", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--val-fraction", type=float, default=0.02, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def main(weights: Path, data_dir: Path, val_fraction: float, seed: int) -> None:
    """Fit WEIGHTS' confidence estimate on the photos colorize-train held out of DATA_DIR
    (the same --val-fraction and --seed), and store it in WEIGHTS."""
    paths = held_out_paths(data_dir, val_fraction, seed)
    store(weights, fit_estimate(weights, paths))
    click.echo(f"fitted the confidence estimate on {len(paths)} held-out photos into {weights}")


if __name__ == "__main__":
    main()
