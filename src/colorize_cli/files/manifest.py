"""``--manifest FILE.jsonl``: one JSON object per input, written as each one finishes.

Keys: ``input``, ``output`` (null for ignored files and folder problems), ``status``
(done, skipped, failed, ignored), ``reason`` (null when done), ``seconds``, ``reference``
(the reference photo used, or null), ``hints`` (how many were applied), ``frames`` (a
video's frames written) and ``film`` (for a frame of a folder taken as a film: its
folder and name pattern, e.g. ``in/reel/frame_*.png``; else null). Lines are
flushed one by one, so a killed run still leaves a manifest of what it finished.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from ..results import Result


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
        }
        self._file.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
