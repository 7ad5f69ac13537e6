"""The films of a review (``colorize serve --review``): which inputs are films, a video's
frames to look at and correct, and colouring a shot again after its keyframe changed.

A frame folder is a film by the command's own guess (:func:`mark_sequences`), and a
video file is one; each is listed as one entry. A frame corrected in the browser becomes
a keyframe: its hints go to the files the command reads (a frame's own hints file; a
video's ``NAME.hints.json`` by frame index, :func:`colorize_cli.files.controls.read_film_hints`),
and its shot is coloured again through the command's own pipeline, so
``colorize IN OUT --hints DIR --overwrite`` gives the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..colour.hints import Hint
from ..config import Options
from ..files.controls import hints_path, read_film_hints, write_film_hints
from ..files.discover import Job
from ..files.formats import is_video_name
from ..files.read import ReadError
from ..files.sequences import mark_sequences
from ..files.video import Frame, VideoReader
from ..model.colorizer import Colorizer
from ..results import DONE, Result
from ..running.keyframes import plan_frames
from ..running.pipeline import Pipeline


@dataclass(frozen=True)
class Film:
    """One film of the run: a frame folder (its frames' keys, in order) or a video."""

    path: str  # the key the browser sends: a frame folder's pattern, or the video's path
    jobs: tuple[Job, ...]  # its frames in order, or the video alone
    frames: tuple[str, ...]  # a frame folder's frames' keys (empty for a video)
    hints: Path | None = None  # a video's hints file


def find_films(jobs: list[Job], src: Path, hints_dir: Path) -> dict[str, Film]:
    """The films among a run's jobs (found under ``src``), by key."""
    films: dict[str, Film] = {}
    for job in mark_sequences(jobs, None):
        rel = job.source.relative_to(src)
        if job.sequence is None:
            if is_video_name(job.source.name):
                hints = hints_path(hints_dir, rel)
                films[rel.as_posix()] = Film(rel.as_posix(), (job,), (), hints)
            continue
        key = Path(job.sequence).relative_to(src).as_posix()
        film = films.get(key) or Film(key, (), ())
        films[key] = replace(film, jobs=(*film.jobs, job), frames=(*film.frames, rel.as_posix()))
    return films


def video_frame(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` (from 0) of a video, as its grey ``(H, W)`` in [0, 1]."""
    reader = VideoReader(path)
    try:
        seen = 0
        for item in reader.items():
            if isinstance(item, Frame):
                if seen == index:
                    return item.gray
                seen += 1
    finally:
        reader.close()
    raise ReadError(f"{path.name} has {seen} frames, not {index + 1}")


def video_hints(film: Film, index: int) -> list[Hint]:
    """The hints a video's frame ``index`` has in its hints file (none if no file)."""
    assert film.hints is not None
    if not film.hints.is_file():
        return []
    return read_film_hints(film.hints).get(index, [])


def save_video_hints(film: Film, index: int, hints: list[Hint]) -> None:
    """Put ``hints`` as the keyframe ``index`` of a video's hints file (none: no keyframe
    there; no keyframes left: no file), written atomically."""
    assert film.hints is not None
    keyed = read_film_hints(film.hints) if film.hints.is_file() else {}
    keyed[index] = hints
    write_film_hints(film.hints, keyed)


def colour_shot(
    colorizer: Colorizer, film: Film, frame: int, jobs: list[Job], fmt: str | None
) -> list[Result]:
    """Colour again, through the command's pipeline, the shot of ``film`` that frame
    ``frame`` is in (a video: the whole video), with ``jobs`` (the film's, each with its
    hints file); each output written atomically. The results."""
    if film.frames:
        plan = plan_frames(colorizer, jobs)
        jobs = [j for j, s in zip(jobs, plan.starts, strict=True) if s == plan.starts[frame]]
    results: list[Result] = []
    Pipeline(colorizer, Options(format=fmt, overwrite=True), results.append).run(jobs)
    failed = [r for r in results if r.status != DONE]
    if failed:
        raise ReadError(f"{failed[0].source.name}: {failed[0].reason}")
    return results
