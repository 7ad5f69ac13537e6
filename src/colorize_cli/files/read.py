"""Decode one image file into a grey array plus what the output must carry over.

Whatever the file's mode (1, L, P, LA, PA, RGB, RGBA, CMYK, I;16, I, F, ...), the result is
one float32 grey in [0, 1] that has the photograph's own CIE lightness (for a colour or
tinted file, the grey of its L), EXIF orientation applied, and its alpha, bit depth, ICC
profile, EXIF and DPI kept for the writer.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps

from ..colour.lab import linear_to_srgb, rgb_to_luminance

# Refuse files whose header claims more pixels than this before decoding a byte of them
# (decompression bombs); a 100-megapixel scan is well inside it.
MAX_PIXELS = 400_000_000
# Pillow refuses at twice its own limit and warns above it; our check above is the limit.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2
_ROWS_PER_STRIP = 512
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_ORIENTATION_TAG = 0x0112


class ReadError(Exception):
    """The file is not an image this tool can colour; the message says why, in one line."""


@dataclass
class Decoded:
    """A decoded photograph, ready for the lightness and the writer."""

    gray: np.ndarray  # (H, W) float32 in [0, 1], sRGB-encoded grey of the image's lightness
    alpha: np.ndarray | None  # (H, W) uint8 or uint16 (as bit_depth), None when opaque
    bit_depth: int  # 8 or 16: the output keeps it where the format allows
    format: str  # Pillow's format name of the source, e.g. "PNG", "JPEG", "TIFF"
    icc_profile: bytes | None  # only an RGB profile: a grey one cannot describe RGB output
    exif: bytes | None  # orientation removed, since the pixels are already upright
    dpi: tuple[float, float] | None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.gray.shape[1], self.gray.shape[0]


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as the header claims, without decoding; None when unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.width, im.height
    except Exception:
        return None


def pixel_count(path: Path) -> int:
    """Pixels the header claims, without decoding; 0 when the header is unreadable."""
    size = image_size(path)
    return 0 if size is None else size[0] * size[1]


def _rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 grey with the same CIE lightness, strip by strip."""
    out = np.empty(rgb.shape[:2], dtype=np.float32)
    for top in range(0, rgb.shape[0], _ROWS_PER_STRIP):
        strip = torch.tensor(rgb[top : top + _ROWS_PER_STRIP]).permute(2, 0, 1).float() / 255
        out[top : top + _ROWS_PER_STRIP] = linear_to_srgb(rgb_to_luminance(strip)).numpy()
    return out


def _exif_bytes(im: Image.Image) -> bytes | None:
    exif = im.getexif()
    if _ORIENTATION_TAG in exif:
        del exif[_ORIENTATION_TAG]
    return exif.tobytes() if len(exif) else None


def _icc(im: Image.Image) -> bytes | None:
    icc = im.info.get("icc_profile")
    return icc if icc and len(icc) > 20 and icc[16:20] == b"RGB " else None


def _dpi(im: Image.Image) -> tuple[float, float] | None:
    dpi = im.info.get("dpi")
    if dpi and len(dpi) == 2 and all(float(v) > 0 for v in dpi):
        return float(dpi[0]), float(dpi[1])
    return None


def _too_large(claimed: str, limit: int) -> str:
    return (
        f"refused: header claims {claimed} pixels, over the "
        f"{limit / 1_000_000:g} megapixel limit (decompression bomb?)"
    )


def read_image(
    path: Path | BinaryIO, max_pixels: int = MAX_PIXELS, draft: int | None = None
) -> Decoded:
    """Decode ``path`` (or an open binary file, e.g. an upload); raise :class:`ReadError`
    with a one-line reason if it cannot be. The header's pixel count is checked against
    ``max_pixels`` before anything is decoded. ``draft``: a JPEG may be decoded scaled
    down to about this side (a preview: full resolution is not kept)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as src:
                if src.width * src.height > max_pixels:
                    raise ReadError(_too_large(f"{src.width}x{src.height}", max_pixels))
                fmt = src.format or "PNG"
                if draft is not None:
                    src.draft("L", (draft, draft))
                src.load()
                return decode_pil(src, fmt)
    except ReadError:
        raise
    except Image.DecompressionBombError:
        raise ReadError(_too_large("so many", max_pixels)) from None
    except Image.UnidentifiedImageError:
        raise ReadError("not a recognised image (unknown or damaged header)") from None
    except IsADirectoryError:
        raise ReadError("is a directory, not an image file") from None
    except PermissionError:
        raise ReadError("permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ReadError(f"cannot decode: {exc}") from None


def decode_pil(im: Image.Image, fmt: str | None = None) -> Decoded:
    """Decode an already opened Pillow image (EXIF orientation applied here)."""
    fmt = fmt or im.format or "PNG"
    im = ImageOps.exif_transpose(im) or im
    meta = {"format": fmt, "icc_profile": _icc(im), "exif": _exif_bytes(im), "dpi": _dpi(im)}
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:
        arr = np.asarray(im)
        if mode == "F":
            gray = np.clip(arr, 0.0, 1.0).astype(np.float32)
        else:
            gray = (np.clip(arr, 0, 65535) / 65535.0).astype(np.float32)
        return Decoded(gray=gray, alpha=None, bit_depth=16, **meta)
    if mode in ("1", "L", "LA"):
        la = np.asarray(im.convert("LA"))
        alpha = la[..., 1] if mode == "LA" else None
        return Decoded(gray=la[..., 0] / np.float32(255), alpha=alpha, bit_depth=8, **meta)
    has_alpha = "A" in im.getbands() or "transparency" in im.info
    try:
        rgba = np.asarray(im.convert("RGBA" if has_alpha else "RGB"))
    except (ValueError, OSError) as exc:
        raise ReadError(f"unsupported image mode {mode}: {exc}") from None
    alpha = rgba[..., 3].copy() if has_alpha else None
    return Decoded(gray=_rgb_to_gray(rgba[..., :3]), alpha=alpha, bit_depth=8, **meta)
