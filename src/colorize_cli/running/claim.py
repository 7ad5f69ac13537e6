"""What every engine does before working on a job: skip a finished output, refuse a
special file, and claim the output so that concurrent runs share the work."""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable

from ..files import claims
from ..files.discover import Job, regular_file_problem
from ..files.write import DiskFullError
from ..results import FAILED, SKIPPED, Result


class Stopped(Exception):
    """Work abandoned because the run is stopping (Ctrl-C, disk full): nothing of it kept,
    nothing reported."""


def ends_the_run(exc: OSError) -> bool:
    """No later write can succeed either: a full disk, a quota, a read-only filesystem."""
    return isinstance(exc, DiskFullError) or exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT)


class Run:
    """What every engine shares: the stop event (Ctrl-C, or an error that ends the run)
    and why the run ended early."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.fatal: str | None = None  # set when the run must end early (disk full)

    def write_error(self, exc: OSError) -> str:
        """The failure's reason; an error that no later write can escape ends the run."""
        reason = f"cannot write output: {exc.strerror or exc}"
        if ends_the_run(exc):
            self.fatal = reason
            self.stop.set()
        return reason


def begin(
    job: Job,
    overwrite: bool,
    report: Callable[[Result], None],
    write_error: Callable[[OSError], str],
) -> bool:
    """True when the job is ours to do (its output is claimed: release it when done);
    otherwise its skip or failure has been reported. ``write_error`` turns an error
    writing the claim into a reason (and may end the run: a full disk)."""
    if not overwrite and job.dest.exists():
        report(Result(job.source, job.dest, SKIPPED, "output exists", film=job.sequence))
        return False
    problem = regular_file_problem(job.source)  # before any open: a FIFO would block
    if problem:
        report(Result(job.source, job.dest, FAILED, problem, film=job.sequence))
        return False
    try:
        holder = claims.try_claim(job.dest)
    except OSError as exc:
        report(Result(job.source, job.dest, FAILED, write_error(exc), film=job.sequence))
        return False
    if holder is not None:
        report(
            Result(
                job.source,
                job.dest,
                SKIPPED,
                "being written by another run (pid "
                f"{holder.pid}{'' if holder.here else ' on another machine'})",
                film=job.sequence,
            )
        )
        return False
    if not overwrite and job.dest.exists():  # finished before our claim
        claims.release(job.dest)
        report(Result(job.source, job.dest, SKIPPED, "output exists", film=job.sequence))
        return False
    return True
