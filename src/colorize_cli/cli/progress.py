"""What a run tells its user while it works and when it ends (on stderr).

On a terminal: a rich progress bar (done/total, images/s, ETA), counting a video by its
frames as they are coloured, a photo as one. Otherwise (logs, cron,
schedulers): a plain line every few seconds. Failures are always printed, one line each,
with the path and the reason; ``--quiet`` keeps only those and the exit status.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..files.formats import is_video_name
from ..files.video import frame_count
from ..results import DONE, FAILED, IGNORED, Result, Summary

PLAIN_EVERY_S = 5.0
FILMS_LISTED = 20  # a tree of a thousand reels lists the first ones and counts the rest


class Reporter:
    """Receives each :class:`Result`; prints progress and the final summary."""

    def __init__(self, quiet: bool, console: Console | None = None) -> None:
        # soft_wrap: one message, one line, whatever the width (logs are read by scripts)
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self.noticed = False  # something was said with notice()
        self.total = 0
        self.count = 0  # photos and video frames finished or passed over
        self.done = 0  # of those, coloured
        self._frames = 0  # frames of the current video seen so far
        self._t0 = time.perf_counter()
        self._last_line = self._t0
        self._bar: Progress | None = None
        self._task = None

    def start(self, total: int) -> None:
        self.total = total
        self._t0 = self._last_line = time.perf_counter()
        if not self.quiet and self.console.is_terminal:
            self._bar = Progress(
                TextColumn("colouring"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[ips]:.1f} img/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._task = self._bar.add_task("colouring", total=total, ips=0.0)
            self._bar.start()

    def films(self, found: dict[str, int]) -> None:
        """Say which folders were taken as films (frame pattern -> frames), before work."""
        if self.quiet or not found:
            return
        for pattern, n in list(found.items())[:FILMS_LISTED]:
            self.console.print(f"film: {escape(pattern)} ({n} frames, coloured in order)")
        if len(found) > FILMS_LISTED:
            self.console.print(f"film: ... and {len(found) - FILMS_LISTED} more folders")
        self.console.print("(--no-sequence colours every photo on its own)")

    def notice(self, message: str) -> None:
        """Something the run met and got past (a lost cluster node): said even with
        ``--quiet``, since the run's figures depend on it."""
        self.noticed = True
        self.console.print(f"[yellow]{escape(message)}[/yellow]")

    def frames(self, n: int) -> None:
        """``n`` more frames of the video being coloured."""
        self._frames += n
        self.count += n
        self.done += n
        self._show()

    def __call__(self, r: Result) -> None:
        if r.status == IGNORED:
            return
        if is_video_name(r.source.name):
            # the rest of the frames the total counted for it, whatever became of them
            self.count += max(0, frame_count(r.source) - self._frames)
            self._frames = 0
        else:
            self.count += 1
            self.done += r.status == DONE
        if r.status == FAILED:
            reason = escape(r.reason or "")
            self.console.print(f"[red]failed[/red] {escape(str(r.source))}: {reason}")
        self._show()

    def _show(self) -> None:
        elapsed = time.perf_counter() - self._t0
        ips = self.done / elapsed if elapsed > 0 else 0.0
        if self._bar is not None:
            self._bar.update(self._task, completed=self.count, ips=ips)
        elif not self.quiet and time.perf_counter() - self._last_line >= PLAIN_EVERY_S:
            self._last_line = time.perf_counter()
            self.console.print(f"progress {self.count}/{self.total} ({ips:.1f} img/s)")

    def finish(self, summary: Summary, manifest: Path | None = None) -> None:
        if self._bar is not None:
            self._bar.stop()
        if summary.fatal:
            self.console.print(f"[red]stopped early:[/red] {escape(summary.fatal)}")
        if summary.interrupted:
            self.console.print(
                "[yellow]interrupted[/yellow]: finished outputs are complete; "
                "run the same command again to go on"
            )
        if self.quiet:
            return
        parts = [
            f"{summary.done} done" + (f" ({summary.redone} redone)" if summary.redone else ""),
            f"{summary.skipped} skipped",
            f"{summary.failed} failed",
            f"{summary.ignored} ignored",
        ]
        if summary.not_attempted:
            parts.append(f"{summary.not_attempted} not attempted")
        self.console.print(
            f"summary: {', '.join(parts)} in {summary.seconds:.1f}s "
            f"({summary.images_per_second:.2f} img/s)"
        )
        for film, sure in list(summary.film_confidence.items())[:FILMS_LISTED]:
            self.console.print(f"film: {escape(film)}: confidence {sure:.2f} (its frames' mean)")
        if summary.unsure:
            where = (
                f"{escape(str(manifest))} gives each one's confidence"
                if manifest
                else "--manifest FILE lists them"
            )
            self.console.print(
                f"check first: {summary.unsure} coloured with confidence below "
                f"{summary.check_below:g} ({where})"
            )
