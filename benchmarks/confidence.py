"""How well does each photo's confidence tell which photos the model coloured wrong?

For every photo of the evaluation sets (made grey, coloured as ``colorize`` colours it),
takes the confidence features from the logits of the pass that colours it
(``colour/confidence.py``) and the real mean a/b error of the result against the
original. Prints, for each single feature and for the weights' learnt estimate (the
confidence ``colorize`` reports), the Spearman correlation between doubt and error,
pooled over the sets and per set, and the mean error of the least-sure tenth over the
mean error; then, for thresholds, the share of photos below each and how wrong they are;
then what computing the confidence costs per photo.

    python benchmarks/confidence.py ../shared/data/eval [--weights FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from colorize_cli.colour.confidence import FEATURES, features  # noqa: E402
from colorize_cli.model.batch import stack_l  # noqa: E402
from colorize_cli.model.colorizer import Colorizer  # noqa: E402
from colorize_cli.training.confidence import measure  # noqa: E402
from colorize_cli.training.evaluate import photo_sets  # noqa: E402

THRESHOLDS = (0.05, 0.1, 0.2, 0.3)


def row(name: str, doubt: np.ndarray, errors: np.ndarray, sets: list[str]) -> str:
    pooled = spearmanr(doubt, errors).statistic
    per = []
    for s in sorted(set(sets)):
        m = np.array([x == s for x in sets])
        per.append(spearmanr(doubt[m], errors[m]).statistic)
    tenth = errors[np.argsort(-doubt)[: max(1, len(doubt) // 10)]].mean() / errors.mean()
    return f"{name:24} {pooled:7.3f} " + " ".join(f"{r:10.3f}" for r in per) + f"  {tenth:10.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--weights", type=Path)
    args = ap.parse_args()
    col = Colorizer(args.weights, "cpu")
    if col.spec.confidence is None:
        raise SystemExit("these weights carry no confidence estimate")
    feats, errors, sets = [], [], []
    for name, paths in photo_sets(args.dirs).items():
        f, e = measure(col, paths)
        feats.append(f)
        errors.append(e)
        sets += [name] * len(paths)
    x, err = np.concatenate(feats), np.concatenate(errors)
    confidence = np.array(col.spec.confidence.confidence(torch.from_numpy(x)))
    print(f"{len(err)} photos, mean a/b error {err.mean():.2f}")
    print(
        f"{'doubt':24} {'pooled':>7} "
        + " ".join(f"{s:>10}" for s in sorted(set(sets)))
        + "  tenth/mean"
    )
    for i, key in enumerate(FEATURES):
        print(row(key, x[:, i], err, sets))
    print(row("learnt (1 - confidence)", 1 - confidence, err, sets))
    print("\nthreshold  share below  their error / mean")
    for t in THRESHOLDS:
        below = confidence < t
        ratio = err[below].mean() / err.mean() if below.any() else float("nan")
        print(f"{t:9.2f}  {below.mean():11.1%}  {ratio:17.2f}")
    # cost: the features of a batch of 16, against the forward pass that colours them
    L = stack_l([np.random.default_rng(0).random((col.input_size,) * 2, np.float32)] * 16)
    logits = col.logits(L)
    ab = col.decode(logits)
    runs = 20
    t0 = time.perf_counter()
    for _ in range(runs):
        col.spec.confidence.confidence(features(logits, col.centres, ab, L))
    cost = (time.perf_counter() - t0) / runs / 16
    t0 = time.perf_counter()
    for _ in range(runs // 4):
        col.decode(col.logits(L))
    forward = (time.perf_counter() - t0) / (runs // 4) / 16
    print(
        f"\ncost per photo ({torch.get_num_threads()} threads): confidence {cost * 1e3:.2f} ms, "
        f"the forward pass and decoding it rides on {forward * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
