"""Time in recordings (srcodec.recording): reception times are integer microseconds since the
Unix epoch (UTC), as TIME chunks store them; this module turns them into and from ISO 8601.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from .errors import SrcodecError

__all__ = ["from_iso", "iso", "now_us", "stamp", "to_datetime"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def now_us() -> int:
    """The current UTC time in microseconds since the epoch."""
    return time.time_ns() // 1000


def to_datetime(us: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime (exact)."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)


def iso(us: int) -> str:
    """ISO 8601 in UTC with microseconds: ``2024-05-01T12:00:00.250000Z``."""
    return to_datetime(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stamp(us: int) -> str:
    """The compact UTC stamp of segment file names: ``20240501T120000Z``."""
    return to_datetime(us).strftime("%Y%m%dT%H%M%SZ")


def from_iso(text: str | datetime) -> int:
    """Microseconds since the epoch of an ISO 8601 time (``2024-05-01T12:00:00Z``, with any
    offset, or the compact ``20240501T120000Z``); a time without an offset is UTC."""
    if isinstance(text, datetime):
        value = text
    else:
        raw = text.strip()
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            try:
                value = datetime.strptime(raw.rstrip("Zz"), "%Y%m%dT%H%M%S")
            except ValueError:
                raise SrcodecError(
                    f"bad time {text!r}: give ISO 8601, e.g. 2024-05-01T12:00:00Z"
                ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    delta = value - epoch
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
