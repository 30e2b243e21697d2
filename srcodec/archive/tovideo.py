"""Restoring a whole archive as one video file: ``decode_to_video`` writes the restored frames
at the archive's frame rate, losslessly by default, skipping and reporting damaged frames.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import SrcodecError
from ..frametimes import DEFAULT_FPS, archive_fps, frame_clock
from ..video import write_video
from .reader import Archive
from .tofolder import DecodeSummary

__all__ = ["LOSSLESS_BY_SUFFIX", "decode_to_video"]

#: The lossless codec of each video suffix: FFV1 in Matroska, x264 qp 0 (RGB) elsewhere.
LOSSLESS_BY_SUFFIX = {".mkv": "ffv1", ".avi": "ffv1", ".mp4": "x264", ".mov": "x264"}


def decode_to_video(
    path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    video_codec: str | None = None,
    crf: int | None = None,
    force: bool = False,
    **kwargs,
) -> DecodeSummary:
    """Restore every frame of ``path`` into the video ``output`` (.mkv, .mp4, ...), each at
    its recorded time (``srcodec.frametimes.frame_clock``: frames without one follow at the
    archive's frame rate, ``DEFAULT_FPS`` if it records none).

    Lossless by default (``LOSSLESS_BY_SUFFIX``); ``video_codec`` (srcodec.video.VIDEO_CODECS)
    and ``crf`` make a lossy delivery copy. Damaged frames are left out of the video and listed
    in the summary's ``damaged`` (``written`` lists the frames in the video). ``kwargs`` are
    ``Archive``'s. Raises ``SrcodecError`` if ``output`` exists without ``force`` or cannot
    be written, ``FrameError`` if the frames are not all of one size.
    """
    output = Path(output)
    if output.exists() and not force:
        raise SrcodecError(f"{output} exists; use --force")
    codec = video_codec or LOSSLESS_BY_SUFFIX.get(output.suffix.lower(), "ffv1")
    summary = DecodeSummary(output)
    with Archive(path, **kwargs) as archive:
        fps = archive_fps(archive.header) or DEFAULT_FPS

        def damaged(name: str | None, exc: SrcodecError) -> None:
            summary.damaged.append((name, str(exc)))

        clock = frame_clock(archive.reader)

        def frames() -> Iterator[tuple[np.ndarray, float]]:
            # Each frame at its recorded time: frames left out (damaged) leave a gap, and
            # irregular footage (every N-th frame, dropped frames) keeps its timing.
            for name, frame in archive.frames(on_damage=damaged):
                summary.written.append(name)
                yield frame, clock[name]

        write_video(output, frames(), fps, codec=codec, crf=crf, force=force)
    return summary
