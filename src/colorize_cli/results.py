"""What happened to each input, and to a whole run: the one vocabulary every engine,
the progress display and the manifest share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DONE, SKIPPED, FAILED, IGNORED = "done", "skipped", "failed", "ignored"


@dataclass(frozen=True)
class Result:
    """What happened to one input."""

    source: Path
    dest: Path | None
    status: str  # DONE, SKIPPED, FAILED or IGNORED
    reason: str | None = None
    seconds: float = 0.0
    reference: Path | None = None  # the reference photo used, if any
    hints: int = 0  # how many colour hints were applied
    frames: int | None = None  # a video's frames written; None for a photo
    film: str | None = None  # the frame sequence it belongs to (folder/pattern), if any
    redone: bool = False  # begun on a cluster node that was lost, finished on another
    # how sure the model is of its colours, 0..1 (colour/confidence.py); for a video the
    # mean of its frames', each of which is in frame_confidence; None when not coloured
    # or the weights carry no confidence estimate
    confidence: float | None = None
    frame_confidence: tuple[float, ...] | None = None


def video_confidence(
    frames: list[float | None],
) -> tuple[float | None, tuple[float, ...] | None]:
    """A video's ``confidence`` (the mean of its frames') and ``frame_confidence`` for
    its :class:`Result`; both None when a frame's is unknown."""
    if not frames or any(c is None for c in frames):
        return None, None
    known = [c for c in frames if c is not None]
    return round(sum(known) / len(known), 3), tuple(known)


@dataclass
class Summary:
    """Counts of a run; ``exit_code`` is what the command exits with."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    ignored: int = 0
    not_attempted: int = 0
    redone: int = 0  # of those done, how many were redone after a lost cluster node
    check_below: float = 0.0  # a run sets it from Options.check_below
    unsure: int = 0  # of those done, how many with a confidence below check_below
    # each frame folder's film (its pattern) -> (sum, count) of its coloured frames'
    # confidences: film_confidence gives the film's own
    _films: dict[str, tuple[float, int]] = field(default_factory=dict)
    frames: int = 0  # photos and video frames coloured (a photo is one frame)
    seconds: float = 0.0
    interrupted: bool = False
    fatal: str | None = None  # why the run stopped early, e.g. the disk is full
    failures: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> None:
        if result.status == DONE:
            self.done += 1
            self.redone += result.redone
            known = result.confidence is not None
            self.unsure += known and result.confidence < self.check_below  # type: ignore[operator]
            if known and result.film is not None:
                total, n = self._films.get(result.film, (0.0, 0))
                self._films[result.film] = (total + result.confidence, n + 1)  # type: ignore[operator]
            self.frames += 1 if result.frames is None else result.frames
        elif result.status == SKIPPED:
            self.skipped += 1
        elif result.status == IGNORED:
            self.ignored += 1
        else:
            self.failed += 1
            self.failures.append(result)

    @property
    def film_confidence(self) -> dict[str, float]:
        """Each frame folder's film coloured in this run -> its confidence, the mean of its
        frames' (a video's own is on its Result)."""
        return {film: round(total / n, 3) for film, (total, n) in self._films.items()}

    @property
    def images_per_second(self) -> float:
        """Photos and video frames coloured per second."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed or self.fatal or self.not_attempted else 0
