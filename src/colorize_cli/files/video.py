"""Video files in and out through PyAV (FFmpeg's libraries inside its wheel, no binary).

Decoding yields each frame as the same float grey that photos are read into, so the
frames go through the same stages. The coloured frames are encoded as H.264 at the
input's size, frame rate, timestamps and rotation; every audio and subtitle stream is
copied packet for packet, so sound and captions come out exactly as they went in.
Everything streams: a frame is held only while it is being coloured.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from .read import ReadError

CODEC = "libx264"
PRESET = "medium"
_COPIED = ("audio", "subtitle")
# Colour is encoded and tagged as BT.709 in the limited range, what players assume for HD
_BT709 = 1
_LIMITED_RANGE = 1


@dataclass
class Frame:
    """One decoded frame: its grey in [0, 1] and its presentation timestamp."""

    gray: np.ndarray  # (H, W) float32, as stored (a player turns it by ``rotation``)
    pts: int | None
    rotation: int  # degrees, from the stream's display matrix

    def __post_init__(self) -> None:
        self.size = (self.gray.shape[1], self.gray.shape[0])  # (width, height), kept


@dataclass
class Copied:
    """A packet of another stream (audio, subtitles), to be muxed untouched."""

    packet: av.Packet


def _open_error(path: Path, exc: Exception) -> ReadError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return ReadError(f"cannot read video {path.name}: {reason}")


class VideoReader:
    """An open video file: its first video stream decoded, its other streams passed on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.container = av.open(str(path))
        except (av.FFmpegError, OSError) as exc:
            raise _open_error(path, exc) from None
        if not self.container.streams.video:
            self.container.close()
            raise ReadError(f"{path.name} has no video stream")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"  # frame and slice threads inside FFmpeg
        self.copied = [s for s in self.container.streams if s.type in _COPIED]

    @property
    def frame_count(self) -> int:
        """Frames the header announces (an estimate from duration and rate if absent)."""
        if self.video.frames:
            return int(self.video.frames)
        rate, tb, duration = self.video.average_rate, self.video.time_base, self.video.duration
        if rate and tb and duration:
            return round(float(duration * tb * rate))
        return 0

    def items(self) -> Iterator[Frame | Copied]:
        """Frames and copied packets in file order; a damaged file raises ReadError."""
        try:
            for packet in self.container.demux(self.video, *self.copied):
                if packet.stream is self.video:
                    for frame in packet.decode():
                        gray = frame.to_ndarray(format="gray16le").astype(np.float32)
                        yield Frame(gray * np.float32(1 / 65535), frame.pts, int(frame.rotation))
                elif packet.dts is not None:  # the demuxer's flush packets carry nothing
                    yield Copied(packet)
        except av.FFmpegError as exc:
            raise ReadError(f"damaged video: {exc}") from None

    def close(self) -> None:
        self.container.close()


def frame_count(path: Path) -> int:
    """Frames in a video file by its header, for progress; 0 when unknown or unreadable."""
    try:
        reader = VideoReader(path)
    except ReadError:
        return 0
    try:
        return reader.frame_count
    finally:
        reader.close()


class VideoWriter:
    """Encodes coloured frames and muxes them with the copied streams into ``f``."""

    def __init__(
        self, f: BinaryIO, dest: Path, reader: VideoReader, first: Frame, crf: int
    ) -> None:
        src = reader.video
        self.container = av.open(f, "w", format=_muxer(dest))
        rate: Fraction | None = src.average_rate or src.guessed_rate or Fraction(25)
        self.video = self.container.add_stream(CODEC, rate=rate)
        self.video.width, self.video.height = first.size
        self.video.pix_fmt = "yuv420p"
        self.video.time_base = src.time_base
        self.video.codec_context.time_base = src.time_base
        if src.sample_aspect_ratio:
            self.video.sample_aspect_ratio = src.sample_aspect_ratio
        cc = self.video.codec_context
        cc.colorspace = cc.color_primaries = cc.color_trc = _BT709
        cc.color_range = _LIMITED_RANGE
        self.video.options = {"crf": str(crf), "preset": PRESET}
        if first.rotation:
            self.video.set_display_rotation(first.rotation)
        self.copies = {s.index: self.container.add_stream_from_template(s) for s in reader.copied}
        self._time_base = src.time_base

    def write_frame(self, rgb: np.ndarray, pts: int | None) -> None:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.pts = pts
        frame.time_base = self._time_base
        for packet in self.video.encode(frame):
            self.container.mux(packet)

    def copy(self, packet: av.Packet) -> None:
        packet.stream = self.copies[packet.stream.index]
        self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the container (its index is written here)."""
        for packet in self.video.encode(None):
            self.container.mux(packet)
        self.container.close()


def _muxer(dest: Path) -> str:
    return {".mkv": "matroska", ".avi": "avi", ".mov": "mov"}.get(dest.suffix.lower(), "mp4")
