"""Per-output claim files, so two runs on the same OUT never write one output at once,
and clean-up of what a killed run left behind (claims and temporary files).

A claim is ``.NAME.colorize-lock`` beside the output, created exclusively and holding the
claiming process's pid; a claim whose process is gone is stale and may be taken over.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

from .write import TEMP_MARK, parse_temp

CLAIM_MARK = ".colorize-lock"
# A claim older than this is stale even if its pid is alive again (pids are reused after a
# reboot); no single image takes anywhere near this long.
CLAIM_MAX_AGE_S = 3600


def claim_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}{CLAIM_MARK}")


def is_claim_or_temp(name: str) -> bool:
    return name.endswith((CLAIM_MARK, TEMP_MARK))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim_owner(path: Path) -> int | None:
    """The pid holding a claim, or None if the claim is unreadable or too old to trust."""
    try:
        if time.time() - path.stat().st_mtime > CLAIM_MAX_AGE_S:
            return None
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def try_claim(dest: Path) -> int | None:
    """Claim ``dest`` for this process. Returns None on success, else the pid of the live
    process that holds it. Creates the output folder if needed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    path = claim_path(dest)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _claim_owner(path)
            if owner is not None and _alive(owner):
                return owner
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: its process died
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return None
    return _claim_owner(path) or -1


def release(dest: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        claim_path(dest).unlink()


def clean_stale(root: Path) -> int:
    """Remove temporary files and claims under ``root`` whose process is gone."""
    removed = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
                continue
            if entry.name.endswith(TEMP_MARK):
                temp = parse_temp(entry.name)
                pid = None if temp is None else temp[1]
            elif entry.name.endswith(CLAIM_MARK):
                pid = _claim_owner(Path(entry.path))
            else:
                continue
            if pid is None or not _alive(pid):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def remove_temps(dests: Iterable[Path]) -> None:
    """Remove the temporary files of ``dests``, whoever wrote them: for outputs whose
    claims this process holds and whose writer is known to have died. A Ray worker may
    have run on another node, where its pid means nothing here, so :func:`clean_stale`
    could not tell."""
    wanted: dict[Path, set[str]] = {}
    for dest in dests:
        wanted.setdefault(dest.parent, set()).add(dest.name)
    for folder, names in wanted.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            temp = parse_temp(entry.name)
            if temp is not None and temp[0] in names:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
