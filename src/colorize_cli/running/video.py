"""Colour one video file as one sequence, streaming, into a temporary file then its name.

    decode + thumbnail (reader thread) -> batch, model, stabiliser (calling thread)
        -> compose (the pipeline's writer pool) -> encode + mux (muxer thread)

Queues between the stages are short and bounded by the pixel budget, so memory holds a
few dozen frames whatever the film's length. Audio and subtitle packets travel through
the same queues in file order and are muxed untouched beside the coloured frames.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import numpy as np
import torch

from ..colour.keyframes import FilmPlan
from ..colour.resample import thumbnail
from ..colour.rgb import apply_coefficients
from ..colour.temporal import Stabiliser
from ..config import Options
from ..files.discover import Job
from ..files.read import ReadError
from ..files.video import Copied, Frame, VideoReader, VideoWriter
from ..files.write import write_atomic
from ..model.batch import stack_l
from ..model.colorizer import Colorizer
from .claim import Stopped
from .keyframes import plan_video
from .stages import steady_frame

_END = object()


class _Halt:
    """Ends every stage of one video: the run stopping, or any stage failing."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.failed = threading.Event()

    def __bool__(self) -> bool:
        return self.stop.is_set() or self.failed.is_set()

    def put(self, q: queue.Queue, item: object) -> None:
        """Put without blocking forever: the consumer may have given up."""
        while True:
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                if self:
                    raise Stopped from None

    def get(self, q: queue.Queue) -> object:
        while True:
            try:
                return q.get(timeout=0.2)
            except queue.Empty:
                if self:
                    raise Stopped from None


class _Thread(threading.Thread):
    """A stage's thread: its exception halts the others and is kept for the caller."""

    def __init__(self, target: Callable[[], None], name: str, halt: _Halt) -> None:
        super().__init__(name=name, daemon=True)
        self._work, self._halt = target, halt
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # handed to the calling thread
            self.error = exc
            self._halt.failed.set()


def colour_video(
    job: Job,
    colorizer: Colorizer,
    options: Options,
    pool: ThreadPoolExecutor,
    stop: threading.Event,
    on_frames: Callable[[int], None],
    shift: torch.Tensor | None = None,
) -> list[float | None]:
    """Colour ``job.source`` into ``job.dest``; returns each written frame's confidence
    (None where the weights carry no estimate), one per frame. A damaged or
    truncated file raises :class:`ReadError`; ``stop`` abandons it (:class:`Stopped`).
    ``shift``: a reference palette's logit shift, for the whole film. A video with a
    hints file (``job.hints``) is read once first to plan its keyframes
    (:mod:`colorize_cli.running.keyframes`)."""
    film = None if job.hints is None else plan_video(colorizer, job)
    if stop.is_set():
        raise Stopped
    reader = VideoReader(job.source)
    written: list[float | None] = []

    def encode(f: BinaryIO) -> None:
        written[:] = _colour_into(
            f, job, reader, colorizer, options, pool, stop, on_frames, shift, film
        )

    try:
        write_atomic(job.dest, encode, options.overwrite)
    finally:
        reader.close()
    return written


