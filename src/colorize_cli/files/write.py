"""Encode RGB(A) arrays and write them atomically, carrying the source's metadata.

A file at an output path is always complete: it is encoded into a hidden temporary file
in the same folder (named with :data:`TEMP_MARK`, never an image extension, so no run
mistakes it for an output), flushed to disk, then moved into place in one step. Without
``overwrite`` the move is a hard link, which fails rather than replace a file that
another run finished in the meantime.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import png
import tifffile
from PIL import Image

from .formats import FORMATS
from .read import Decoded

TEMP_MARK = ".colorize-tmp"
NEARLY_FULL_BYTES = 1 << 20  # a failed write with less free than this: the disk is full
JPEG_QUALITY = 95
PNG_COMPRESS_LEVEL = 3  # zlib level: 6 (Pillow's default) costs twice the time for ~5% less


class DiskFullError(OSError):
    """No space left for outputs: every later write would fail too, so the run stops."""


class OutputError(Exception):
    """The output folder cannot be written at all: nothing would succeed."""


def check_writable(folder: Path) -> None:
    """Fail fast, before any work, if nothing could be written under ``folder``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe.{os.getpid()}{TEMP_MARK}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class Writer:
    """Who writes a temporary file or holds a claim: a process on a machine. Runs on
    several machines may share one OUT (a cluster's shared storage), where a pid alone
    names a process of whichever machine reads it."""

    pid: int
    host: str  # :data:`HOST` of its machine

    @property
    def here(self) -> bool:
        return self.host == HOST

    @property
    def tag(self) -> str:
        return f"{self.pid}-{self.host}"


def host_id(hostname: str) -> str:
    """A short, file-name-safe id of a machine (host names may hold dots)."""
    return hashlib.sha1(hostname.encode()).hexdigest()[:8]


HOST = host_id(socket.gethostname())


def this_writer() -> Writer:
    return Writer(os.getpid(), HOST)


def parse_writer(tag: str) -> Writer | None:
    """:attr:`Writer.tag` back to a Writer; a bare pid (written before hosts were
    recorded) is taken as this machine's."""
    pid, _, host = tag.strip().partition("-")
    return Writer(int(pid), host or HOST) if pid.isdigit() else None


def temp_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{this_writer().tag}{TEMP_MARK}")


def parse_temp(name: str) -> tuple[str, Writer] | None:
    """The output's name and the writer of a temporary file (:func:`temp_path`), or None
    if ``name`` is not one of ours."""
    if not (name.startswith(".") and name.endswith(TEMP_MARK)):
        return None
    dest, _, tag = name[1 : -len(TEMP_MARK)].rpartition(".")
    writer = parse_writer(tag)
    return (dest, writer) if dest and writer else None


def write_atomic(dest: Path, encode: Callable[[BinaryIO], None], overwrite: bool) -> None:
    """Run ``encode`` into a temporary file beside ``dest`` and move it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(dest)
    try:
        with open(tmp, "wb") as f:
            encode(f)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, dest)
        else:
            os.link(tmp, dest)  # fails with FileExistsError instead of replacing
            tmp.unlink()
    except OSError as exc:
        # Some encoders (libtiff through Pillow) lose the errno: look at the disk itself,
        # before the temporary file is removed and frees its space again.
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT) or _nearly_full(dest.parent)
        with contextlib.suppress(OSError):
            tmp.unlink()
        if full:
            raise DiskFullError(errno.ENOSPC, f"no space left on device writing {dest}") from None
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def encoder(rgb: np.ndarray, meta: Decoded, fmt: str) -> Callable[[BinaryIO], None]:
    """A function that writes ``rgb`` (H, W, 3|4; uint8 or uint16) in format ``fmt``.

    The array is reduced to what the format holds (8 bits, no alpha for JPEG); ICC
    profile, EXIF and DPI go along wherever the format and encoder can store them.
    """
    pil_name, _, deep, has_alpha = FORMATS[fmt]
    if not has_alpha:
        rgb = rgb[..., :3]
    if rgb.dtype == np.uint16 and not deep:
        rgb = (rgb.astype(np.uint32) * 255 + 32767) // 65535
        rgb = rgb.astype(np.uint8)
    if rgb.dtype == np.uint16:
        return (
            (lambda f: _write_png16(f, rgb, meta))
            if fmt == "png"
            else (lambda f: _write_tiff16(f, rgb, meta))
        )

    def write_pillow(f: BinaryIO) -> None:
        img = Image.fromarray(rgb, mode="RGBA" if rgb.shape[2] == 4 else "RGB")
        kwargs: dict = {}
        if meta.icc_profile and fmt != "bmp":
            kwargs["icc_profile"] = meta.icc_profile
        if meta.exif and fmt in ("jpg", "png", "webp", "tif"):
            kwargs["exif"] = meta.exif
        if meta.dpi and fmt in ("jpg", "png", "tif", "bmp"):
            kwargs["dpi"] = meta.dpi
        if fmt == "jpg":
            kwargs.update(quality=JPEG_QUALITY)
        elif fmt == "png":
            kwargs.update(compress_level=PNG_COMPRESS_LEVEL)
        elif fmt == "tif":
            kwargs.update(compression="tiff_deflate")
        elif fmt == "webp":
            kwargs.update(quality=JPEG_QUALITY)
        img.save(f, format=pil_name, **kwargs)

    return write_pillow


def _write_png16(f: BinaryIO, rgb: np.ndarray, meta: Decoded) -> None:
    h, w, c = rgb.shape
    kwargs: dict = {}
    if meta.dpi:
        kwargs = {
            "x_pixels_per_unit": round(meta.dpi[0] / 0.0254),
            "y_pixels_per_unit": round(meta.dpi[1] / 0.0254),
            "unit_is_meter": True,
        }
    writer = png.Writer(
        w, h, greyscale=False, alpha=c == 4, bitdepth=16, compression=PNG_COMPRESS_LEVEL, **kwargs
    )
    writer.write(f, rgb.reshape(h, w * c))


def _write_tiff16(f: BinaryIO, rgb: np.ndarray, meta: Decoded) -> None:
    kwargs: dict = {}
    if meta.dpi:
        kwargs.update(resolution=meta.dpi, resolutionunit="INCH")
    if meta.icc_profile:
        kwargs["iccprofile"] = meta.icc_profile
    if rgb.shape[2] == 4:
        kwargs["extrasamples"] = ["unassalpha"]
    tifffile.imwrite(f, rgb, photometric="rgb", compression="zlib", **kwargs)
