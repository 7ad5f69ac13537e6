"""Options of a colouring run, with their defaults, in one place."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# The name pip knows this package by (``colorize-cli`` on the public index is another
# project); the import package stays ``colorize_cli`` and the command ``colorize``.
DISTRIBUTION = "colorize-archive"

# How strongly a reference photo's palette replaces the training prior: 1 is the plain
# Bayes swap. Half of it keeps a reference of another photo from doing harm while most
# of an exact palette's gain remains (model card: oracle and fair references).
DEFAULT_REFERENCE_STRENGTH = 0.5
# Frames over which a sequence's colour is averaged (colour/temporal.py); measured in
# benchmarks/flicker.py: at 16 a pan's flicker falls to a fifth, PSNR within 0.05 dB,
# colourfulness kept; 8 leaves a quarter, 24 gains little and lags more.
DEFAULT_TEMPORAL_WINDOW = 16
# Photos coloured with a confidence below this are counted in the summary as the ones to
# check first: a confidence is the share of held-out photos the model expected to come
# out worse (colour/confidence.py). On the evaluation sets 8% fall below 0.1, with 1.70
# times the mean a/b error (benchmarks/README.md, "Confidence").
DEFAULT_CHECK_BELOW = 0.1
# x264's quality scale: 0 lossless, 23 its own default; 18 is close to transparent.
DEFAULT_VIDEO_CRF = 18


def install_extra(extra: str) -> str:
    """The pip command that adds an extra's packages to the environment this package is
    installed in, read from the installed metadata (pyproject.toml lists them once).
    Naming the packages works whether this package came from an index, a wheel or a
    checkout; naming ``colorize-archive[extra]`` would only work from an index."""
    try:
        listed = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # run from a source tree that pip never saw
        return f'pip install ".[{extra}]" (in the checkout)'
    requirements = [
        r.split(";")[0].strip() for r in listed if f'extra == "{extra}"' in r.replace("'", '"')
    ]
    return f"pip install {' '.join(shlex.quote(r) for r in requirements)} (the {extra} extra)"


def default_workers() -> int:
    """One decode and one encode thread per core: both release the GIL (Pillow, numba),
    and a GPU box needs every core to keep its device fed. Memory is bounded by
    ``max_pixels_in_flight``, not by the thread count."""
    return max(1, min(16, os.cpu_count() or 1))


@dataclass(frozen=True)
class Options:
    """Everything ``colorize`` lets a user choose; the CLI only fills this in."""

    batch_size: int = 8
    device: str = "auto"
    format: str | None = None  # png, jpg, tif, bmp, webp; None keeps each input's format
    overwrite: bool = False
    weights: Path | None = None  # None: the shipped weights, checked against their sha256
    temperature: float | None = None  # None: the one stored with the weights
    workers: int = default_workers()  # threads for decoding and for encoding
    # Full-resolution pixels held in memory at once across all stages; a single image
    # larger than this still runs, alone. 128 M pixels is about 1.5 GiB at worst (16-bit).
    max_pixels_in_flight: int = 128_000_000
    # A colour photo whose palette every input takes, or a folder mirroring IN with one
    # per input (files/controls.py); None: automatic colour.
    reference: Path | None = None
    reference_strength: float = DEFAULT_REFERENCE_STRENGTH
    hints: Path | None = None  # a folder mirroring IN with NAME.hints.json files
    sequence: bool | None = None  # frames of a film: None guesses (files/sequences.py)
    temporal_window: int = DEFAULT_TEMPORAL_WINDOW  # 0: every frame on its own
    video_crf: int = DEFAULT_VIDEO_CRF
    engine: str = "local"  # or "ray": running/ray_engine.py
    ray_address: str | None = None  # None: start a local Ray; "auto" or "ray://host:port"
    debug: bool = False  # let Ray's own log lines through to the terminal
    check_below: float = DEFAULT_CHECK_BELOW  # the summary counts photos less sure than this
