"""``cut``: the frames a camera recorded between two times, restored, as a folder of PNGs
(named by their UTC reception time) or one video file at the recording's frame rate.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..archive.filereader import ArchiveReader
from ..archive.tofolder import write_png
from ..clock import from_iso, to_datetime
from ..errors import SrcodecError
from ..frametimes import DEFAULT_FPS, archive_fps
from ..video import is_video, write_video
from .index import Recording

__all__ = ["CutSummary", "cut"]

#: zlib level of the PNGs cut writes (fast; as ``decode`` writes them).
PNG_LEVEL = 1


@dataclass
class CutSummary:
    """What ``cut`` wrote: the output, the times of its frames (UTC) and their count."""

    output: Path
    times: list[datetime] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return len(self.times)


def frame_file_name(camera: str, when: datetime) -> str:
    return f"{camera}_{when.strftime('%Y%m%dT%H%M%S.%fZ')}.png"


def cut(
    directory: str | os.PathLike,
    output: str | os.PathLike,
    *,
    start: str | datetime,
    end: str | datetime,
    name: str | None = None,
    force: bool = False,
    video_codec: str | None = None,
    crf: int | None = None,
    **archive_options,
) -> CutSummary:
    """Write the frames of camera ``name`` in ``directory`` received in [start, end) (ISO 8601
    times, UTC unless they say otherwise) to ``output``: a video file (by its suffix: .mkv,
    .mp4 ...; lossless unless ``video_codec``/``crf`` ask otherwise) or a folder of PNGs.
    Only the groups holding frames of the window are decoded. ``archive_options`` are
    ``Archive``'s (e.g. ``bicubic=True``). ``SrcodecError`` if the window holds no frame."""
    lo, hi = from_iso(start), from_iso(end)
    if hi <= lo:
        raise SrcodecError(f"--to ({end}) must come after --from ({start})")
    recording = Recording(directory, name, **archive_options)
    output = Path(output)
    summary = CutSummary(output)
    frames = recording.frames(to_datetime(lo), to_datetime(hi))
    first = next(frames, None)
    if first is None:
        span = recording.span
        shown = f"{span[0].isoformat()} .. {span[1].isoformat()}" if span else "nothing"
        raise SrcodecError(f"camera {recording.name} recorded no frame in that window ({shown})")

    def stream() -> Iterator[tuple[datetime, np.ndarray]]:
        yield first
        yield from frames

    if is_video(output):
        from ..archive.tovideo import LOSSLESS_BY_SUFFIX

        codec = video_codec or LOSSLESS_BY_SUFFIX.get(output.suffix.lower(), "ffv1")

        def images() -> Iterator[np.ndarray]:
            for when, image in stream():
                summary.times.append(when)
                yield image

        write_video(output, images(), _fps(recording), codec=codec, crf=crf, force=force)
        return summary
    if output.exists() and not output.is_dir():
        raise SrcodecError(f"{output} exists and is not a folder")
    output.mkdir(parents=True, exist_ok=True)
    for when, image in stream():
        target = output / frame_file_name(recording.name, when)
        if target.exists() and not force:
            raise SrcodecError(f"{target} exists; use --force to overwrite")
        write_png(target, image, PNG_LEVEL)
        summary.times.append(when)
    return summary


def _fps(recording: Recording) -> Fraction:
    """The frame rate the first segment's stream announced (``DEFAULT_FPS`` if none)."""
    with ArchiveReader(recording.segments[0].path) as reader:
        return archive_fps(reader.header) or DEFAULT_FPS
