"""Find the images to colour: extensions, natural order, mirrored output paths.

Directories are walked with ``os.scandir`` (one system call per folder, not per file), in
natural order so that frame_2 comes before frame_10 and film sequences come out in order.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from natsort import natsort_keygen, ns

from .claims import is_claim_or_temp
from .formats import is_input_name, output_path

_natural = natsort_keygen(alg=ns.PATH | ns.IGNORECASE)


@dataclass(frozen=True)
class Job:
    """One image to colour: where it is, where its output goes, and the colour controls
    the user gave for it (see :mod:`colorize_cli.files.controls`)."""

    source: Path
    dest: Path
    reference: Path | None = None  # a colour photo whose palette to take
    hints: Path | None = None  # a hints file
    # frames of one film share this key and are coloured in order with one temporal
    # state (files/sequences.py); None: a photo on its own
    sequence: str | None = None


@dataclass
class Discovery:
    jobs: list[Job] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)  # not images: counted, not errors
    problems: list[tuple[Path, str]] = field(default_factory=list)  # unreadable, loops, ...


def single_file_dest(src: Path, dest: Path, requested_format: str | None) -> Path:
    """For a file IN: OUT names the output file when it has an image extension and is not
    an existing folder; otherwise OUT is the folder to put it in."""
    if is_input_name(dest.name) and not dest.is_dir():
        return dest
    return output_path(dest, Path(src.name), requested_format)


def discover(src: Path, dest: Path, requested_format: str | None = None) -> Discovery:
    """All images under ``src`` (a file or a folder), paired with mirrored outputs."""
    found = Discovery()
    if not src.is_dir():
        found.jobs.append(Job(src, single_file_dest(src, dest, requested_format)))
        return found
    skip_dir = dest.resolve()
    seen_dirs: set[tuple[int, int]] = set()
    files: list[tuple[Path, Path]] = []
    stack = [src]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen_dirs:
                found.problems.append((folder, "already visited: symlink loop, not followed"))
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            entries = list(os.scandir(folder))
        except OSError as exc:
            found.problems.append((folder, f"cannot list folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if path.resolve() != skip_dir:  # OUT inside IN is never read back
                    stack.append(path)
            elif is_input_name(entry.name):
                files.append((path, path.relative_to(src)))
            elif not is_claim_or_temp(entry.name):
                found.ignored.append(path)
    files.sort(key=lambda pair: _natural(str(pair[1])))
    taken: dict[Path, Path] = {}
    for path, rel in files:
        out = output_path(dest, rel, requested_format)
        if out in taken:
            found.problems.append((path, f"output {out} would collide with {taken[out]}'s"))
            continue
        taken[out] = path
        found.jobs.append(Job(path, out))
    found.ignored.sort(key=lambda p: _natural(str(p)))
    return found


def regular_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (FIFOs would block forever), or None."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISDIR(mode):
        return "is a directory, not an image file"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return None
