"""The Python API that the ``colorize`` command is a thin layer over.

from colorize_cli import Colorizer, Options, colorize_dir
colorizer = Colorizer()                      # loads and checks the weights once
coloured = colorizer.colorize(PIL_image)     # one image in memory
summary = colorize_dir("in/", "out/", Options(batch_size=16), colorizer=colorizer)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from .config import Options
from .files import claims
from .files.controls import with_controls
from .files.discover import Job, discover
from .files.formats import is_video_name
from .files.sequences import films, mark_sequences
from .files.video import frame_count
from .files.write import OutputError, check_writable
from .model.colorizer import Colorizer
from .model.weights import WeightsError
from .results import FAILED, IGNORED, Result, Summary
from .running.pipeline import Pipeline
from .running.ray_engine import EngineError, RayEngine

__all__ = [
    "Colorizer",
    "EngineError",
    "Job",
    "OutputError",
    "Result",
    "Summary",
    "colorize_dir",
    "colorize_paths",
]


def colorize_paths(
    jobs: list[Job],
    options: Options = Options(),  # noqa: B008 - frozen, so sharing the default is safe
    *,
    colorizer: Colorizer | None = None,
    on_result: Callable[[Result], None] | None = None,
    on_frames: Callable[[int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> Summary:
    """Colour each job's source into its destination (with the job's reference and hints,
    if it has them; frames of one ``sequence`` in order, with one temporal state); see
    :class:`Summary`. ``on_frames`` hears of a video's frames as they are coloured,
    ``on_notice`` of what the run got past (a lost cluster node), in one line."""
    colorizer = colorizer or Colorizer(options.weights, options.device, options.temperature)
    if colorizer.spec.prior is None and any(job.reference for job in jobs):
        raise WeightsError("a reference photo needs weights that carry their training prior")
    summary = Summary(check_below=options.check_below)
    t0 = time.perf_counter()
    reported = 0

    def report(result: Result) -> None:
        nonlocal reported
        reported += result.status != IGNORED
        summary.add(result)
        if on_result:
            on_result(result)

    stop = stop or threading.Event()
    engine: Pipeline | RayEngine
    if options.engine == "ray":
        engine = RayEngine(options, colorizer.input_size, report, stop, on_notice)
    else:
        engine = Pipeline(colorizer, options, report, on_frames, stop)
    engine.run(jobs)
    summary.seconds = time.perf_counter() - t0
    summary.fatal = engine.fatal
    summary.interrupted = stop.is_set() and engine.fatal is None
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
    on_frames: Callable[[int], None] | None = None,
    on_films: Callable[[dict[str, int]], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> Summary:
    """Colour every photo and video under ``src`` (a folder, or one file) into a mirror
    under ``dst``.

    Numbered frames of one size whose pictures follow on from each other are coloured
    as a film sequence (``options.sequence`` None guesses, True/False decide); video
    files are coloured as one sequence each. ``on_films`` hears the folders taken as
    films (their frame pattern and count) before any work, ``on_total`` the work to do
    in units of a photo or a video frame, ``on_result`` of each file as it finishes and
    ``on_frames`` of a video's frames as they go, ``on_notice`` of what the run got past.

    Existing outputs are skipped unless ``options.overwrite``; files that are not images
    are counted as ignored; unreadable files are reported as failed and the run goes on.
    ``options.reference`` and ``options.hints`` may mirror ``src`` (see
    :mod:`colorize_cli.files.controls`). Raises :class:`OutputError` before any work when
    nothing could be written under ``dst``.
    """
    src, dst = Path(src), Path(dst)
    found = discover(src, dst, options.format)
    found.jobs = with_controls(found.jobs, src, options.reference, options.hints)
    found.jobs = mark_sequences(found.jobs, options.sequence)
    if on_films:
        on_films(films(found.jobs))
    check_writable(dst if src.is_dir() or not found.jobs else found.jobs[0].dest.parent)
    claims.clean_stale(dst if dst.is_dir() else dst.parent)
    if on_total:
        units = [frame_count(j.source) if is_video_name(j.source.name) else 1 for j in found.jobs]
        on_total(sum(units) + len(found.problems))
    pre = Summary()
    early = [Result(path, None, FAILED, reason) for path, reason in found.problems]
    early += [Result(path, None, IGNORED, "not an image file name") for path in found.ignored]
    for result in early:
        pre.add(result)
        if on_result:
            on_result(result)
    summary = colorize_paths(
        found.jobs,
        options,
        colorizer=colorizer,
        on_result=on_result,
        on_frames=on_frames,
        on_notice=on_notice,
        stop=stop,
    )
    summary.failed += pre.failed
    summary.failures[:0] = pre.failures
    summary.ignored += pre.ignored
    return summary
