"""Image file names and output formats: the one place that lists them.

Kept free of heavy imports, so the command line can offer the choices without loading
torch.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
# Containers that take H.264 and copy audio and subtitles (files/video.py); the output
# keeps the input's container whatever --format says (that is for photos).
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi"})

# Output format -> (Pillow format name, file extension, holds 16 bits, holds alpha)
FORMATS: dict[str, tuple[str, str, bool, bool]] = {
    "png": ("PNG", ".png", True, True),
    "jpg": ("JPEG", ".jpg", False, False),
    "tif": ("TIFF", ".tif", True, True),
    "bmp": ("BMP", ".bmp", False, True),
    "webp": ("WEBP", ".webp", False, True),
}
_ALIASES = {".jpeg": "jpg", ".tiff": "tif"}


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def is_image_name(name: str) -> bool:
    """True for names with one of :data:`IMAGE_EXTENSIONS`, in any case."""
    return _extension(name) in IMAGE_EXTENSIONS


def is_video_name(name: str) -> bool:
    """True for names with one of :data:`VIDEO_EXTENSIONS`, in any case."""
    return _extension(name) in VIDEO_EXTENSIONS


def is_input_name(name: str) -> bool:
    """A photo or a video: something ``colorize`` colours."""
    return is_image_name(name) or is_video_name(name)


def format_for(path: Path, requested: str | None) -> str:
    """The output format: the one asked for, else the input's own, by its extension."""
    if requested:
        return requested
    ext = path.suffix.lower()
    return _ALIASES.get(ext, ext.lstrip("."))


def format_of(pillow_format: str | None) -> str:
    """Our format name for a Pillow format name (``"JPEG"`` -> ``"jpg"``); PNG for the
    ones we do not write (GIF, ...)."""
    return next((name for name, spec in FORMATS.items() if spec[0] == pillow_format), "png")


def output_path(dest_root: Path, rel: Path, requested: str | None) -> Path:
    """Mirror ``rel`` under ``dest_root``; only the extension changes, and only with
    --format for a photo."""
    if requested is None or is_video_name(rel.name):
        return dest_root / rel
    return dest_root / rel.with_suffix(FORMATS[requested][1])
