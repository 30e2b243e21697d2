"""Reading recordings by time: each segment's frame times and gaps (its TIME chunks), and
``Recording``, a camera's segments as one time line whose ``frames(start, end)`` decode only
the groups that hold frames of the window.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from ..archive.filereader import ArchiveReader
from ..archive.timeline import Gap, SegmentTimes, segment_times
from ..clock import from_iso, to_datetime
from ..errors import FormatError, SrcodecError
from .segments import SEGMENT_NAME, list_segments

__all__ = ["Recording", "Segment"]

#: Consecutive segments further apart than this (seconds) with no gap recorded between them
#: have one: the recorder was not running.
UNRECORDED_GAP = 2.0


@dataclass
class Segment:
    """One segment archive of a recording: its file, first and last frame times (datetime,
    UTC), frame count and the gaps recorded in it."""

    path: Path
    start: datetime
    end: datetime
    frames: int
    gaps: list[Gap] = field(default_factory=list)
    times: SegmentTimes | None = field(default=None, repr=False)


class Recording:
    """A camera's recording: the segments in ``directory``/``name`` (or ``directory`` itself,
    a camera folder) as one time line.

    ``segments`` (oldest first), ``span`` (first and last frame times), ``gaps`` (recorded
    outages, and time between segments when nothing was recorded), and ``frames(start, end)``
    yielding (time, frame) for every frame received in [start, end), restored as ``decode``
    restores them (``Archive`` options such as ``bicubic=True`` are passed on).
    """

    def __init__(
        self, directory: str | os.PathLike, name: str | None = None, **archive_options
    ) -> None:
        self.folder = _camera_folder(Path(directory), name)
        self.name = self.folder.name
        self.archive_options = archive_options
        self.segments: list[Segment] = []
        for path in list_segments(self.folder):
            with ArchiveReader(path) as reader:
                _check_recording(reader)
                times = segment_times(reader)
            if times.start is None or times.end is None:
                continue  # an archive without recorded times is no part of a time line
            self.segments.append(
                Segment(
                    path,
                    to_datetime(times.start),
                    to_datetime(times.end),
                    len(times.names),
                    times.gaps,
                    times,
                )
            )
        self.segments.sort(key=lambda s: s.start)

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        if not self.segments:
            return None
        return self.segments[0].start, max(s.end for s in self.segments)

    @property
    def gaps(self) -> list[Gap]:
        """Every gap in time order: those the recorder saw, and time between segments with
        none recorded (reason "not recording")."""
        found = [g for s in self.segments for g in s.gaps]
        for a, b in zip(self.segments, self.segments[1:], strict=False):
            end, start = _us(a.end), _us(b.start)
            covered = any(g.start <= end + 1_000_000 and g.end >= start for g in found)
            if start - end > UNRECORDED_GAP * 1e6 and not covered:
                found.append(Gap(end, start, "not recording"))
        return sorted(found, key=lambda g: g.start)

    def frames(
        self, start: str | datetime | None = None, end: str | datetime | None = None
    ) -> Iterator[tuple[datetime, np.ndarray]]:
        """(reception time, restored frame) of every frame received in [start, end), in time
        order; only the groups holding such frames are decoded."""
        from ..archive import Archive

        lo = None if start is None else from_iso(start)
        hi = None if end is None else from_iso(end)
        for seg in self.segments:
            if (hi is not None and _us(seg.start) >= hi) or (lo is not None and _us(seg.end) < lo):
                continue
            assert seg.times is not None
            wanted = [
                k
                for k, t in enumerate(seg.times.received)
                if t is not None and (lo is None or t >= lo) and (hi is None or t < hi)
            ]
            if not wanted:
                continue
            with Archive(seg.path, **self.archive_options) as archive:
                for k in wanted:
                    yield to_datetime(seg.times.received[k]), archive[k]  # type: ignore[arg-type]

    def __repr__(self) -> str:
        span = self.span
        shown = f"{span[0].isoformat()} .. {span[1].isoformat()}" if span else "empty"
        return f"Recording({str(self.folder)!r}, {len(self.segments)} segments, {shown})"


def _check_recording(reader: ArchiveReader) -> None:
    """Refuse a segment whose ``extra.recording`` layout is newer than this reader's."""
    from .recorder import RECORDING_VERSION

    meta = reader.header.extra.get("recording")
    version = meta.get("version") if isinstance(meta, dict) else None
    if isinstance(version, int) and version > RECORDING_VERSION:
        raise FormatError(
            f"{reader.path} is a recording of layout version {version}; this srcodec reads up "
            f"to {RECORDING_VERSION} (upgrade srcodec)"
        )


def _us(value: datetime) -> int:
    return from_iso(value)


def _camera_folder(directory: Path, name: str | None) -> Path:
    if not directory.is_dir():
        raise SrcodecError(f"{directory} is not a folder")
    if name is not None:
        folder = directory / name
        if not folder.is_dir():
            raise SrcodecError(f"{directory} has no camera {name!r}")
        return folder
    if any(SEGMENT_NAME.fullmatch(p.name) for p in directory.glob("*.src")):
        return directory  # a camera folder itself
    cameras = sorted(p.name for p in directory.iterdir() if p.is_dir() and list_segments(p))
    if len(cameras) != 1:
        found = ", ".join(cameras) if cameras else "none"
        raise SrcodecError(f"{directory} holds cameras {found}: name one (--name)")
    return directory / cameras[0]
