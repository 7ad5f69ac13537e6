"""What every engine does before working on a job: skip a finished output, refuse a
special file, and claim the output so that concurrent runs share the work."""

from __future__ import annotations

import errno
from collections.abc import Callable

from ..files import claims
from ..files.discover import Job, regular_file_problem
from ..files.write import DiskFullError
from ..results import FAILED, SKIPPED, Result


def ends_the_run(exc: OSError) -> bool:
    """No later write can succeed either: a full disk, a quota, a read-only filesystem."""
    return isinstance(exc, DiskFullError) or exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT)


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
        report(Result(job.source, job.dest, SKIPPED, "output exists"))
        return False
    problem = regular_file_problem(job.source)  # before any open: a FIFO would block
    if problem:
        report(Result(job.source, job.dest, FAILED, problem))
        return False
    try:
        holder = claims.try_claim(job.dest)
    except OSError as exc:
        report(Result(job.source, job.dest, FAILED, write_error(exc)))
        return False
    if holder is not None:
        report(
            Result(job.source, job.dest, SKIPPED, f"being written by another run (pid {holder})")
        )
        return False
    if not overwrite and job.dest.exists():  # finished before our claim
        claims.release(job.dest)
        report(Result(job.source, job.dest, SKIPPED, "output exists"))
        return False
    return True
