"""Footage in and out, in-process through PyAV (FFmpeg's libraries): reading any video FFmpeg
reads as numbered RGB frames, probing it, and writing frames as a lossless or lossy video file.
"""

from __future__ import annotations

import math
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
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
    "quiet_svt",
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


#: ``on_bad(name, seconds, why)``: told of a selected frame that does not decode (``seconds``
#: from its packet, None if unknown), or of the frames missing from a file that ends before the
#: frame count its header declares (``name`` then spans them: ``frame_000016..frame_000794``).
OnBad = Callable[[str, float | None, str], None]


def read_video(
    path: str | os.PathLike,
    start: int | float | str | None = None,
    end: int | float | str | None = None,
    every: int = 1,
    on_bad: OnBad | None = None,
) -> Iterator[tuple[str, np.ndarray, float]]:
    """(name, uint8 HxWx3 RGB frame, timestamp in seconds) of the video's frames in order.

    ``start`` (included) and ``end`` (excluded) are frame numbers or times (``parse_position``);
    a frame is in range by its number or, for times, by its timestamp. ``every`` keeps every
    n-th frame counted from the first in range. Names are ``frame_000123`` by source frame number.
    The file is decoded from its beginning, so numbering is exact whatever the container's index.

    Damage is never passed over in silence: a frame whose packet does not decode keeps its
    number (later frames keep their names) and, like frames missing from a file cut short
    (fewer than its header declares), is told to ``on_bad``; without ``on_bad`` it raises
    ``FrameError``.
    """
    for name, frame, seconds in _selected(path, start, end, every, on_bad):
        yield name, frame.to_ndarray(format="rgb24"), seconds


def video_timeline(
    path: str | os.PathLike,
    start: int | float | str | None = None,
    end: int | float | str | None = None,
    every: int = 1,
    on_bad: OnBad | None = None,
) -> list[tuple[str, float]]:
    """(name, timestamp in seconds) of the frames ``read_video`` yields with these arguments,
    without converting any picture: a cheap first pass, so that an archive's header can record
    them before its frames."""
    return [(name, seconds) for name, _, seconds in _selected(path, start, end, every, on_bad)]


@dataclass
class _Packets:
    """What demuxing alone (no decoding) tells of a video stream's packets: their sorted
    timestamps (None when some packet has none, or two share one: frames are then numbered as
    they come out of the decoder), those of key frames, and why the demuxer stopped before the
    end (None if it did not)."""

    times: list[int] | None
    keys: set[int]
    stopped: str | None = None


def _packets(path: Path) -> _Packets:
    container = _open_input(path)
    times: list[int | None] = []
    keys: set[int] = set()
    stopped = None
    try:
        for packet in container.demux(container.streams.video[0]):
            if packet.size == 0:  # the flush packet
                continue
            times.append(packet.pts)
            if packet.is_keyframe and packet.pts is not None:
                keys.add(packet.pts)
    except av.FFmpegError as exc:
        stopped = f"the file cannot be read further ({exc})"
    finally:
        container.close()
    if None in times or len(set(times)) != len(times):
        return _Packets(None, set(), stopped)
    return _Packets(sorted(times), keys, stopped)  # type: ignore[type-var]


def _decoded(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, errors: list[str]
) -> Iterator[tuple[int | None, float, av.VideoFrame]]:
    """(pts, seconds, frame) for every frame the decoder gives whole, in its order; the errors
    of the packets it refuses, and of frames it flags corrupt, go to ``errors`` (which frame a
    refused packet held is found by its number missing: with frame threads, an error surfaces
    on a later packet)."""
    rate = stream.average_rate or stream.guessed_rate
    count = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            errors.append(str(exc))
            continue
        for frame in frames:
            if frame.is_corrupt:  # decoded with errors concealed: damaged, not a frame
                errors.append(f"the decoder flags the frame at {frame.time} s corrupt")
                continue
            seconds = frame.time if frame.time is not None else count / float(rate or 1)
            yield frame.pts, seconds, frame
            count += 1


#: Why a frame that decoded is not trusted: a frame of its group of pictures did not decode,
#: so the frames predicted from it (until the next key frame) are the decoder's guesses.
_PREDICTED = "depends on a frame that does not decode (predicted from damaged pictures)"