def _colour_into(
    f: BinaryIO,
    job: Job,
    reader: VideoReader,
    colorizer: Colorizer,
    options: Options,
    pool: ThreadPoolExecutor,
    stop: threading.Event,
    on_frames: Callable[[int], None],
    shift: torch.Tensor | None,
    film: FilmPlan | None,
) -> list[float | None]:
    size = colorizer.input_size
    video = reader.video.codec_context
    frame_pixels = max(1, video.width * video.height)
    # a frame is held as float grey and as RGB: about 3 frames' worth per frame in flight
    depth = max(2, min(2 * options.batch_size, options.max_pixels_in_flight // (3 * frame_pixels)))
    batch_size = min(options.batch_size, depth)
    decoded: queue.Queue = queue.Queue(depth)
    coloured: queue.Queue = queue.Queue(depth)
    halt = _Halt(stop)

    def read() -> None:
        for item in reader.items():
            thumb = thumbnail(item.gray, size) if isinstance(item, Frame) else None
            halt.put(decoded, (item, thumb))
        halt.put(decoded, _END)

    def mux() -> None:
        writer: VideoWriter | None = None
        early: list[Copied] = []  # packets before the first frame: the output opens then
        for item in iter(lambda: halt.get(coloured), _END):
            if isinstance(item, Copied):
                if writer is None:
                    early.append(item)
                else:
                    writer.copy(item.packet)
                continue
            frame, fut = item  # type: ignore[misc]
            if writer is None:
                writer = VideoWriter(f, job.dest, reader, frame, options.video_crf)
                for packet in early:
                    writer.copy(packet.packet)
            writer.write_frame(fut.result(), frame.pts)
        if writer is None:
            raise ReadError(f"{job.source.name}: no frame could be decoded")
        writer.close()

    reading, muxing = _Thread(read, "video-read", halt), _Thread(mux, "video-mux", halt)
    reading.start()
    muxing.start()
    stabilise = Stabiliser(options.temporal_window)
    confidence: list[float | None] = []
    try:
        pending: list[object] = []  # decoded items in file order, frames awaiting the model
        batch: list[tuple[Frame, np.ndarray]] = []
        while (got := halt.get(decoded)) is not _END:
            item, thumb = got  # type: ignore[misc]
            if isinstance(item, Frame):
                batch.append((item, thumb))
            pending.append(item)
            if len(batch) == batch_size:
                confidence += _colour_batch(
                    batch, pending, colorizer, stabilise, shift, pool, halt, coloured,
                    (film, len(confidence)),
                )  # fmt: skip
                on_frames(len(batch))
                batch, pending = [], []
        confidence += _colour_batch(
            batch, pending, colorizer, stabilise, shift, pool, halt, coloured,
            (film, len(confidence)),
        )  # fmt: skip
        on_frames(len(batch))
        halt.put(coloured, _END)
        muxing.join()
    except Stopped:
        pass  # a stage failed (its error is raised below) or the run is stopping
    finally:
        halt.failed.set()  # every stage ends, whatever ended this one
        reading.join()
        muxing.join()
    for stage in (reading, muxing):
        if stage.error is not None and not isinstance(stage.error, Stopped):
            raise stage.error
    if stop.is_set():
        raise Stopped
    expected = reader.frame_count if reader.video.frames else 0
    if expected and len(confidence) < expected:
        raise ReadError(f"truncated video: {len(confidence)} of {expected} frames could be decoded")
    return confidence


def _colour_batch(
    batch: list[tuple[Frame, np.ndarray]],
    pending: list[object],
    colorizer: Colorizer,
    stabilise: Stabiliser,
    shift: torch.Tensor | None,
    pool: ThreadPoolExecutor,
    halt: _Halt,
    coloured: queue.Queue,
    keyframes: tuple[FilmPlan | None, int],
) -> list[float | None]:
    """Run the model on ``batch``, hand every pending item to the muxer in file order;
    the frames' confidences, from the logits of this pass. ``keyframes``: the film's plan
    (None without hints) and the index of the batch's first frame."""
    futures: dict[int, Future[np.ndarray]] = {}
    confidence: list[float | None] = []
    if batch:
        L = stack_l([thumb for _, thumb in batch])
        shifts = None if shift is None else shift.expand(len(batch), -1)
        logits, features = colorizer.logits_and_features(L, shifts)
        confidence = colorizer.confidence(logits, colorizer.decode(logits), L)
        film, first = keyframes
        for i, ((frame, _), frame_logits, frame_L) in enumerate(zip(batch, logits, L, strict=True)):
            carried = None
            if film is not None:
                size = (frame.gray.shape[1], frame.gray.shape[0])
                carried = film.carried(first + i, features[i], size)
            _, coef = steady_frame(
                colorizer, stabilise, frame_logits, frame_L[0], frame.gray, carried
            )
            futures[id(frame)] = pool.submit(_compose_frame, frame, coef)
    for item in pending:
        if isinstance(item, Frame):
            halt.put(coloured, (item, futures[id(item)]))
        else:
            halt.put(coloured, item)
    return confidence


def _compose_frame(frame: Frame, coef: torch.Tensor) -> np.ndarray:
    rgb = apply_coefficients(frame.gray, coef, 8)
    frame.gray = np.empty((0, 0), np.float32)  # the grey is done with: free it now
    return rgb
