"""``transcode``: re-code an archive lossy for retention (lossless to lossy, or lossy at a lower
rate), keeping its frame names, its recorded times and gaps, and where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from ..archive.filereader import ArchiveReader
from ..archive.filewriter import ArchiveWriter
from ..archive.layout import FrameInfo, TimeRecord
from ..archive.lossywriter import LossySummary, encode_lossy
from ..archive.reader import Archive
from ..errors import SrcodecError

__all__ = ["transcode"]


def transcode(
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    quality: float | None = None,
    bpp: float | None = None,
    force: bool = False,
    progress: bool = False,
    **archive_options,
) -> LossySummary:
    """Restore every frame of ``source`` (as ``decode`` does; ``archive_options`` are
    ``Archive``'s) and write them to the lossy archive ``output`` at ``quality`` or ``bpp``
    (``encode_lossy``). Frame names, the header's ``fps`` and ``recording`` metadata and
    every frame's recorded times and gaps are kept; ``extra.transcoded_from`` records the
    source archive's model, codec, scale, creation time and writer (its provenance)."""
    from ..archive.timeline import segment_times

    with ArchiveReader(source) as reader:
        header = reader.header
        times = segment_times(reader)
    kept = {k: v for k, v in header.extra.items() if k in ("fps", "recording", "timestamps")}
    provenance = {
        "model_id": header.model_id,
        "codec": header.codec,
        "scale": header.scale,
        "created": header.created,
        "srcodec_version": header.srcodec_version,
        "lossy": header.extra.get("lossy"),
        "transcoded_from": header.extra.get("transcoded_from"),
    }
    extra = {**kept, "transcoded_from": {k: v for k, v in provenance.items() if v is not None}}
    position = {name: k for k, name in enumerate(times.names)}
    gaps = [(g.start, g.end, g.reason) for g in times.gaps]
    timed = times.timed

    def before_group(writer: ArchiveWriter, frames: list[FrameInfo]) -> None:
        """The times of the run about to be written (and, before the first, every gap)."""
        nonlocal gaps
        if not timed:
            return
        at = [position[f.name] for f in frames]
        received = [times.received[k] for k in at]
        if any(t is None for t in received):
            return  # frames the source did not time stay untimed
        if len({times.time_bases[k] for k in at}) > 1:
            raise SrcodecError(f"{source}: one group of frames would mix stream time bases")
        raw = [times.raw_pts[k] for k in at]
        writer.add_times(TimeRecord(frames[0].name, received, raw, times.time_bases[at[0]], gaps))
        gaps = []

    def frames() -> Iterator[tuple[str, np.ndarray]]:
        with Archive(source, **archive_options) as archive:
            yield from archive.frames()

    return encode_lossy(
        frames(),
        output,
        quality=quality,
        bpp=bpp,
        force=force,
        progress=progress,
        extra=extra,
        before_group=before_group,
    )
