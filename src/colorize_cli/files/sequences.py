"""Which inputs are frames of one film: numbered names in one folder, of one size.

A film scanned to stills is a folder of ``frame_0001.png``, ``frame_0002.png`` ... in
natural order (the order :mod:`colorize_cli.files.discover` already walks in). Frames of
a sequence are coloured with a shared temporal state (:mod:`colorize_cli.colour.temporal`)
instead of each on its own. The guess needs at least :data:`MIN_FRAMES` names that
differ only in their number and the first and last of them the same size (read from the
headers, nothing decoded); ``--sequence`` makes every folder's photos one sequence and
``--no-sequence`` turns the guess off.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .discover import Job
from .formats import is_image_name
from .read import image_size

MIN_FRAMES = 3
_NUMBERED = re.compile(r"^(.*?)(\d+)$")  # a name's stem: any prefix, then the frame number


def _key(job: Job, every_folder: bool) -> str | None:
    if not is_image_name(job.source.name):
        return None  # a video is a sequence of its own
    folder = str(job.source.parent)
    if every_folder:
        return folder
    match = _NUMBERED.match(job.source.stem)
    if match is None:
        return None
    return f"{folder}/{match.group(1)}*{job.source.suffix.lower()}"


def mark_sequences(jobs: list[Job], mode: bool | None) -> list[Job]:
    """``jobs`` with ``sequence`` set on every frame of a sequence: ``mode`` True makes
    each folder's photos one, None guesses from names and sizes, False marks none."""
    if mode is False:
        return jobs
    groups: dict[str, list[int]] = {}
    for i, job in enumerate(jobs):
        key = _key(job, mode is True)
        if key is not None:
            groups.setdefault(key, []).append(i)
    out = list(jobs)
    for key, members in groups.items():
        if mode is None and not _looks_like_film(jobs, members):
            continue
        for i in members:
            out[i] = replace(jobs[i], sequence=key)
    return out


def _looks_like_film(jobs: list[Job], members: list[int]) -> bool:
    if len(members) < MIN_FRAMES:
        return False
    first, last = image_size(jobs[members[0]].source), image_size(jobs[members[-1]].source)
    return first is not None and first == last
