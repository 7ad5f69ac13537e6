"""Run jobs through the stages, overlapped, with bounded memory, one status per file.

    read (thread pool) -> batch -> model (this thread) -> compose + write (thread pool)

Frames of one sequence pass through one temporal stabiliser, in order (batches keep the
jobs' order). A resumed film has no seam: the finished frames just before the first one
still to do go through the model and the stabiliser again, unwritten, so that frame
starts from the state an uninterrupted run had. Video files wait until the photos are
done and then run one at a time through :mod:`colorize_cli.running.video`, on the same
thread pools.

Reading and decoding of the next images and composing and encoding of the previous ones
run in worker threads (Pillow, zlib and torch release the GIL) while the model works on
the current batch. Memory is bounded by a budget of full-resolution pixels in flight:
a file's header is read first and its pixels are charged before it is decoded, and
released once its output is written, so a tree of 100-megapixel scans is processed a few
at a time while small photos stream through many at a time.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..colour.hints import Hint
from ..colour.keyframes import FilmPlan
from ..colour.temporal import Stabiliser, warm_up_frames
from ..config import Options
from ..files import claims
from ..files.discover import Job
from ..files.formats import is_video_name
from ..files.read import Decoded, ReadError, pixel_count
from ..model.batch import stack_l, stack_shifts
from ..results import DONE, FAILED, SKIPPED, Result, video_confidence
from . import video
from .claim import Run, Stopped, begin
from .keyframes import plan_frames
from .stages import (
    Hinted,
    ReferenceShifts,
    colour_and_write,
    prepare,
    read_failure,
    steady_frame,
)

if TYPE_CHECKING:
    from ..model.colorizer import Colorizer


class PixelBudget:
    """Counts full-resolution pixels in flight; one image alone is always admitted."""

    def __init__(self, cap: int) -> None:
        self.cap, self.used = cap, 0
        self._cond = threading.Condition()

    def try_acquire(self, n: int) -> bool:
        with self._cond:
            if self.used == 0 or self.used + n <= self.cap:
                self.used += n
                return True
            return False

    def acquire(self, n: int, stop: threading.Event) -> None:
        with self._cond:
            while not (self.used == 0 or self.used + n <= self.cap):
                if stop.is_set():
                    raise Stopped
                self._cond.wait(0.2)
            self.used += n

    def release(self, n: int) -> None:
        with self._cond:
            self.used -= n
            self._cond.notify_all()


@dataclass
class _Item:
    job: Job
    pixels: int
    started: float
    decoded: Decoded | None = None
    thumb: np.ndarray | None = None
    shift: torch.Tensor | None = None  # the reference palette's logit shift
    hints: list[Hint] = field(default_factory=list)
    features: torch.Tensor | None = None  # the model's view of it, where hints stop
    coef: torch.Tensor | None = None  # a film frame's colour, steadied over time
    model_input: torch.Tensor | None = None  # its L as the model saw it: the guide grid
    warm: bool = False  # a finished frame, only re-run to warm its film's state up
    confidence: float | None = None  # how sure the model was of its colours


class Pipeline(Run):
    """One run over a list of jobs; ``stop`` may be set from a signal handler."""

    def __init__(
        self,
        colorizer: Colorizer,
        options: Options,
        on_result: Callable[[Result], None],
        on_frames: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
        todo: set[Path] | None = None,
    ) -> None:
        """``todo``: the outputs a caller has already claimed (the Ray engine's driver,
        for a film run on a worker): only those are coloured, and their claims are the
        caller's to release; the other jobs are finished frames, there to warm up."""
        super().__init__(stop or threading.Event())
        self._todo = todo
        self.colorizer = colorizer
        self.options = options
        self.on_result = on_result
        self.on_frames = on_frames or (lambda n: None)  # a video's frames as they go
        self._budget = PixelBudget(options.max_pixels_in_flight)
        self._size = colorizer.input_size
        self._shifts = ReferenceShifts(colorizer, options.reference_strength)
        # the temporal state of the sequence being coloured (its frames are contiguous)
        self._sequence: tuple[str, Stabiliser] | None = None
        # films with keyframes: each one's plan (its first pass) and its frames' indices
        self._plans: dict[str, tuple[FilmPlan, dict[Path, int]]] = {}

    # -- stages run in worker threads ------------------------------------------------
    def _read(self, item: _Item) -> _Item:
        if self.stop.is_set():
            raise Stopped
        job = item.job
        prepared = prepare(job, self._size)
        item.decoded, item.thumb, item.hints = prepared.decoded, prepared.thumb, prepared.hints
        if job.reference is not None:
            item.shift = self._shifts(job.reference)
        return item

    def _write(self, item: _Item, ab: torch.Tensor) -> Result:
        try:
            if self.stop.is_set():
                raise Stopped
            decoded = item.decoded
            assert decoded is not None
            item.decoded = None  # held by this call only: let it go as soon as it is written
            colour_and_write(
                item.job,
                decoded,
                ab,
                Hinted(item.hints, item.features) if item.features is not None else None,
                self.options.format,
                self.options.overwrite,
                item.model_input,
                item.coef,
            )
            return self._result(item, DONE)
        except FileExistsError:
            return self._result(item, SKIPPED, "output appeared meanwhile (another run?)")
        except OSError as exc:
            self.write_error(exc)  # now, not when reported: the other writers must stop
            raise
        finally:
            self._release(item)
            self._budget.release(item.pixels)

    # -- bookkeeping -----------------------------------------------------------------
    @staticmethod
    def _result(item: _Item, status: str, reason: str | None = None) -> Result:
        used = status == DONE
        return Result(
            item.job.source,
            item.job.dest,
            status,
            reason,
            time.perf_counter() - item.started,
            reference=item.job.reference if used else None,
            hints=len(item.hints) if used else 0,
            film=item.job.sequence,
            confidence=item.confidence if used else None,
        )

    def _start(self, job: Job) -> _Item | None:
        """Claim the output; report a skip (and return None) when there is nothing to do."""
        t0 = time.perf_counter()
        if self._todo is not None:
            return (
                _Item(job, max(1, pixel_count(job.source)), t0) if job.dest in self._todo else None
            )
        if not begin(job, self.options.overwrite, self.on_result, self.write_error):
            return None
        return _Item(job, max(1, pixel_count(job.source)), t0)

    def _items(self, jobs: Iterable[Job]) -> Iterator[_Item]:
        """The claimed jobs as items, each film frame that follows finished ones of its
        film preceded by (up to :func:`warm_up_frames` of) them, marked ``warm``. A film
        with keyframes is planned (its first pass) as its first frame comes up; one whose
        plan fails is reported failed, frame by frame, and none of it is coloured."""
        jobs = list(jobs)
        hinted = {j.sequence for j in jobs if j.sequence is not None and j.hints is not None}
        films: dict[str, list[Job]] = {}  # the films with keyframes, not yet planned
        for j in jobs:
            if j.sequence in hinted:
                films.setdefault(j.sequence, []).append(j)  # type: ignore[arg-type]
        failed: set[str] = set()
        finished: deque[Job] = deque(maxlen=warm_up_frames(self.options.temporal_window))
        for job in jobs:
            if job.sequence in failed:
                continue
            film = films.pop(job.sequence, None)  # type: ignore[arg-type]
            if film is not None and self._has_work(film) and not self._plan(film):
                failed.add(job.sequence)  # type: ignore[arg-type]
                continue
            if finished and finished[-1].sequence != job.sequence:
                finished.clear()
            item = self._start(job)
            if item is None:
                if job.sequence is not None and finished.maxlen:
                    finished.append(job)
                continue
            for done in finished:
                yield _Item(done, max(1, pixel_count(done.source)), item.started, warm=True)
            finished.clear()
            yield item

    def _has_work(self, film: list[Job]) -> bool:
        """Whether any frame of ``film`` is to be coloured (a re-run of a finished film
        reads none of it)."""
        if self._todo is not None:
            return any(j.dest in self._todo for j in film)
        return self.options.overwrite or not all(j.dest.exists() for j in film)

    def _plan(self, film: list[Job]) -> bool:
        """Plan a film with keyframes (:mod:`colorize_cli.running.keyframes`); if it cannot
        be (a hints file or a frame that cannot be read), report each of its frames still
        to do as failed with the reason, and return False."""
        try:
            plan = plan_frames(self.colorizer, film)
        except ReadError as exc:
            for job in film:
                if self._todo is not None and job.dest not in self._todo:
                    continue
                if self._todo is None and job.dest.exists() and not self.options.overwrite:
                    self.on_result(
                        Result(job.source, job.dest, SKIPPED, "output exists", film=job.sequence)
                    )
                    continue
                self.on_result(Result(job.source, job.dest, FAILED, str(exc), film=job.sequence))
            return False
        self._plans[film[0].sequence] = (plan, {j.dest: i for i, j in enumerate(film)})  # type: ignore[index]
        return True

    def _release(self, item: _Item) -> None:
        """Give up the item's claim; a warm-up frame has none (another run's may be there),
        and claims made by a caller (``todo``) are the caller's."""
        if not item.warm and self._todo is None:
            claims.release(item.job.dest)

    def _fail_write(self, job: Job, exc: OSError, t0: float) -> None:
        reason = self.write_error(exc)
        self.on_result(Result(job.source, job.dest, FAILED, reason, time.perf_counter() - t0))

    def _finish_write(self, fut: Future[Result], item: _Item) -> None:
        try:
            self.on_result(fut.result())
        except Stopped:
            pass
        except OSError as exc:
            self._fail_write(item.job, exc, item.started)
        except Exception as exc:  # one bad file never stops the batch
            self.on_result(self._result(item, FAILED, f"{type(exc).__name__}: {exc}"))

    # -- the main loop ---------------------------------------------------------------
    def run(self, jobs: Iterable[Job]) -> None:
        """Process every job; returns early, with the rest unreported, if ``stop`` is set."""
        opts = self.options
        pending = self._items(jobs)
        reading: deque[tuple[_Item, Future[_Item]]] = deque()
        writing: deque[tuple[_Item, Future[Result]]] = deque()
        batch: list[_Item] = []
        prefetch = 2 * opts.batch_size
        waiting: _Item | None = None  # started, waiting for budget
        videos: list[_Item] = []  # claimed, coloured once the photos are done
        exhausted = False
        with (
            ThreadPoolExecutor(opts.workers, "read") as readers,
            ThreadPoolExecutor(opts.workers, "write") as writers,
        ):
            try:
                while not self.stop.is_set():
                    # 1. keep up to `prefetch` reads in flight, within the pixel budget
                    while len(reading) < prefetch and not exhausted:
                        if waiting is None:
                            waiting = next(pending, None)
                            if waiting is None:
                                exhausted = True
                                break
                            if is_video_name(waiting.job.source.name):
                                videos.append(waiting)
                                waiting = None
                                continue
                        if not self._budget.try_acquire(waiting.pixels):
                            if reading or batch:
                                break  # make progress with what is in flight first
                            self._budget.acquire(waiting.pixels, self.stop)
                        reading.append((waiting, readers.submit(self._read, waiting)))
                        waiting = None
                    # 2. report finished writes, in order, without blocking
                    while writing and writing[0][1].done():
                        item, fut = writing.popleft()
                        self._finish_write(fut, item)
                    # 3. move the oldest read into the batch, or run the batch
                    full = len(batch) >= opts.batch_size
                    if reading and not full:
                        item, fut = reading.popleft()
                        self._collect_read(item, fut, batch)
                    elif batch:
                        self._run_batch(batch, writers, writing)
                        batch = []
                    elif exhausted and waiting is None and not writing:
                        break
                    elif writing:
                        item, fut = writing.popleft()
                        fut.exception()  # wait: its budget is what the next read needs
                        self._finish_write(fut, item)
                while videos and not self.stop.is_set():
                    result = self._video(videos.pop(0), writers)
                    if result is not None:  # None: abandoned because the run is stopping
                        self.on_result(result)
            finally:
                for item in videos:
                    self._release(item)
                if waiting is not None:
                    self._release(waiting)
                if self.stop.is_set():
                    for _, fut in reading:
                        fut.cancel()
                for item, fut in reading:
                    if not fut.cancelled():
                        fut.exception()
                    self._release(item)
                for item in batch:
                    self._release(item)
                for item, fut in writing:
                    fut.exception()
                    self._finish_write(fut, item)

    def _steady(
        self, item: _Item, logits: torch.Tensor, L: torch.Tensor, features: torch.Tensor
    ) -> torch.Tensor:
        """A film frame through its sequence's stabiliser, in order: its steadied a/b,
        and its steadied colour coefficients, with what its shot's keyframes carry to it
        if the film has keyframes. A frame of a film without them that has hints of its
        own takes them on a/b, as a photo does."""
        key = item.job.sequence
        assert key is not None and item.decoded is not None
        if self._sequence is None or self._sequence[0] != key:
            self._sequence = (key, Stabiliser(self.options.temporal_window))
        gray = item.decoded.gray
        planned = self._plans.get(key)
        carried = None
        if planned is not None:
            film, index = planned
            size = (gray.shape[1], gray.shape[0])
            carried = film.carried(index[item.job.dest], features, size)
        ab, coef = steady_frame(self.colorizer, self._sequence[1], logits, L, gray, carried)
        if planned is not None or not item.hints:
            item.coef = coef
        return ab

    def _video(self, item: _Item, pool: ThreadPoolExecutor) -> Result | None:
        """Colour one claimed video file; its outcome, or None if the run stopped."""
        job = item.job
        try:
            shift = None if job.reference is None else self._shifts(job.reference)
            confidence = video.colour_video(
                job, self.colorizer, self.options, pool, self.stop, self.on_frames, shift
            )
            mean, each = video_confidence(confidence)
            done = self._result(item, DONE)
            return replace(done, frames=len(confidence), confidence=mean, frame_confidence=each)
        except FileExistsError:
            return self._result(item, SKIPPED, "output appeared meanwhile (another run?)")
        except Stopped:
            return None
        except ReadError as exc:
            return self._result(item, FAILED, str(exc))
        except OSError as exc:
            return self._result(item, FAILED, self.write_error(exc))
        except Exception as exc:  # one bad file never stops the batch
            return self._result(item, FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            self._release(item)

    def _collect_read(self, item: _Item, fut: Future[_Item], batch: list[_Item]) -> None:
        try:
            batch.append(fut.result())
            return
        except Stopped:
            reason = None
        except Exception as exc:
            reason = read_failure(exc)
        self._release(item)
        self._budget.release(item.pixels)
        if reason is not None and not item.warm:  # a warm-up frame was reported already
            self.on_result(self._result(item, FAILED, reason))

    def _run_batch(
        self,
        batch: list[_Item],
        writers: ThreadPoolExecutor,
        writing: deque[tuple[_Item, Future[Result]]],
    ) -> None:
        L = stack_l([item.thumb for item in batch])  # type: ignore[misc]
        shift = stack_shifts([item.shift for item in batch], len(self.colorizer.centres))
        logits, features = self.colorizer.logits_and_features(L, shift)
        film = [it.job.sequence is not None and self.options.temporal_window > 1 for it in batch]
        # film frames are coloured from their steadied logits; their confidence, as each
        # photo's, from the logits of this pass
        plain = self.colorizer.decode(logits)
        confidence = self.colorizer.confidence(logits, plain, L)
        ab = [
            self._steady(item, logits[i], L[i, 0], features[i]) if film[i] else plain[i]
            for i, item in enumerate(batch)
        ]
        for item, item_ab, item_L, item_features, item_confidence in zip(
            batch, ab, L, features, confidence, strict=True
        ):
            item.thumb, item.model_input = None, item_L[0]
            item.confidence = item_confidence
            if item.hints:
                item.features = item_features.cpu()
            if item.warm:  # its part was to bring the state up to date
                item.decoded = None
                self._budget.release(item.pixels)
                continue
            writing.append((item, writers.submit(self._write, item, item_ab)))
