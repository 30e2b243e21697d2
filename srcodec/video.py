"""Footage in and out, in-process through PyAV (FFmpeg's libraries): reading any video FFmpeg
reads as numbered RGB frames, probing it, and writing frames as a lossless or lossy video file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .atomic import AtomicFile
from .errors import FrameError, SrcodecError
from .pixels import to_rgb

__all__ = [
    "VIDEO_CODECS",
    "VideoCodec",
    "VideoInfo",
    "frame_name",
    "is_video",
    "parse_position",
    "probe_video",
    "read_video",
    "video_timeline",
    "write_video",
]

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg")

# FFmpeg muxer of each suffix write_video accepts (av.open cannot guess it from a temporary name).
_MUXERS = {".mkv": "matroska", ".mp4": "mp4", ".mov": "mov", ".avi": "avi", ".webm": "webm"}

_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")  # [hh:]mm:ss[.fff]
_SECONDS = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)s$")


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` learns from a file's headers, without decoding it."""

    fps: Fraction
    frames: int | None  # as the container declares it; None when unknown
    width: int
    height: int
    codec: str


@dataclass(frozen=True)
class VideoCodec:
    """How ``write_video`` writes one codec: lossless by default, lossy with a ``crf``."""

    lossless_encoder: str | None  # None: this codec is lossy only
    lossless_pix_fmt: str
    lossless_options: dict[str, str]
    lossy_encoder: str | None  # None: this codec is lossless only
    suffixes: tuple[str, ...]
    crf_range: tuple[int, int] = (0, 51)


# The codecs write_video knows; all of them are bundled with PyAV's wheels.
VIDEO_CODECS: dict[str, VideoCodec] = {
    "ffv1": VideoCodec(
        "ffv1", "bgr0", {"level": "3", "slicecrc": "1"}, None, (".mkv", ".avi", ".mov")
    ),
    # libx264rgb codes RGB itself (no YUV round trip), so qp 0 is bit-exact.
    "x264": VideoCodec(
        "libx264rgb", "rgb24", {"qp": "0", "preset": "medium"}, "libx264", (".mp4", ".mkv", ".mov")
    ),
    "x265": VideoCodec(
        "libx265",
        "gbrp",
        {"x265-params": "lossless=1:log-level=error", "preset": "medium"},
        "libx265",
        (".mp4", ".mkv", ".mov"),
    ),
    "av1": VideoCodec(None, "", {}, "libsvtav1", (".mkv", ".mp4", ".webm"), (0, 63)),
}


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a video file (by its suffix; the file need not exist)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def frame_name(number: int) -> str:
    """The name of source frame ``number``: stable whatever --start and --every select."""
    return f"frame_{number:06d}"


