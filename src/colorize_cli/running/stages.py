"""The per-photo stages that every engine runs, written once: decode (with the photo's
hints) to the model's small input, and colour + encode + atomic write of the output.

The local pipeline runs them on its thread pools; the Ray engine runs them as Ray tasks
on any node. Neither holds engine state: what they need comes in as arguments.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..colour.hints import Hint, apply_hints
from ..colour.keyframes import Carried
from ..colour.resample import thumbnail
from ..colour.rgb import apply_coefficients, compose, guide_grid
from ..colour.temporal import Stabiliser
from ..files.controls import check_inside, read_hints, read_reference
from ..files.discover import Job
from ..files.formats import format_for
from ..files.read import Decoded, ReadError, read_image
from ..files.write import encoder, write_atomic
from ..model.colorizer import Colorizer


@dataclass
class Prepared:
    """A photo decoded for colouring: its grey and metadata, the model's input, hints."""

    decoded: Decoded
    thumb: np.ndarray  # (S, S) float32 grey at the model's input size
    hints: list[Hint] = field(default_factory=list)


def prepare(job: Job, input_size: int) -> Prepared:
    """Decode ``job.source`` and read its hints; raises ReadError with the reason."""
    decoded = read_image(job.source)
    hints: list[Hint] = []
    if job.hints is not None:
        hints = read_hints(job.hints)
        check_inside(hints, decoded.size, f"hints {job.hints}")
    return Prepared(decoded, thumbnail(decoded.gray, input_size), hints)


def read_failure(exc: Exception) -> str:
    """The one-line reason :func:`prepare` failed, as every engine reports it."""
    if isinstance(exc, ReadError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory decoding this image"
    return f"cannot decode: {type(exc).__name__}: {exc}"


class ReferenceShifts:
    """Each reference photo's logit shift, computed once per run (one ``--reference``
    file serves every input) and shared between threads."""

    def __init__(self, colorizer: Colorizer, strength: float) -> None:
        self.colorizer, self.strength = colorizer, strength
        self._shifts: dict[Path, torch.Tensor] = {}
        self._lock = threading.Lock()

    def __call__(self, path: Path) -> torch.Tensor:
        with self._lock:
            shift = self._shifts.get(path)
        if shift is None:
            shift = self.colorizer.reference_shift(read_reference(path), self.strength)
            with self._lock:
                self._shifts[path] = shift
        return shift


@dataclass
class Hinted:
    """A photo's hints and the model's features of it, which tell the hints where to stop
    (:func:`colorize_cli.colour.hints.apply_hints`)."""

    hints: list[Hint]
    features: torch.Tensor  # (C, h, w), from Colorizer.logits_and_features


@torch.inference_mode()
def steady_frame(
    colorizer: Colorizer,
    stabilise: Stabiliser,
    logits: torch.Tensor,
    model_input: torch.Tensor,
    gray: np.ndarray,
    carried: Carried | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A film frame's logits ``(Q, h, w)`` through its shot's stabiliser, in order: its
    steadied a/b and the steadied guided-filter coefficients for :func:`colour`.
    ``carried``: what its shot's keyframes give it
    (:meth:`colorize_cli.colour.keyframes.FilmPlan.carried`), laid over its steadied a/b
    before the coefficients are fitted and averaged, so that the correction is as
    steady as the rest of the colour."""
    size = (gray.shape[1], gray.shape[0])
    ab = colorizer.decode(stabilise(logits, model_input, size)[None])[0]
    guide = guide_grid(gray, ab.shape[-1], model_input)
    corrected = ab if carried is None else carried.apply(guide, ab, size)
    return ab, stabilise.coefficients(guide, corrected)


def colour(
    decoded: Decoded,
    ab: torch.Tensor,
    hinted: Hinted | None = None,
    model_input: torch.Tensor | None = None,
    coef: torch.Tensor | None = None,
) -> np.ndarray:
    """The full-resolution RGB(A): the model's a/b ``(2, h, w)`` (with the hints spread
    over it), or a film frame's steadied coefficients ``coef``, joined with the grey.
    ``model_input``: the L the model saw, reused as the guide grid."""
    if coef is not None:
        return apply_coefficients(decoded.gray, coef, decoded.bit_depth, decoded.alpha)
    guide = guide_grid(decoded.gray, ab.shape[-1], model_input)
    corrected = None
    if hinted is not None and hinted.hints:
        corrected = apply_hints(guide, ab, hinted.features, hinted.hints, decoded.size)
    return compose(decoded.gray, ab, decoded.bit_depth, decoded.alpha, guide, corrected)


def colour_and_write(
    job: Job,
    decoded: Decoded,
    ab: torch.Tensor,
    hinted: Hinted | None,
    fmt: str | None,
    overwrite: bool,
    model_input: torch.Tensor | None = None,
    coef: torch.Tensor | None = None,
) -> None:
    """:func:`colour`, then encode and write ``job.dest`` atomically."""
    rgb = colour(decoded, ab, hinted, model_input, coef)
    write_atomic(job.dest, encoder(rgb, decoded, format_for(job.dest, fmt)), overwrite)
