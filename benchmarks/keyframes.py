"""Colour one frame, the shot follows: what hints on a film's keyframe do to every frame.

    python benchmarks/keyframes.py [--photos ../shared/data/eval/kodak24] [--count 4]
                                   [--frames 36] [--hints 10]

Builds the test films of ``flicker.py`` from evaluation photos (true colour known for
every frame): pans with a zoom, a square from another photo crossing a still shot,
fades to black and back, and two shots joined by a cut. Each is written as a frame
folder of 16-bit greys and coloured by ``colorize`` (the API, the local engine) twice:
without hints, and with ``--hints`` true-colour points on one keyframe (the middle
frame; in a "cut" film the middle of the first shot) at seeded random points, as
``colorize-eval --hints`` places them. (Placed where the keyframe's automatic colour is
most wrong, as in ``hints.py``, ten hints made two of these keyframes worse even coloured
as photos: on grainy frames the worst points are often small details whose colour then
floods the flat regions around them.) Prints per film:
  key     the keyframe's own PSNR gain (dB) over no hints;
  shot    the mean gain over the keyframe's shot, and as a share of the keyframe's;
  next    the largest change of a frame of the next shot (a "cut" film), in dB;
  flicker the flicker of both runs (``flicker.py``'s metric, a/b units), per pixel and
          over 8x8 blocks (``block``: what an eye sees as colour pumping);
and the gain at every frame of each kind of film, averaged over the photos: the curve in
benchmarks/README.md. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from flicker import SIZE, Sequence, flicker, sequences
from PIL import Image

from colorize_cli import Colorizer, Options, colorize_dir
from colorize_cli.files.formats import is_image_name
from colorize_cli.training import metrics


def write_film(folder: Path, seq: Sequence) -> None:
    folder.mkdir(parents=True)
    for i, grey in enumerate(seq.greys):
        level = np.rint(grey * 65535).astype(np.uint16)
        Image.fromarray(level).save(folder / f"frame_{i:03d}.png")


def coloured(folder: Path, frames: int) -> list[np.ndarray]:
    return [
        np.asarray(Image.open(folder / f"frame_{i:03d}.png").convert("RGB")) for i in range(frames)
    ]


def known(truth: np.ndarray, x: int, y: int, r: int = 2) -> list[int]:
    """The colour a restorer knows at a point: the original's mean over a few pixels."""
    patch = truth[y - r : y + r + 1, x - r : x + r + 1].reshape(-1, 3)
    return [round(float(v)) for v in patch.mean(0)]


def run_film(col: Colorizer, tmp: Path, name: str, seq: Sequence, hints: int) -> dict[str, object]:
    frames = len(seq.truth)
    src = tmp / name / "in"
    write_film(src / "film", seq)
    key = (seq.shots.index(1) // 2) if 1 in seq.shots else frames // 2
    plain = tmp / name / "plain"
    summary = colorize_dir(src, plain, Options(sequence=True), colorizer=col)
    assert summary.done == frames, summary.failures
    auto = coloured(plain / "film", frames)
    rng = np.random.default_rng(len(name))
    points = [
        (int(rng.integers(8, SIZE[0] - 8)), int(rng.integers(8, SIZE[1] - 8))) for _ in range(hints)
    ]
    truth = seq.truth[key].astype(np.float32)
    hint_dir = tmp / name / "hints"
    (hint_dir / "film").mkdir(parents=True)
    (hint_dir / "film" / f"frame_{key:03d}.hints.json").write_text(
        json.dumps({"points": [{"x": x, "y": y, "rgb": known(truth, x, y)} for x, y in points]})
    )
    hinted = tmp / name / "hinted"
    summary = colorize_dir(src, hinted, Options(sequence=True, hints=hint_dir), colorizer=col)
    assert summary.done == frames, summary.failures
    with_hints = coloured(hinted / "film", frames)
    gain = [
        metrics.psnr(h, t) - metrics.psnr(a, t)
        for h, a, t in zip(with_hints, auto, seq.truth, strict=True)
    ]
    shot = [g for g, s in zip(gain, seq.shots, strict=True) if s == seq.shots[key]]
    nxt = [abs(g) for g, s in zip(gain, seq.shots, strict=True) if s != seq.shots[key]]
    return {
        "key": gain[key],
        "shot": float(np.mean(shot)),
        "share": float(np.mean(shot)) / gain[key] if gain[key] > 0 else float("nan"),
        "next": max(nxt) if nxt else None,
        "flicker": (flicker(auto, seq), flicker(with_hints, seq)),
        "block": (flicker(auto, seq, 8), flicker(with_hints, seq, 8)),
        "gain": gain,
        "keyframe": key,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=Path, default=Path("../shared/data/eval/kodak24"))
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--frames", type=int, default=36)
    ap.add_argument("--hints", type=int, default=10)
    args = ap.parse_args()
    paths = sorted(p for p in args.photos.iterdir() if is_image_name(p.name))[: args.count]
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    films = {k: v for k, v in sequences(photos, args.frames).items() if not k.startswith("still")}
    col = Colorizer(device="cpu")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, seq in films.items():
            r = run_film(col, Path(tmp), name, seq, args.hints)
            results[name] = r
            nxt = "" if r["next"] is None else f"{r['next']:.3f}"
            print(
                f"{name:7} key {r['key']:6.2f} dB  shot {r['shot']:5.2f} dB ({r['share']:.0%})"
                f"  next {nxt:>6}  flicker {r['flicker'][0]:.3f} -> {r['flicker'][1]:.3f}"
                f"  block {r['block'][0]:.3f} -> {r['block'][1]:.3f}"
            )
    kinds = sorted({n.rstrip("0123456789") for n in results})
    summary: dict[str, object] = {}
    for kind in kinds:
        rs = [r for n, r in results.items() if n.rstrip("0123456789") == kind]
        curve = np.mean([r["gain"] for r in rs], axis=0)
        summary[kind] = {
            "key": float(np.mean([r["key"] for r in rs])),
            "shot": float(np.mean([r["shot"] for r in rs])),
            "share": float(np.mean([r["share"] for r in rs])),
            "next": max((r["next"] for r in rs if r["next"] is not None), default=None),
            "flicker": [float(np.mean([r["flicker"][i] for r in rs])) for i in (0, 1)],
            "block": [float(np.mean([r["block"][i] for r in rs])) for i in (0, 1)],
            "curve": [round(float(g), 3) for g in curve],
        }
        print(f"{kind:5} gain per frame: " + " ".join(f"{g:.2f}" for g in curve))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
