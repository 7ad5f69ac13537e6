"""The user's colour controls on disk: reference photos and hints files (read for a
run; written when a photo or a film's frame is corrected in the review).

Both can mirror IN, as OUT does: for ``IN/a/b.tif`` the reference is ``REF/a/b`` with any
image extension, and the hints are ``HINTS/a/b.hints.json``. A missing one means "no
control for this photo": it is coloured automatically. A control that exists but cannot
be used fails that photo, with the reason, and the batch goes on.

Hints file format (coordinates in the photo's own pixels, after its EXIF orientation is
applied, i.e. as an image viewer shows it upright)::

    {"points": [{"x": 120, "y": 48, "rgb": [200, 30, 40]},
                {"x": 300, "y": 200, "rgb": [20, 40, 120], "radius": 8}]}
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ..colour.hints import DEFAULT_RADIUS, Hint
from ..colour.lab import rgb_to_lab
from .discover import Job
from .formats import IMAGE_EXTENSIONS
from .read import ReadError
from .write import write_atomic

HINTS_SUFFIX = ".hints.json"
REFERENCE_GRID = 64  # a reference is reduced to this square before its palette is taken
_POINT_KEYS = {"x", "y", "rgb", "radius"}


def reference_for(reference: Path, rel: Path) -> Path | None:
    """The reference of the input at ``rel`` (relative to IN): ``reference`` itself when
    it is a file, else the image beside ``rel``'s mirror in that folder, if any."""
    if not reference.is_dir():
        return reference
    folder = reference / rel.parent
    for ext in sorted(IMAGE_EXTENSIONS):
        for candidate in (folder / (rel.stem + ext), folder / (rel.stem + ext.upper())):
            if candidate.is_file():
                return candidate
    return None


def hints_path(hints_dir: Path, rel: Path) -> Path:
    """``HINTS/a/b.hints.json``: where the hints of the input ``a/b.tif`` are."""
    return hints_dir / rel.parent / (rel.stem + HINTS_SUFFIX)


def hints_for(hints_dir: Path, rel: Path) -> Path | None:
    """:func:`hints_path` of the input ``rel``, if it exists."""
    path = hints_path(hints_dir, rel)
    return path if path.is_file() else None


def with_controls(
    jobs: list[Job], src: Path, reference: Path | None, hints_dir: Path | None
) -> list[Job]:
    """``jobs`` found under ``src`` (a folder or one file), each given its reference and
    hints file where the user supplied them."""
    if reference is None and hints_dir is None:
        return jobs
    out = []
    for job in jobs:
        rel = job.source.relative_to(src) if src.is_dir() else Path(job.source.name)
        out.append(
            replace(
                job,
                reference=None if reference is None else reference_for(reference, rel),
                hints=None if hints_dir is None else hints_for(hints_dir, rel),
            )
        )
    return out


