"""Ray's own output kept off the user's terminal.

Ray's core worker writes its log lines (colour codes, raylet internals, retries) straight
to the driver's file descriptors 1 and 2, below anything Python can filter. So while a
Ray run works, those descriptors point at a log file, and what the command itself says
goes to the terminal through a handle of its own. ``--debug`` (or ``COLORIZE_DEBUG=1``)
leaves them alone. The log is removed after the run, unless the cluster misbehaved (a
lost node or head): then it is kept, with its path said, for whoever reports it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass
class Aside:
    """Where the command writes while Ray's output is set aside, and where Ray's went."""

    terminal: TextIO
    log: Path | None  # None when nothing is set aside (--debug, or the local engine)
    keep: bool = False  # keep the log after the run (the cluster misbehaved)


@contextlib.contextmanager
def ray_output_aside(enabled: bool) -> Iterator[Aside]:
    if not enabled:
        yield Aside(sys.stderr, None)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    fd, name = tempfile.mkstemp(prefix="colorize-ray-", suffix=".log")
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    aside = Aside(terminal, Path(name))
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield aside
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in saved:
            os.close(f)
        if aside.keep and aside.log.stat().st_size:
            terminal.write(f"Ray's own messages: {aside.log}\n")
        else:
            aside.log.unlink(missing_ok=True)
        terminal.close()
