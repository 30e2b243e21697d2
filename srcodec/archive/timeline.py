"""The times a recorded archive holds (its TIME chunks, docs/format.md section 4b): each
frame's UTC reception time and stream timestamp, and the gaps of the stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ..clock import iso
from .filereader import ArchiveReader

__all__ = ["Gap", "SegmentTimes", "segment_times"]


@dataclass
class Gap:
    """No frames from ``start`` to ``end`` (microseconds since the epoch, UTC), and why."""

    start: int
    end: int
    reason: str


@dataclass
class SegmentTimes:
    """An archive's recorded times: for each frame (archive order, by name) its reception time
    (microseconds since the epoch, UTC; None if the archive does not record it) and stream
    timestamp (``raw_pts`` in units of ``time_bases``, "num/den" seconds), and the gaps the
    recorder saw."""

    names: list[str]
    received: list[int | None]
    raw_pts: list[int | None]
    time_bases: list[str | None]
    gaps: list[Gap] = field(default_factory=list)

    @property
    def pts(self) -> list[float | None]:
        """Each frame's stream timestamp in seconds (None if unknown)."""
        return [
            None if p is None or b is None else float(p * Fraction(b))
            for p, b in zip(self.raw_pts, self.time_bases, strict=True)
        ]

    @property
    def timed(self) -> bool:
        return any(t is not None for t in self.received)

    @property
    def start(self) -> int | None:
        return min((t for t in self.received if t is not None), default=None)

    @property
    def end(self) -> int | None:
        return max((t for t in self.received if t is not None), default=None)

    def summary(self) -> dict:
        """``start``, ``end`` (ISO 8601, UTC; None if untimed) and ``gaps``, for ``info``."""
        start, end = self.start, self.end
        return {
            "start": None if start is None else iso(start),
            "end": None if end is None else iso(end),
            "gaps": [
                {
                    "start": iso(g.start),
                    "end": iso(g.end),
                    "seconds": round((g.end - g.start) / 1e6, 6),
                    "reason": g.reason,
                }
                for g in self.gaps
            ],
        }


def segment_times(reader: ArchiveReader) -> SegmentTimes:
    """The times an open archive records (its TIME chunks, docs/format.md section 4b)."""
    names = reader.names
    received: list[int | None] = [None] * len(names)
    pts: list[int | None] = [None] * len(names)
    bases: list[str | None] = [None] * len(names)
    gaps: list[Gap] = []
    for record in reader.times():
        gaps += [Gap(a, b, why) for a, b, why in record.gaps]
        if record.first is None or record.first not in reader:
            continue
        at = reader.index_of(record.first)
        for k, (t, p) in enumerate(zip(record.received, record.pts, strict=True)):
            if at + k < len(names):
                received[at + k], pts[at + k], bases[at + k] = t, p, record.time_base
    return SegmentTimes(names, received, pts, bases, gaps)
