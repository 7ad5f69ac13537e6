"""How well can the model's own distributions tell which photos it coloured wrong?

For every photo of the evaluation sets (made grey, coloured as ``colorize`` colours it),
computes candidate confidences from the logits of the pass that colours it, and the real
mean a/b error of the result against the original. Prints, per candidate, the Spearman
correlation between its doubt (1 - confidence) and the error, pooled over the sets and
per set, and the mean error of the least-confident tenth over the mean error.

    python benchmarks/confidence.py ../shared/data/eval [--weights FILE]

Candidates (each a mean over the photo's pixels at the model's output grid):
- expected: the error the model itself expects of the colour it shows, sqrt(E_p|c - ab|^2)
  in a/b units (its distribution against its decoded a/b);
- entropy: the softmax's entropy over log(Q);
- spread: the a/b standard deviation of the distribution, over 50 a/b units;
- entropy_cf and spread_cf: weighted by the chroma the model expects at the pixel, so
  that sure-grey sky counts less than a face it hesitates over;
- top: 1 - the probability of the likeliest class.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from colorize_cli.colour.lab import rgb_to_lab  # noqa: E402
from colorize_cli.colour.resample import thumbnail  # noqa: E402
from colorize_cli.colour.rgb import compose  # noqa: E402
from colorize_cli.model.batch import stack_l  # noqa: E402
from colorize_cli.model.colorizer import Colorizer  # noqa: E402
from colorize_cli.training.evaluate import load_photo, photo_sets  # noqa: E402


def doubts(logits: torch.Tensor, centres: torch.Tensor, ab: torch.Tensor) -> dict[str, float]:
    """Candidate doubts (higher: less sure) of one photo's logits ``(Q, h, w)`` and the
    a/b ``(2, h, w)`` decoded from them."""
    p = torch.softmax(logits.float(), dim=0)
    q = p.shape[0]
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(0) / math.log(q)
    mean = torch.einsum("qhw,qc->chw", p, centres)
    var = torch.einsum("qhw,qc->hw", p, centres.square()) - mean.square().sum(0)
    spread = var.clamp_min(0).sqrt() / 50
    chroma = mean.norm(dim=0)
    w = chroma / chroma.sum().clamp_min(1e-6)
    # the model's own expected error of what it shows: E_p |c - ab| per pixel
    sq = (centres.square().sum(1)[:, None, None] - 2 * torch.einsum("qc,chw->qhw", centres, ab)
          + ab.square().sum(0)[None])  # fmt: skip
    expected = (p * sq.clamp_min(0)).sum(0).sqrt()
    return {
        "expected": float(expected.mean()),
        "entropy": float(entropy.mean()),
        "spread": float(spread.mean()),
        "entropy_cf": float((entropy * w).sum()),
        "spread_cf": float((spread * w).sum()),
        "top": float(1 - p.max(0).values.mean()),
    }


def ab_error(out: np.ndarray, truth: np.ndarray) -> float:
    """Mean a/b distance between two uint8 RGB photos."""
    a = rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1)[None].float() / 255)[0, 1:]
    b = rgb_to_lab(torch.from_numpy(truth).permute(2, 0, 1)[None].float() / 255)[0, 1:]
    return float((a - b).norm(dim=0).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--weights", type=Path)
    args = ap.parse_args()
    col = Colorizer(args.weights, "cpu")
    rows: list[tuple[str, dict[str, float], float]] = []
    for name, paths in photo_sets(args.dirs).items():
        for path in paths:
            decoded, truth = load_photo(path)
            L = stack_l([thumbnail(decoded.gray, col.input_size)])
            logits = col.logits(L)
            ab = col.decode(logits)
            out = compose(decoded.gray, ab[0], 8)
            doubt = doubts(logits[0].cpu(), col.centres.cpu(), ab[0])
            rows.append((name, doubt, ab_error(out, truth)))
    errors = np.array([e for _, _, e in rows])
    sets = sorted({s for s, _, _ in rows})
    print(f"{len(rows)} photos, mean a/b error {errors.mean():.2f}")
    print(f"{'candidate':12} {'pooled':>7} " + " ".join(f"{s:>10}" for s in sets) + "  tenth/mean")
    for key in rows[0][1]:
        d = np.array([c[key] for _, c, _ in rows])
        pooled = spearmanr(d, errors).statistic
        masks = [np.array([x == s for x, _, _ in rows]) for s in sets]
        per = [spearmanr(d[m], errors[m]).statistic for m in masks]
        worst = errors[np.argsort(-d)[: max(1, len(d) // 10)]].mean() / errors.mean()
        print(f"{key:12} {pooled:7.3f} " + " ".join(f"{r:10.3f}" for r in per) + f"  {worst:10.2f}")


if __name__ == "__main__":
    main()