def _selected(
    path: str | os.PathLike,
    start: int | float | str | None,
    end: int | float | str | None,
    every: int,
    on_bad: OnBad | None = None,
) -> Iterator[tuple[str, av.VideoFrame, float]]:
    """The decoded frames ``read_video`` selects, as PyAV frames.

    A frame's number is the rank of its timestamp among those of all the stream's packets
    (read first, by demuxing alone), so that a frame that does not decode keeps its number and
    later frames keep theirs. A frame that does not decode also spoils those predicted from
    it: from the first frame missing in a group of pictures (less the decoder's reordering
    depth, for B-frames shown before it) to the next key frame, frames are reported, not
    given. Where packets lack timestamps, frames are numbered in the order they come out."""
    path = Path(path)
    first, stop = parse_position(start), parse_position(end)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise FrameError(f"every must be a positive integer, got {every!r}")

    def bad(name: str, seconds: float | None, why: str) -> None:
        if on_bad is None:
            raise FrameError(f"{path}: frame{'s' * ('..' in name)} {name} {why}")
        on_bad(name, seconds, why)

    packets = _packets(path)
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        errors: list[str] = []
        if packets.times is None:
            yield from _in_decoder_order(container, stream, first, stop, every, errors)
            if errors:  # which frames were lost is unknown without timestamps
                bad("(some)", None, f"do not decode; which is unknown: the packets have no "
                    f"timestamps ({errors[0]})")  # fmt: skip
            return
        times, base = packets.times, stream.time_base
        rank = {pts: k for k, pts in enumerate(times)}
        keys = {rank[pts] for pts in packets.keys}
        if isinstance(first, float):
            begin = next(
                (k for k, t in enumerate(times) if not _before(first, k, float(t * base))),
                len(times),
            )
        else:
            begin = first or 0

        def release(number: int, seconds: float, frame: av.VideoFrame, predicted: bool):
            if number < begin or (number - begin) % every:
                return None
            if predicted:
                bad(frame_name(number), seconds, _PREDICTED)
                return None
            return frame_name(number), frame, float(seconds)

        depth = max(0, stream.codec_context.has_b_frames or 0)
        held: deque[list] = deque()  # frames not given yet: a later gap may spoil them
        seen: set[int] = set()
        expected, spoiled, ended_at = 0, False, None
        for pts, seconds, frame in _decoded(container, stream, errors):
            number = rank.get(pts, -1)
            if number < 0:
                raise FrameError(f"{path}: a frame at {seconds:.3f} s has no packet of its own")
            if number > expected:  # frames expected..number-1 did not come out
                spoiled = True
                for item in held:
                    item[3] = item[3] or (item[0] >= expected - depth and item[0] not in keys)
            expected = max(expected, number + 1)
            seen.add(number)
            if number in keys:
                spoiled = False  # a key frame starts afresh
            if stop is not None and not _before(stop, number, seconds):
                ended_at = number  # frames come out in order: none in range follows
                break
            held.append([number, seconds, frame, spoiled])
            while len(held) > depth:
                out = release(*held.popleft())
                if out is not None:
                    yield out
        if ended_at is None and expected < len(times):
            for item in held:  # frames missing after these (to the end): as for a gap
                item[3] = item[3] or (item[0] >= expected - depth and item[0] not in keys)
        for item in held:
            out = release(*item)
            if out is not None:
                yield out
        _report_missing(packets, stream, begin, every, stop, ended_at, seen, errors, bad)
    except av.FFmpegError as exc:
        raise FrameError(f"{path}: cannot decode video ({exc})") from None
    finally:
        container.close()


def _in_decoder_order(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    first: int | float | None,
    stop: int | float | None,
    every: int,
    errors: list[str],
) -> Iterator[tuple[str, av.VideoFrame, float]]:
    """``_selected`` for a stream whose packets lack timestamps."""
    kept = 0
    for number, (_, seconds, frame) in enumerate(_decoded(container, stream, errors)):
        if _before(first, number, seconds):
            continue
        if stop is not None and not _before(stop, number, seconds):
            return
        if kept % every == 0:
            yield frame_name(number), frame, float(seconds)
        kept += 1


