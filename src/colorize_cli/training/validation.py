"""How a run is judged while it trains: loss and PSNR on the held-out crops, per
decoding temperature, beside the grey baseline, over all crops and as the mean over
their source sets (the figure that chooses settings and checkpoints)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from ..colour import bins
from ..colour.lab import lab_to_rgb
from ..model.net import ColorizerNet, normalise_l
from .metrics import stratified_mean
from .objective import class_loss, targets_ab
from .traindata import to_lab

DEFAULT_TEMPERATURE = 0.38


@torch.inference_mode()
def validate(
    net: ColorizerNet,
    val: np.ndarray,
    centres: torch.Tensor,
    weights: torch.Tensor,
    device: torch.device,
    sources: list[str],
    temperatures: tuple[float, ...] = (1.0, 0.6, DEFAULT_TEMPERATURE),
    inputs: torch.Tensor | None = None,
) -> dict[str, float]:
    """Validation loss and RGB PSNR per decoding temperature, beside the grey baseline:
    over all crops (``val_psnr_*``) and as the mean over ``sources`` (``val_spsnr_*``,
    each crop's source set; the figure that chooses settings and checkpoints). With
    ``inputs``, the network sees these L ``(N, 1, H, W)`` (degraded copies) instead of
    the crops' own, and is scored against the clean crops."""
    net.eval()
    losses: list[float] = []
    mse: dict[float | str, list[float]] = {t: [] for t in (*temperatures, "grey")}
    for i in range(0, len(val), 64):
        lab = to_lab(val[i : i + 64]).to(device)
        seen = lab[:, :1] if inputs is None else inputs[i : i + 64].to(device)
        logits = net(normalise_l(seen))
        target = targets_ab(lab)
        losses += [
            class_loss(lg[None], tg[None], centres, weights).item()
            for lg, tg in zip(logits, target, strict=True)
        ]
        truth = lab_to_rgb(lab)
        for t in temperatures:
            ab = bins.annealed_mean(logits, centres, t)
            ab = F.interpolate(ab, size=lab.shape[-2:], mode="bilinear", align_corners=False)
            rgb = lab_to_rgb(torch.cat((lab[:, :1], ab), dim=1))
            mse[t] += (rgb - truth).square().mean(dim=(1, 2, 3)).tolist()
        grey = lab_to_rgb(torch.cat((lab[:, :1], torch.zeros_like(lab[:, 1:])), dim=1))
        mse["grey"] += (grey - truth).square().mean(dim=(1, 2, 3)).tolist()
    out = {"val_loss": float(np.mean(losses)), "val_sloss": stratified_mean(losses, sources)}
    for t, errs in mse.items():
        out[f"val_psnr_{t}"] = 10 * math.log10(1.0 / float(np.mean(errs)))
        psnrs = [10 * math.log10(1.0 / max(e, 1e-12)) for e in errs]
        out[f"val_spsnr_{t}"] = stratified_mean(psnrs, sources)
    net.train()
    return out
