"""Find the images to colour: extensions, natural order, mirrored output paths."""

from __future__ import annotations

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})


def is_image_name(name: str) -> bool:
    """True for names with one of :data:`IMAGE_EXTENSIONS`, in any case."""
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in IMAGE_EXTENSIONS
