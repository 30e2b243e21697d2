"""Lossy archives (``srcodec encode --quality Q`` / ``--bpp B``): frames coded by a lossy stream
codec (AV1 by default, or x265) at scale 1 (full resolution, then an x1 restoration model
trained on coding artefacts) or scale 2 (half resolution, then an x2 model), or by the base
codec alone (the ``srcodec.identity`` model: never worse than the codec srcodec wraps). With
``adapt``, the chosen model is tuned on the archive's frames as decoded (srcodec.training.adapt) and
the update stored in the archive, when it pays for its bytes.

The candidate is chosen by rate-distortion measured on the frames themselves, as AV1's superres
mode decides: the first group's first frames (``SAMPLE_FRAMES``) are coded by every candidate
at equal bytes (``--quality`` fixes the base codec's CRF and so the rate; ``--bpp`` searches
each candidate's CRF for the rate), decoded and restored, and the best PSNR wins. Frames are
written as GRUP chunks (one stream per run of up to ``group`` frames of one size and mode). The
choice itself: srcodec.archive.candidates.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from .._version import __version__
from ..atomic import exists_error
from ..engines.identity import IDENTITY_MODEL
from ..errors import FrameError
from ..inputs import FrameSource, frame_items
from ..lowres import LowresCodec, StreamCodec
from ..lowres.lossy import runs
from ..models.store import get_model
from ..names import check_names
from ..pixels import mode_of
from ..resample import downscale, lowres_size
from .candidates import (
    CROPS,
    LOSSY_CODEC,
    MEASURED_FRAMES,
    MEASURED_PIXELS,
    SAMPLE_FRAMES,
    X1_MODEL,
    X1_MODELS,
    Candidate,
    Sample,
    Trial,
    choose,
    default_candidates,
    lossy_class,
    lossy_codec,
    pick_lossy,
    pooled_psnr,
    quality_setting,
    rate_note,
    usable_candidates,
    with_models,
)
from .filewriter import ArchiveWriter
from .layout import FrameInfo, FrameRecord, GroupRecord, Header, grouped_version

if TYPE_CHECKING:
    from ..training.adaptconfig import AdaptConfig, AdaptResult

# The candidate choice lives in srcodec.archive.candidates; its names are re-exported here,
# where they were first defined.
__all__ = [
    "CROPS",
    "DEFAULT_GROUP",
    "LIVE_GROUP",
    "MEASURED_FRAMES",
    "MEASURED_PIXELS",
    "SAMPLE_FRAMES",
    "lossy_codec",
    "X1_MODELS",
    "default_candidates",
    "LOSSY_CODEC",
    "X1_MODEL",
    "Candidate",
    "LossySummary",
    "Trial",
    "Sample",
    "choose",
    "rate_note",
    "lossy_class",
    "with_models",
    "pooled_psnr",
    "quality_setting",
    "encode_lossy",
    "lossy_extra",
    "pick_lossy",
    "usable_candidates",
]

#: Frames per GRUP stream, whose first frame is its only key frame. On a fixed camera key
#: frames are the dominant cost at archive rates: on validation vtest frames (SVT-AV1 alone,
#: benchmarks/results/lossy_keyint.json) streams of 300 frames need 31 % fewer bytes than
#: streams of 60 (600: 34 %). A frame is reached by decoding its stream from the key frame
#: forward, no further (under 0.3 s for the 300th frame of 768x576 on 2 busy cores); a
#: group's frames are held in memory while it is coded (300 x width x height x 3 bytes).
DEFAULT_GROUP = 300
#: A live recorder's lossy group (``srcodec record``): a kill loses at most the group in
#: flight and a frame reaches the disk within a group, so it keeps 60 (6 s at 10 frames/s).
LIVE_GROUP = 60


@dataclass
class LossySummary:
    """What ``encode_lossy`` did: the archive, its frames and bytes, the candidate chosen and
    the trials that chose it."""

    path: Path
    frames: int
    archive_bytes: int
    model_id: str
    chosen: Trial
    trials: list[Trial] = field(default_factory=list)
    pixels: int = 0
    #: What ``adapt`` gave (None without it); ``update_bytes`` counted in ``archive_bytes``.
    adapted: AdaptResult | None = None
    update_bytes: int = 0
    #: Why the ``bpp`` asked for was not met, if it was not (also warned: ``SrcodecWarning``).
    rate_note: str = ""

    @property
    def bpp(self) -> float:
        """Bits per full-resolution pixel of the whole archive file (every byte counted)."""
        return 8 * self.archive_bytes / max(1, self.pixels)


def lossy_extra(
    quality: float | None,
    bpp: float | None,
    candidate: str | None,
    plate: tuple[float, float] | None,
) -> dict:
    """The header's ``extra.lossy`` (docs/format.md 9.9): what was asked and chosen, and the
    scene-plate strengths chosen (``Trial.plate``) when the candidate's model carries a plate:
    one number when luma and chroma share it, else [luma, chroma]."""
    out: dict = {"quality": quality, "bpp": bpp, "candidate": candidate}
    if plate is not None:
        out["plate"] = plate[0] if plate[0] == plate[1] else list(plate)
    return out


def encode_lossy(
    frames: FrameSource,
    output: str | os.PathLike,
    *,
    quality: float | None = None,
    bpp: float | None = None,
    candidates: Sequence[Candidate] | None = None,
    weights: Iterable = (),
    model: str | None = None,
    codec: str = LOSSY_CODEC,
    group: int = DEFAULT_GROUP,
    start: int | float | str | None = None,
    end: int | float | str | None = None,
    every: int = 1,
    force: bool = False,
    progress: bool = False,
    adapt: AdaptConfig | None = None,
    extra: dict | None = None,
    before_group: Callable[[ArchiveWriter, list[FrameInfo]], None] | None = None,
) -> LossySummary:
    """Write ``frames`` (a folder, image files, arrays / (name, array) pairs, or a video file
    with ``start``/``end``/``every`` selecting its frames, as ``encode`` takes them) to a lossy
    archive ``output`` at ``quality`` (0..100) or ``bpp`` bits per pixel, with the candidate
    (of ``candidates``, default ``default_candidates(codec)``) that restores the first group's
    first frames best at equal bytes; candidates whose model is not installed are left out.
    ``model`` (id or name, found among the installed models and ``weights``), else each
    ``weights`` file, joins them as the candidate of its kind (``with_models``: a camera
    profile). A video's frame rate and timestamps are kept in the header. ``adapt``: tune the
    chosen candidate's model on the frames as decoded (srcodec.training.adapt, needs torch) and
    store the update when it pays for its bytes (``summary.adapted`` says what happened).
    ``extra``: more header ``extra`` keys; ``before_group(writer, frames)`` runs before each run
    of frames is written (``transcode`` writes their times there)."""
    if adapt is not None and not force and (Path(output).exists() or Path(output).is_symlink()):
        raise exists_error(Path(output))  # refused before minutes of tuning, not after
    weights = list(weights)
    usable = usable_candidates(candidates, codec, weights, model=model)
    items, timing = frame_items(frames, start, end, every)
    check_names([name for name, _, _ in items])
    loaded = ((name, load()) for name, _, load in items)
    batches = runs(loaded, lambda item: item[1].shape, group)
    first = next(batches, None)
    if first is None:
        raise FrameError("no frames to encode")
    best, trials, model_id, lossy = pick_lossy(
        [f for _, f in first[:SAMPLE_FRAMES]], usable, quality=quality, bpp=bpp, codec=codec
    )
    note = rate_note(best, bpp, codec)
    header = Header(
        model_id=model_id,
        scale=best.scale,
        codec=lossy.get_config(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        srcodec_version=__version__,
        # What was asked and chosen (the trials are reported, not stored: every header byte
        # counts against the rate).
        extra={
            **timing,
            **(extra or {}),
            "lossy": lossy_extra(quality, bpp, best.candidate, best.plate),
        },
    )
    summary = LossySummary(Path(output), 0, 0, model_id, best, trials, rate_note=note)
    streams = isinstance(lossy, StreamCodec)  # else one FRAM payload per frame (AVIF)

    def coded(batch: list[tuple[str, np.ndarray]]) -> tuple[list[FrameInfo], list[bytes]]:
        """A run of frames coded: one stream payload, or one payload per frame."""
        lows = [downscale(f, best.scale) for _, f in batch]
        infos = [FrameInfo(n, f.shape[1], f.shape[0], mode_of(f)) for n, f in batch]
        summary.frames += len(batch)
        summary.pixels += sum(f.shape[0] * f.shape[1] for _, f in batch)
        return infos, [lossy.encode_group(lows)] if streams else [lossy.encode(x) for x in lows]

    bar = tqdm(disable=not progress, unit="frame", desc="encode")
    records: Iterable[tuple[list[FrameInfo], list[bytes]]]
    update = b""
    if adapt is None:
        records = (coded(batch) for batch in chain([first], batches))
    else:
        # The update goes right after the header: code every frame first (the payloads are
        # held in memory), then tune on a sample of the frames as the decoder will see them.
        records, update = _adapt_lossy(
            chain([first], batches), len(items), coded, lossy, best, weights, adapt, summary,
            bar, progress,
        )  # fmt: skip
        if update:
            header.model_id = summary.model_id
            header.extra["adaptation"] = summary.adapted.summary()  # type: ignore[union-attr]
    version = grouped_version(lossy.compact) if isinstance(lossy, StreamCodec) else None
    with ArchiveWriter(output, header, force=force, groups=streams, version=version) as writer:
        if update:
            writer.add_update(update)
        for infos, payloads in records:
            if before_group is not None:
                before_group(writer, infos)
            if streams:
                writer.add_group(GroupRecord(infos, payloads[0]))
            else:
                for i, data in zip(infos, payloads, strict=True):
                    writer.add(FrameRecord(i.name, i.width, i.height, i.mode, data))
            bar.update(len(infos))
        bar.close()
    summary.archive_bytes = Path(output).stat().st_size
    return summary


def _adapt_lossy(
    batches: Iterable[list[tuple[str, np.ndarray]]],
    count: int,
    coded: Callable[[list[tuple[str, np.ndarray]]], tuple[list[FrameInfo], list[bytes]]],
    lossy: LowresCodec,
    best: Trial,
    weights: list,
    cfg: AdaptConfig,
    summary: LossySummary,
    bar: tqdm,
    progress: bool,
) -> tuple[list[tuple[list[FrameInfo], list[bytes]]], bytes]:
    """Code every run (the records), keep a sample of the frames (``adapt.sample``) and decode
    their runs back, then tune the chosen model on those (frame, decoded) pairs. Returns the
    records and the update's bytes (empty when the general model is kept)."""
    from ..models.update import compose_id
    from ..training.adapt import adapt_archive, not_tuned, sample

    keep = set(sample(count, cfg.max_frames))
    records, frames, decoded, position = [], [], [], 0
    for batch in batches:
        infos, payloads = coded(batch)
        records.append((infos, payloads))
        picks = [k for k in range(len(batch)) if position + k in keep]
        if picks and best.model != IDENTITY_MODEL:
            w, h = lowres_size(infos[0].width, infos[0].height, best.scale)
            channels = 1 if batch[0][1].ndim == 2 else 3
            if isinstance(lossy, StreamCodec):
                out = lossy.decode_group(payloads[0], w, h, channels, len(batch))
            else:
                out = [lossy.decode(payloads[k], w, h, channels) if k in picks else None
                       for k in range(len(batch))]  # fmt: skip
            frames += [batch[k] for k in picks]
            decoded += [out[k] for k in picks]
        position += len(batch)
    if best.model == IDENTITY_MODEL:
        summary.adapted = not_tuned("the base codec alone (the identity model) has nothing to tune")
        return records, b""
    info = get_model(best.model, weights)
    if info.config.sees_plate:
        summary.adapted = not_tuned(
            f"{info.short_id} sees its camera's scene plate: it is tuned to the camera already "
            "and is not adapted per archive"
        )
        return records, b""
    frame_bytes = sum(len(p) for _, payloads in records for p in payloads)
    bar.clear()
    result = adapt_archive(
        info, frames, cfg, archive_bytes=lambda: frame_bytes, progress=progress, lows=decoded
    )
    summary.adapted = result
    if result.update is None:
        return records, b""
    summary.model_id = compose_id(info.id, result.sha256)
    summary.update_bytes = result.update_bytes
    return records, result.data
