"""The timing of footage that an archive records in its header (docs/format.md, section 3a):
the source's frame rate and each frame's timestamp, kept by ``encode`` from a video and used to
write restored footage back at its rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from .errors import FormatError

if TYPE_CHECKING:
    from .archive.filereader import ArchiveReader
    from .archive.layout import Header

__all__ = [
    "DEFAULT_FPS",
    "archive_fps",
    "archive_order",
    "frame_clock",
    "frame_times",
    "kept_timing",
    "timing_fields",
]

#: The rate restored footage is written at when its archive records none (frames from a folder).
DEFAULT_FPS = Fraction(10)
#: Timestamps listed one by one at most (irregular footage); beyond, only the rate is kept, so
#: that the header stays far below its 1 MiB bound.
MAX_LISTED_TIMES = 50_000
# Two timestamps this close (seconds) are equal: container clocks are in ms or finer.
_EPSILON = 1e-6


def _fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def timing_fields(fps: Fraction | None, times: Sequence[float]) -> dict[str, Any]:
    """The header ``extra`` fields for footage at ``fps`` whose kept frames have ``times``:
    ``fps`` as ``"num/den"``, and ``timestamps`` either ``{"first", "step", "count"}`` for
    evenly spaced frames or the list of seconds (docs/format.md, 3a)."""
    fields: dict[str, Any] = {}
    if fps:
        fields["fps"] = _fraction_text(Fraction(fps).limit_denominator(1_000_000))
    if not times:
        return fields
    step = times[1] - times[0] if len(times) > 1 else 0.0
    even = all(abs(b - a - step) < _EPSILON for a, b in pairwise(times))
    if even and step >= 0:
        fields["timestamps"] = {
            "first": round(times[0], 6),
            "step": _fraction_text(Fraction(step).limit_denominator(1_000_000)),
            "count": len(times),
        }
    elif len(times) <= MAX_LISTED_TIMES:
        fields["timestamps"] = [round(t, 6) for t in times]
    return fields


def archive_fps(header: Header) -> Fraction | None:
    """The frame rate an archive's header records, or None (``FormatError`` if malformed)."""
    value = header.extra.get("fps")
    if value is None:
        return None
    try:
        fps = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise FormatError(f"header field 'fps' is not a frame rate: {value!r}") from None
    if fps <= 0:
        raise FormatError(f"header field 'fps' must be positive, got {value!r}")
    return fps


def frame_times(header: Header) -> list[float] | None:
    """The timestamps (seconds) of the archive's first frames, in archive order, as recorded
    when it was encoded from a video (appended frames have none); None if none are recorded."""
    value = header.extra.get("timestamps")
    if value is None:
        return None
    try:
        if isinstance(value, list):
            return [float(t) for t in value]
        step = Fraction(value["step"])
        return [float(value["first"] + k * step) for k in range(int(value["count"]))]
    except (TypeError, ValueError, KeyError, ZeroDivisionError):
        raise FormatError(f"header field 'timestamps' is malformed: {value!r}") from None


def archive_order(reader: ArchiveReader) -> list[str]:
    """Every frame name the archive holds, damaged or not, in archive order: the order its
    recorded timestamps follow. From the index, or, when the index is unusable, from the scan
    (intact chunks and the names readable in damaged ones, by offset)."""
    if not reader.index_recovered:
        return reader.names
    placed = [(reader.entry(i).offset, reader.entry(i).position, reader.names[i])
              for i in range(len(reader))]  # fmt: skip
    for region in reader.scan_damage:
        names = region.names or ((region.name,) if region.name else ())
        placed += [(region.offset, k, name) for k, name in enumerate(names)]
    seen: set[str] = set()
    return [n for _, _, n in sorted(placed) if not (n in seen or seen.add(n))]


def frame_clock(reader: ArchiveReader) -> dict[str, float]:
    """The time (seconds) of every frame of the archive, by name: its recorded timestamp, or,
    for frames after the recorded ones (appended) or in an archive that records none, one
    frame interval (``archive_fps``, else ``DEFAULT_FPS``) after the frame before it. A frame
    left out (damaged) leaves its time empty: later frames keep theirs."""
    fps = archive_fps(reader.header) or DEFAULT_FPS
    times = frame_times(reader.header) or []
    clock: dict[str, float] = {}
    for k, name in enumerate(archive_order(reader)):
        if k < len(times):
            clock[name] = times[k]
        else:
            clock[name] = (times[-1] if times else -1 / fps) + (k - len(times) + 1) / float(fps)
    return clock


def kept_timing(reader: ArchiveReader, kept: Sequence[str]) -> dict[str, Any] | None:
    """The header timing fields of an archive holding only the frames ``kept`` (in order) of
    ``reader``'s archive, or None if they are unchanged (every frame with a timestamp kept)."""
    times = frame_times(reader.header)
    if times is None:
        return None
    recorded = dict(zip(archive_order(reader), times, strict=False))
    kept_times = [recorded[name] for name in kept if name in recorded]
    if kept_times == times:
        return None
    fields = timing_fields(archive_fps(reader.header), kept_times)
    fields.setdefault("timestamps", [])  # none kept: none recorded
    return fields