def reference_ab(image: Image.Image) -> torch.Tensor:
    """The a/b ``(2, G, G)`` of a colour reference photo, reduced to a small grid (only
    its palette is used, not where the colours are)."""
    upright = ImageOps.exif_transpose(image) or image
    small = upright.convert("RGB").resize(
        (REFERENCE_GRID, REFERENCE_GRID), Image.BOX, reducing_gap=2.0
    )
    rgb = torch.from_numpy(np.asarray(small, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return rgb_to_lab(rgb)[1:]


def read_reference(path: Path) -> torch.Tensor:
    """:func:`reference_ab` of the photo at ``path``."""
    try:
        with Image.open(path) as im:
            return reference_ab(im)
    except Exception as exc:
        raise ReadError(f"reference {path}: cannot read it as an image ({exc})") from None


def _element_starts(text: str, key: str, count: int, start: int = 0) -> list[int]:
    """Where each element of the first ``key`` array after ``start`` begins in ``text``
    (``start`` for each where it cannot be found)."""
    match = re.compile(rf'"{key}"\s*:\s*\[').search(text, start)
    if match is None:
        return [start] * count
    decoder, pos, starts = json.JSONDecoder(), match.end(), []
    for _ in range(count):
        while text[pos] in " \t\r\n,":
            pos += 1
        starts.append(pos)
        _, pos = decoder.raw_decode(text, pos)
    return starts


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _number(point: dict, key: str, where: str) -> float:
    value = point.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReadError(f"{where}: '{key}' must be a number, got {json.dumps(value)}")
    return float(value)


def read_hints(path: Path) -> list[Hint]:
    """Parse a hints file; a mistake is a :class:`ReadError` naming the point, its line
    and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadError(f"hints {path}: cannot read ({exc})") from None
    return parse_hints(text, f"hints {path}")


def parse_hints(text: str, where: str = "hints") -> list[Hint]:
    """:func:`read_hints` on the file's text (an upload); ``where`` starts each reason."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReadError(f"{where}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise ReadError(f'{where}: expected an object with a "points" list')
    return _points(text, data["points"], where)


def _points(text: str, points: list, where: str, start: int = 0) -> list[Hint]:
    """The hints of a ``points`` list (the first after ``start`` in ``text``)."""
    hints = []
    starts = _element_starts(text, "points", len(points), start)
    for i, (point, pos) in enumerate(zip(points, starts, strict=True)):
        at = f"{where}: points[{i}] (line {_line(text, pos)})"
        if not isinstance(point, dict):
            raise ReadError(f"{at}: expected an object with x, y and rgb")
        unknown = sorted(set(point) - _POINT_KEYS)
        if unknown:
            raise ReadError(f"{at}: unknown field '{unknown[0]}' (use x, y, rgb, radius)")
        x, y = _number(point, "x", at), _number(point, "y", at)
        rgb = point.get("rgb")
        if (
            not isinstance(rgb, list)
            or len(rgb) != 3
            or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in rgb
            )
        ):
            raise ReadError(f"{at}: 'rgb' must be three integers 0-255, got {json.dumps(rgb)}")
        radius = _number(point, "radius", at) if "radius" in point else DEFAULT_RADIUS
        if radius <= 0:
            raise ReadError(f"{at}: 'radius' must be above 0, got {radius:g}")
        hints.append(Hint(x, y, (rgb[0], rgb[1], rgb[2]), radius))
    return hints


def read_film_hints(path: Path) -> dict[int, list[Hint]]:
    """A video's hints file, ``{"frames": [{"frame": 18, "points": [...]}, ...]}``: each
    keyframe's hints by its 0-based decoded frame index. A mistake is a ReadError naming
    the entry, its line and the field."""
    where = f"hints {path}"
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadError(f"{where}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ReadError(f"{where}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise ReadError(f'{where}: a video\'s hints are an object with a "frames" list')
    keyframes: dict[int, list[Hint]] = {}
    entries = data["frames"]
    for i, (entry, pos) in enumerate(
        zip(entries, _element_starts(text, "frames", len(entries)), strict=True)
    ):
        at = f"{where}: frames[{i}] (line {_line(text, pos)})"
        if not isinstance(entry, dict) or not isinstance(entry.get("points"), list):
            raise ReadError(f'{at}: expected an object with "frame" and a "points" list')
        frame = entry.get("frame")
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise ReadError(f"{at}: 'frame' must be a frame index from 0, got {json.dumps(frame)}")
        if frame in keyframes:
            raise ReadError(f"{at}: frame {frame} is given twice")
        keyframes[frame] = _points(text, entry["points"], at, pos)
    return keyframes


def write_hints(path: Path, hints: list[Hint]) -> None:
    """Write a photo's hints file as :func:`read_hints` reads it, atomically; no hints: no
    file."""
    _write_or_remove(path, {"points": hints_json(hints)} if hints else None)


def write_film_hints(path: Path, keyframes: dict[int, list[Hint]]) -> None:
    """Write a video's hints file as :func:`read_film_hints` reads it, atomically; frames
    without hints are left out, and no keyframes left: no file."""
    frames = [
        {"frame": i, "points": hints_json(keyframes[i])} for i in sorted(keyframes) if keyframes[i]
    ]
    _write_or_remove(path, {"frames": frames} if frames else None)


def hints_json(hints: list[Hint]) -> list[dict[str, object]]:
    """Hints as a hints file's ``points`` list (whole numbers without a fraction)."""
    points = []
    for h in hints:
        x, y, radius = (int(v) if float(v).is_integer() else v for v in (h.x, h.y, h.radius))
        points.append({"x": x, "y": y, "rgb": list(h.rgb), "radius": radius})
    return points


def _write_or_remove(path: Path, doc: dict | None) -> None:
    if doc is None:
        path.unlink(missing_ok=True)
        return
    text = json.dumps(doc, indent=1).encode()
    write_atomic(path, lambda f: f.write(text), overwrite=True)


def check_inside(hints: list[Hint], size: tuple[int, int], where: str = "hints") -> None:
    """Every hint must fall on the photo (width, height): a point outside it is almost
    always a mistake (coordinates of a rotated or resized copy), so it is refused."""
    width, height = size
    for i, h in enumerate(hints):
        if not (0 <= h.x < width and 0 <= h.y < height):
            raise ReadError(
                f"{where}: points[{i}] at x={h.x:g}, y={h.y:g} is outside the "
                f"{width}x{height} photo (coordinates are of the upright photo)"
            )