def _report_missing(
    packets: _Packets,
    stream: av.video.stream.VideoStream,
    begin: int,
    every: int,
    stop: int | float | None,
    ended_at: int | None,
    seen: set[int],
    errors: list[str],
    bad: OnBad,
) -> None:
    """Report the selected frames that never came out: packets demuxed that did not decode
    (or that the decoder dropped), and frames missing at the end of a file cut short."""
    times, base = packets.times or [], stream.time_base
    count, declared = len(times), stream.frames or 0
    rate = stream.average_rate or stream.guessed_rate
    limit = ended_at if ended_at is not None else _frames_up_to(stop, times, base)
    if ended_at is None and limit >= count:
        # The header's count is of frame slots in AVI (whose muxers leave dropped frames
        # out): frames are missing only beyond the slot of the last packet.
        last = float(times[-1] * base) if times else 0.0
        slots = round(last * float(rate)) + 1 if times and rate else 0
        missing = max(0, declared - max(count, slots))
        if packets.stopped is not None:
            missing = max(missing, 1)
        if isinstance(stop, float) and rate and missing:
            missing = min(missing, max(0, math.ceil((stop - last) * float(rate) - 1e-9) - 1))
        limit = count + missing
        if isinstance(stop, int):
            limit = min(limit, stop)
    gone = [k for k in range(begin, limit) if k not in seen and (k - begin) % every == 0]
    why = f"does not decode ({errors[0]})" if errors else "did not come out of the decoder"
    for k in (k for k in gone if k < count):
        bad(frame_name(k), float(times[k] * base), why)
    tail = [k for k in gone if k >= count]
    if tail:
        span = frame_name(tail[0]) + (f"..{frame_name(tail[-1])}" if len(tail) > 1 else "")
        end_why = (
            packets.stopped or f"the file ends after {count} of the {declared} frames it lists"
        )
        bad(span, None, f"{'is' if len(tail) == 1 else 'are'} missing: {end_why}")


def _frames_up_to(stop: int | float | None, times: list[int], base: Fraction) -> int:
    """How many of the packets (by ``times``, sorted) come before ``stop``."""
    if isinstance(stop, int):
        return min(stop, len(times))
    if isinstance(stop, float):
        return sum(1 for t in times if float(t * base) < stop - 1e-9)
    return len(times)


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

    A frame given as ``(frame, seconds)`` is shown at that time (increasing: irregular footage,
    or gaps where frames were left out keep their timing); a bare frame one interval of ``fps``
    after the one before it.

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
            last = None
            for item in frames:
                frame, seconds = item if isinstance(item, tuple) else (item, None)
                frame = _rgb(frame, count)
                if stream is None:
                    stream = _add_stream(container, spec, encoder, crf, rate, frame.shape)
                    tick = 1 / Fraction(stream.codec_context.time_base)  # ticks per second
                elif frame.shape != (stream.height, stream.width, 3):
                    raise FrameError(
                        f"frame #{count} is {frame.shape[1]}x{frame.shape[0]}, the video "
                        f"{stream.width}x{stream.height}"
                    )
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
                if picture.format.name != stream.pix_fmt:
                    picture = picture.reformat(format=stream.pix_fmt)
                if seconds is None:
                    pts = 0 if last is None else last + round(tick / rate)
                else:
                    pts = round(seconds * tick)
                    if last is not None and pts <= last:
                        if seconds * tick < last - 0.5:
                            raise FrameError(f"frame #{count} at {seconds} s goes back in time")
                        pts = last + 1  # two times within one tick
                picture.pts = last = pts
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


def quiet_svt() -> None:
    """SVT-AV1 prints a banner (about 20 ``Svt[info]`` lines) on every encoder it opens unless
    its log level (``SVT_LOG``, read when an encoder opens) says errors only; a level the user
    set is kept."""
    os.environ.setdefault("SVT_LOG", "1")


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
    # Frame times in 1/90000 s (MPEG's clock: exact for common rates, fine for irregular ones);
    # AVI has one slot per frame interval (its muxer fills skipped slots).
    clock = 1 / rate if container.format.name == "avi" else Fraction(1, 90000)
    stream.time_base = stream.codec_context.time_base = clock
    if crf is None:
        stream.pix_fmt = spec.lossless_pix_fmt
        stream.options = dict(spec.lossless_options)
    else:
        # 4:2:0 needs even sides; odd-sized frames keep full chroma (4:4:4) instead.
        even = width % 2 == 0 and height % 2 == 0
        stream.pix_fmt = "yuv420p" if even or encoder == "libsvtav1" else "yuv444p"
        stream.options = {"crf": str(crf)}
        if encoder == "libsvtav1":
            quiet_svt()
        if encoder == "libx265":
            stream.options["x265-params"] = "log-level=error"
    return stream
