"""The Python API that the ``colorize`` command is a thin layer over.

from colorize_cli import Colorizer, Options, colorize_dir
colorizer = Colorizer()                      # loads and checks the weights once
coloured = colorizer.colorize(PIL_image)     # one image in memory
summary = colorize_dir("in/", "out/", Options(batch_size=16), colorizer=colorizer)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import bins, claims
from .batch import stack_l, thumbnail
from .config import Options
from .device import pick_device
from .discover import Job, discover
from .model import normalise_l
from .pipeline import DONE, FAILED, IGNORED, SKIPPED, Pipeline, Result
from .read import decode_pil
from .rgb import compose
from .weights import load_weights
from .write import TEMP_MARK


class OutputError(Exception):
    """The output folder cannot be written at all: nothing would succeed."""


class Colorizer:
    """The loaded model: build it once and reuse it for every image of a run."""

    def __init__(
        self, weights: Path | None = None, device: str = "auto", temperature: float | None = None
    ) -> None:
        # On the CPU torch already uses every physical core; OMP_NUM_THREADS still rules.
        self.device = pick_device(device)
        net, centres, spec = load_weights(weights)
        self.spec = spec
        self.temperature = temperature if temperature is not None else spec.temperature
        self.net = net.to(self.device, memory_format=torch.channels_last).eval()
        self.centres = centres.to(self.device)

    @property
    def input_size(self) -> int:
        """Side of the square the model sees; a/b come back at a quarter of it."""
        return self.spec.input_size

    @torch.inference_mode()
    def predict_ab(self, L: torch.Tensor) -> torch.Tensor:
        """L ``(N, 1, S, S)`` in [0, 100] -> a/b ``(N, 2, S/4, S/4)``, float32 on the CPU."""
        cuda = self.device.type == "cuda"
        x = normalise_l(L).to(self.device, non_blocking=cuda)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
            logits = self.net(x)
        return bins.annealed_mean(logits, self.centres, self.temperature).cpu()

    def colorize_gray(
        self, gray: np.ndarray, bit_depth: int = 8, alpha: np.ndarray | None = None
    ) -> np.ndarray:
        """(H, W) float32 grey in [0, 1] -> (H, W, 3|4) uint8 or uint16 RGB(A)."""
        ab = self.predict_ab(stack_l([thumbnail(gray, self.input_size)]))[0]
        return compose(gray, ab, bit_depth, alpha)

    def colorize(self, image: Image.Image) -> Image.Image:
        """Colour one Pillow image (any mode); returns 8-bit RGB, or RGBA if it had alpha."""
        d = decode_pil(image)
        alpha = None if d.alpha is None else _to_8bit(d.alpha)
        rgb = self.colorize_gray(d.gray, 8, alpha)
        return Image.fromarray(rgb, mode="RGBA" if rgb.shape[2] == 4 else "RGB")


def _to_8bit(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.uint8 else (a.astype(np.uint32) * 255 // 65535).astype(np.uint8)


@dataclass
class Summary:
    """Counts of a run; ``exit_code`` is what the command exits with."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    ignored: int = 0
    not_attempted: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    fatal: str | None = None  # why the run stopped early, e.g. the disk is full
    failures: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> None:
        if result.status == DONE:
            self.done += 1
        elif result.status == SKIPPED:
            self.skipped += 1
        elif result.status == IGNORED:
            self.ignored += 1
        else:
            self.failed += 1
            self.failures.append(result)

    @property
    def images_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed or self.fatal or self.not_attempted else 0


def check_output_writable(dst: Path) -> None:
    """Fail fast, before any work, if nothing could be written under ``dst``."""
    try:
        dst.mkdir(parents=True, exist_ok=True)
        probe = dst / f".write-probe.{os.getpid()}{TEMP_MARK}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to {dst}: {exc.strerror or exc}") from None


def colorize_paths(
    jobs: list[Job],
    options: Options = Options(),  # noqa: B008 - frozen, so sharing the default is safe
    *,
    colorizer: Colorizer | None = None,
    on_result: Callable[[Result], None] | None = None,
    stop: threading.Event | None = None,
) -> Summary:
    """Colour each job's source into its destination; see :class:`Summary`."""
    colorizer = colorizer or Colorizer(options.weights, options.device, options.temperature)
    summary = Summary()
    t0 = time.perf_counter()
    reported = 0

    def report(result: Result) -> None:
        nonlocal reported
        reported += result.status != IGNORED
        summary.add(result)
        if on_result:
            on_result(result)

    pipeline = Pipeline(colorizer, options, report)
    if stop is not None:
        pipeline.stop = stop
    pipeline.run(jobs)
    summary.seconds = time.perf_counter() - t0
    summary.fatal = pipeline.fatal
    summary.interrupted = pipeline.stop.is_set() and pipeline.fatal is None
    summary.not_attempted = len(jobs) - reported
    return summary


def colorize_dir(
    src: Path | str,
    dst: Path | str,
    options: Options = Options(),  # noqa: B008 - frozen, so sharing the default is safe
    *,
    colorizer: Colorizer | None = None,
    on_result: Callable[[Result], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> Summary:
    """Colour every image under ``src`` (a folder, or one file) into a mirror under ``dst``.

    Existing outputs are skipped unless ``options.overwrite``; files that are not images
    are counted as ignored; unreadable files are reported as failed and the run goes on.
    """
    src, dst = Path(src), Path(dst)
    found = discover(src, dst, options.format)
    check_output_writable(dst if src.is_dir() or not found.jobs else found.jobs[0].dest.parent)
    claims.clean_stale(dst if dst.is_dir() else dst.parent)
    if on_total:
        on_total(len(found.jobs) + len(found.problems))
    pre = Summary()
    early = [Result(path, None, FAILED, reason) for path, reason in found.problems]
    early += [Result(path, None, IGNORED, "not an image file name") for path in found.ignored]
    for result in early:
        pre.add(result)
        if on_result:
            on_result(result)
    summary = colorize_paths(
        found.jobs, options, colorizer=colorizer, on_result=on_result, stop=stop
    )
    summary.failed += pre.failed
    summary.failures[:0] = pre.failures
    summary.ignored += pre.ignored
    return summary
