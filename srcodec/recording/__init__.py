"""Recording cameras: ``record`` writes a stream into time-named segment archives (crash-safe,
with every frame's reception time), ``Recording`` reads a camera's segments by time, ``cut``
exports a time window, ``transcode`` re-codes an archive lossy for retention.
"""

from .recorder import RecordSummary, SegmentReport, record
from .segments import close_open_segments, recover_directory

__all__ = [
    "RecordSummary",
    "SegmentReport",
    "close_open_segments",
    "record",
    "recover_directory",
]
