"""Image file names and output formats: the one place that lists them.

Kept free of heavy imports, so the command line can offer the choices without loading
torch.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})

# Output format -> (Pillow format name, file extension, holds 16 bits, holds alpha)
FORMATS: dict[str, tuple[str, str, bool, bool]] = {
    "png": ("PNG", ".png", True, True),
    "jpg": ("JPEG", ".jpg", False, False),
    "tif": ("TIFF", ".tif", True, True),
    "bmp": ("BMP", ".bmp", False, True),
    "webp": ("WEBP", ".webp", False, True),
}
_ALIASES = {".jpeg": "jpg", ".tiff": "tif"}


def is_image_name(name: str) -> bool:
    """True for names with one of :data:`IMAGE_EXTENSIONS`, in any case."""
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in IMAGE_EXTENSIONS


def format_for(path: Path, requested: str | None) -> str:
    """The output format: the one asked for, else the input's own, by its extension."""
    if requested:
        return requested
    ext = path.suffix.lower()
    return _ALIASES.get(ext, ext.lstrip("."))


def output_path(dest_root: Path, rel: Path, requested: str | None) -> Path:
    """Mirror ``rel`` under ``dest_root``; only the extension changes, and only with --format."""
    if requested is None:
        return dest_root / rel
    return dest_root / rel.with_suffix(FORMATS[requested][1])
