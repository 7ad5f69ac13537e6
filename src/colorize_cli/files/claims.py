"""Per-output claim files, so two runs on the same OUT never write one output at once,
and clean-up of what a killed run left behind (claims and temporary files).

A claim is ``.NAME.colorize-lock`` beside the output, created exclusively and holding the
claiming process's pid and machine (:class:`~colorize_cli.files.write.Writer`); a claim
whose process is gone is stale and may be taken over. A process of another machine (runs
sharing OUT over a cluster's storage) cannot be seen from here, so its claims and
temporary files are trusted until :data:`CLAIM_MAX_AGE_S` old.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .write import HOST, TEMP_MARK, Writer, parse_temp, parse_writer, this_writer

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


def writer_gone(writer: Writer, age_s: float) -> bool:
    """Whether the writer of a claim or temporary file ``age_s`` old is known to be gone:
    a dead process of this machine, or anyone's once too old to trust."""
    return age_s > CLAIM_MAX_AGE_S or (writer.here and not _alive(writer.pid))


def _claim_owner(path: Path) -> Writer | None:
    """Who holds a claim, or None if the claim is unreadable or too old to trust."""
    try:
        if time.time() - path.stat().st_mtime > CLAIM_MAX_AGE_S:
            return None
        text = path.read_text()
    except OSError:
        return None
    return parse_writer(text)


def try_claim(dest: Path) -> Writer | None:
    """Claim ``dest`` for this process. Returns None on success, else the live process
    that holds it. Creates the output folder if needed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    path = claim_path(dest)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _claim_owner(path)
            if owner is not None and not writer_gone(owner, 0.0):
                return owner
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: its process died
            continue
        try:
            with os.fdopen(fd, "w") as f:
                f.write(this_writer().tag)
        except OSError:  # a full disk: the empty claim would be left behind
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        return None
    return _claim_owner(path) or Writer(-1, HOST)  # taken and gone again: unknown, here


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
                writer = None if temp is None else temp[1]
            elif entry.name.endswith(CLAIM_MARK):
                writer = _claim_owner(Path(entry.path))
            else:
                continue
            with contextlib.suppress(OSError):
                age = time.time() - entry.stat(follow_symlinks=False).st_mtime
                if writer is None or writer_gone(writer, age):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def remove_temps(dests: Iterable[Path], by: Callable[[Writer], bool] | None = None) -> None:
    """Remove the temporary files of ``dests`` written by anyone (or by the writers that
    ``by`` picks): for outputs whose claims this process holds and whose writer is known
    to have died. A Ray worker may have run on another node, where its pid means nothing
    here, so :func:`clean_stale` could not tell."""
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
            if temp is not None and temp[0] in names and (by is None or by(temp[1])):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
