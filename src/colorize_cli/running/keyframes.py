"""The first pass over a film with keyframes: its shots, the camera's track and what the
network sees at each keyframe hint (:class:`colorize_cli.colour.keyframes.FilmPlan`).

A keyframe reaches the frames of its shot before it as well as after, so a film with
hints is read twice: once here (decoding every frame to the model's small input, and
running the model on the keyframes alone), then to be coloured. A film without hints is
not read here at all. The plan holds a few numbers per frame, so a two-hour film's is a
few megabytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ..colour.hints import Hint
from ..colour.keyframes import FilmPlan, Planner, keyframe
from ..colour.resample import thumbnail
from ..colour.rgb import guide_grid
from ..files.controls import check_inside, read_film_hints, read_hints
from ..files.discover import Job
from ..files.read import ReadError, read_image
from ..files.video import Frame, VideoReader
from ..model.batch import stack_l
from ..model.colorizer import Colorizer


def plan(colorizer: Colorizer, frames: Iterable[tuple[np.ndarray, list[Hint], str]]) -> FilmPlan:
    """The plan of a film given as its frames in order: each one's grey ``(H, W)`` in
    [0, 1], its hints (empty for most) and where they came from (for a ReadError naming
    a hint outside the frame)."""
    planner = Planner()
    for index, (gray, hints, where) in enumerate(frames):
        size = (gray.shape[1], gray.shape[0])
        L = stack_l([thumbnail(gray, colorizer.input_size)])
        key = None
        if hints:
            check_inside(hints, size, where)
            logits, features = colorizer.logits_and_features(L)
            ab = colorizer.decode(logits)[0]
            guide = guide_grid(gray, ab.shape[-1], L[0, 0])
            key = keyframe(index, hints, features[0], size, guide, ab)
        planner.add(L[0, 0], size, key)
    return planner.plan


def plan_frames(colorizer: Colorizer, jobs: list[Job]) -> FilmPlan:
    """The plan of a frame folder taken as a film: its jobs, in order, each frame's hints
    in its own hints file. Raises ReadError (a frame or a hints file that cannot be read)."""

    def frames() -> Iterator[tuple[np.ndarray, list[Hint], str]]:
        for job in jobs:
            hints = [] if job.hints is None else read_hints(job.hints)
            yield read_image(job.source).gray, hints, f"hints {job.hints}"

    return plan(colorizer, frames())


def plan_video(colorizer: Colorizer, job: Job) -> FilmPlan:
    """The plan of a video file whose hints file (``job.hints``) gives its keyframes by
    frame index. Raises ReadError (the file, its hints, or an index past its end)."""
    assert job.hints is not None
    keyed = read_film_hints(job.hints)
    reader = VideoReader(job.source)

    def frames() -> Iterator[tuple[np.ndarray, list[Hint], str]]:
        index = 0
        for item in reader.items():
            if isinstance(item, Frame):
                yield item.gray, keyed.get(index, []), f"hints {job.hints}: frame {index}"
                index += 1

    try:
        film = plan(colorizer, frames())
    finally:
        reader.close()
    past = sorted(f for f in keyed if f >= film.frames)
    if past:
        raise ReadError(
            f"hints {job.hints}: frame {past[0]} is past the end of the video "
            f"({film.frames} frames, numbered from 0)"
        )
    return film
