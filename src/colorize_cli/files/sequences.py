"""Which inputs are frames of one film: numbered names in one folder, of one size, whose
pictures follow on from each other.

A film scanned to stills is a folder of ``frame_0001.png``, ``frame_0002.png`` ... in
natural order (the order :mod:`colorize_cli.files.discover` already walks in). So is an
archive's box of unrelated photos, ``img_001.png`` ... all one size from one scanner:
names and sizes cannot tell them apart, the pictures can. Frames of a sequence are
coloured with a shared temporal state (:mod:`colorize_cli.colour.temporal`) instead of
each on its own.

The guess needs at least :data:`MIN_FRAMES` names that differ only in their number, the
first and last of them the same size (read from the headers), and then looks: up to
:data:`GUESS_PAIRS` pairs of consecutive frames, spread over the folder, are shrunk to
small thumbnails and put through the stabiliser's own cut test
(:func:`colorize_cli.colour.temporal.same_shot`). A film is where most pairs are of one
shot; a film's cuts are rare among its pairs, while unrelated photos pass the test for
0 to 7% of pairs (measured on every training set). The cost is at most 16 small decodes a
folder, whatever its length (JPEGs decode at a fraction of their size). ``--sequence``
makes every folder's photos one sequence and ``--no-sequence`` turns the guess off.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..colour.lab import gray_to_l
from ..colour.resample import thumbnail
from ..colour.temporal import same_shot
from .discover import Job
from .formats import is_image_name
from .read import ReadError, image_size, read_image

MIN_FRAMES = 3
GUESS_PAIRS = 8  # consecutive pairs looked at per candidate folder
GUESS_SIDE = 64  # thumbnails compared (the cut test averages them onto 8x8 cells)
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


def films(jobs: list[Job]) -> dict[str, int]:
    """The sequences among ``jobs`` (as :func:`mark_sequences` named them: the folder and
    the frames' name pattern) and how many frames each has, in order."""
    out: dict[str, int] = {}
    for job in jobs:
        if job.sequence is not None:
            out[job.sequence] = out.get(job.sequence, 0) + 1
    return out


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
    if first is None or first != last:
        return False
    pairs = sample_pairs(len(members), GUESS_PAIRS)
    following = 0
    for i in pairs:
        before, after = _small_l(jobs[members[i]].source), _small_l(jobs[members[i + 1]].source)
        following += before is not None and after is not None and same_shot(before, after)
    return 2 * following > len(pairs)


def sample_pairs(n: int, most: int) -> list[int]:
    """Indices i of up to ``most`` pairs (i, i + 1) among ``n`` frames, evenly spread."""
    count = min(most, n - 1)
    return sorted({round(k * (n - 2) / max(count - 1, 1)) for k in range(count)})


def _small_l(path: Path) -> torch.Tensor | None:
    """A frame's lightness on a small square grid, as the model and the stabiliser see
    it; None if it cannot be read (it then counts against the folder being a film)."""
    try:
        gray = read_image(path, draft=2 * GUESS_SIDE).gray  # a JPEG decodes scaled down
    except ReadError:
        return None
    return gray_to_l(torch.from_numpy(np.array(thumbnail(gray, GUESS_SIDE))))