def parse_position(value: int | float | str | None) -> int | float | None:
    """A start or end position: an int is a frame number; ``"12.5s"``, ``"01:02.5"`` and
    ``"00:01:02.5"`` are times, returned in seconds (float); a digit string is a frame number."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise FrameError(f"position {value!r} is neither a frame number nor a time")
    if isinstance(value, int):
        if value < 0:
            raise FrameError(f"frame number {value} is negative")
        return value
    if isinstance(value, float):
        if not value >= 0:
            raise FrameError(f"time {value} s is negative")
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    if m := _SECONDS.match(text):
        return float(m.group(1))
    if m := _CLOCK.match(text):
        hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), float(m.group(3))
        return hours * 3600 + minutes * 60 + seconds
    raise FrameError(
        f"position {value!r} is neither a frame number (123) nor a time (12.5s, 00:01:02.5)"
    )


def _open_input(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise FrameError(f"{path}: no such video file")
    try:
        container = av.open(str(path), "r")
    except av.FFmpegError as exc:
        raise FrameError(f"{path}: cannot read video ({exc})") from None
    if not container.streams.video:
        container.close()
        raise FrameError(f"{path}: has no video stream")
    return container


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, declared frame count, size and codec of the first video stream of ``path``."""
    path = Path(path)
    with _open_input(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        return VideoInfo(
            fps=Fraction(rate) if rate else Fraction(0),
            frames=stream.frames or None,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            codec=stream.codec_context.name,
        )


def read_video(
    path: str | os.PathLike,
    start: int | float | str | None = None,
    end: int | float | str | None = None,
    every: int = 1,
) -> Iterator[tuple[str, np.ndarray, float]]:
    """(name, uint8 HxWx3 RGB frame, timestamp in seconds) of the video's frames in order.

    ``start`` (included) and ``end`` (excluded) are frame numbers or times (``parse_position``);
    a frame is in range by its number or, for times, by its timestamp. ``every`` keeps every
    n-th frame counted from the first in range. Names are ``frame_000123`` by source frame number.
    The file is decoded from its beginning, so numbering is exact whatever the container's index.
    """
    for name, frame, seconds in _selected(path, start, end, every):
        yield name, frame.to_ndarray(format="rgb24"), seconds


def video_timeline(
    path: str | os.PathLike,
    start: int | float | str | None = None,
    end: int | float | str | None = None,
    every: int = 1,
) -> list[tuple[str, float]]:
    """(name, timestamp in seconds) of the frames ``read_video`` yields with these arguments,
    without converting any picture: a cheap first pass, so that an archive's header can record
    them before its frames."""
    return [(name, seconds) for name, _, seconds in _selected(path, start, end, every)]


def _selected(
    path: str | os.PathLike,
    start: int | float | str | None,
    end: int | float | str | None,
    every: int,
) -> Iterator[tuple[str, av.VideoFrame, float]]:
    """The decoded frames ``read_video`` selects, as PyAV frames."""
    path = Path(path)
    first, stop = parse_position(start), parse_position(end)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise FrameError(f"every must be a positive integer, got {every!r}")
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        kept = 0
        for number, frame in enumerate(container.decode(stream)):
            seconds = frame.time if frame.time is not None else number / float(rate or 1)
            if _before(first, number, seconds):
                continue
            if stop is not None and not _before(stop, number, seconds):
                return
            if kept % every == 0:
                yield frame_name(number), frame, float(seconds)
            kept += 1
    except av.FFmpegError as exc:
        raise FrameError(f"{path}: cannot decode video ({exc})") from None
    finally:
        container.close()


def _before(position: int | float | None, number: int, seconds: float) -> bool:
    """Whether the frame ``number`` at ``seconds`` comes before ``position``."""
    if position is None:
        return False
    if isinstance(position, int):
        return number < position
    return seconds < position - 1e-9


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: int | float | Fraction | str,
    codec: str = "ffv1",
    crf: int | None = None,
    *,
    force: bool = True,
) -> int:
    """Write uint8 frames (HxWx3 RGB or HxW grayscale, all of one size) as a video; returns the
    number of frames written.

    Lossless by default (FFV1, or libx264rgb/libx265 in lossless mode); ``crf`` makes it lossy
    (libx264/libx265/SVT-AV1 in YUV). The file appears complete or not at all (srcodec.atomic).
    """
    path = Path(path)
    spec = VIDEO_CODECS.get(codec)
    if spec is None:
        raise SrcodecError(f"unknown video codec {codec!r}; known: {', '.join(VIDEO_CODECS)}")
    suffix = path.suffix.lower()
    if suffix not in spec.suffixes:
        raise SrcodecError(
            f"{path}: codec {codec!r} is written to {', '.join(spec.suffixes)} files, not "
            f"{suffix or 'a file without a suffix'}"
        )
    encoder = spec.lossless_encoder if crf is None else spec.lossy_encoder
    if encoder is None:
        kind = "lossy only: give a crf" if crf is None else "lossless only: give no crf"
        raise SrcodecError(f"video codec {codec!r} is {kind}")
    if crf is not None:
        low, high = spec.crf_range
        if isinstance(crf, bool) or not isinstance(crf, int) or not low <= crf <= high:
            raise SrcodecError(f"crf of codec {codec!r} must be an integer {low}..{high}")
    try:
        rate = Fraction(fps).limit_denominator(1_000_000)
    except (TypeError, ValueError, ZeroDivisionError):
        raise SrcodecError(f"frame rate {fps!r} is not a number") from None
    if rate <= 0:
        raise SrcodecError(f"frame rate {fps!r} must be positive")

    target = AtomicFile(path, force=force)
    count = 0
    try:
        with av.open(target.fh, "w", format=_MUXERS[suffix]) as container:
            stream = None
            for frame in frames:
                frame = _rgb(frame, count)
                if stream is None:
                    stream = _add_stream(container, spec, encoder, crf, rate, frame.shape)
                elif frame.shape != (stream.height, stream.width, 3):
                    raise FrameError(
                        f"frame #{count} is {frame.shape[1]}x{frame.shape[0]}, the video "
                        f"{stream.width}x{stream.height}"
                    )
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
                if picture.format.name != stream.pix_fmt:
                    picture = picture.reformat(format=stream.pix_fmt)
                picture.pts = count
                container.mux(stream.encode(picture))
                count += 1
            if stream is None:
                raise FrameError(f"{path}: no frames to write")
            container.mux(stream.encode(None))
    except av.FFmpegError as exc:
        target.abort()
        raise SrcodecError(f"cannot write {path} with {encoder} ({exc})") from None
    except BaseException:
        target.abort()
        raise
    target.commit()
    return count


def _rgb(frame: np.ndarray, number: int) -> np.ndarray:
    frame = np.asarray(frame)
    shape_ok = frame.ndim == 2 or frame.ndim == 3 and frame.shape[2] == 3
    if frame.dtype != np.uint8 or not shape_ok:
        raise FrameError(
            f"frame #{number}: expected uint8 HxW or HxWx3, got {frame.dtype} {frame.shape}"
        )
    return np.ascontiguousarray(to_rgb(frame))


def _add_stream(
    container: av.container.OutputContainer,
    spec: VideoCodec,
    encoder: str,
    crf: int | None,
    rate: Fraction,
    shape: tuple[int, ...],
) -> av.video.stream.VideoStream:
    height, width = shape[:2]
    stream = container.add_stream(encoder, rate=rate)
    stream.width, stream.height = width, height
    stream.time_base = 1 / rate
    if crf is None:
        stream.pix_fmt = spec.lossless_pix_fmt
        stream.options = dict(spec.lossless_options)
    else:
        # 4:2:0 needs even sides; odd-sized frames keep full chroma (4:4:4) instead.
        even = width % 2 == 0 and height % 2 == 0
        stream.pix_fmt = "yuv420p" if even or encoder == "libsvtav1" else "yuv444p"
        stream.options = {"crf": str(crf)}
        if encoder == "libx265":
            stream.options["x265-params"] = "log-level=error"
    return stream
