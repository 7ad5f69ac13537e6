"""``--manifest FILE.jsonl``: one JSON object per input, written as each one finishes.

Keys: ``input``, ``output`` (null for ignored files and folder problems), ``status``
(done, skipped, failed, ignored), ``reason`` (null when done), ``seconds``, ``reference``
(the reference photo used, or null), ``hints`` (how many were applied), ``frames`` (a
video's frames written) and ``film`` (for a frame of a folder taken as a film: its
folder and name pattern, e.g. ``in/reel/frame_*.png``; else null), ``redone``, and
``confidence``: how sure the model is of the colours, 0 to 1, higher surer (null when
nothing was coloured); a video also has ``frame_confidence``, one per frame, and its
``confidence`` is their mean. Lines are
flushed one by one, so a killed run still leaves a manifest of what it finished.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from ..results import Result
from .read import ReadError


class Manifest:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(path, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, r: Result) -> None:
        rec = {
            "input": str(r.source),
            "output": None if r.dest is None else str(r.dest),
            "status": r.status,
            "reason": r.reason,
            "seconds": round(r.seconds, 4),
            "reference": None if r.reference is None else str(r.reference),
            "hints": r.hints,
            "frames": r.frames,
            "film": r.film,
            "redone": r.redone,
            "confidence": r.confidence,
        }
        if r.frame_confidence is not None:
            rec["frame_confidence"] = list(r.frame_confidence)
        self._file.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_manifest(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a manifest, in order; a line that is not one raises ReadError
    naming it (a killed run's last line may be cut short: that one is skipped)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # no newline after it: cut short by a kill
                return
            raise ReadError(f"{path}, line {number}: not a manifest line ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("input"), str):
            raise ReadError(f'{path}, line {number}: a manifest line needs an "input"')
        yield record
