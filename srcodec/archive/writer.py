"""Writing archives: ``encode`` frames (images, arrays or a video) into a new .src archive
(downscale x2, store the low-resolution frames losslessly, one by one or in groups coded as one
stream) and ``append`` frames to an existing one, copy-on-write.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from .._version import __version__
from ..atomic import exists_error
from ..errors import CorruptError, FrameError, SrcodecError
from ..inputs import FrameSource, Item, frame_items
from ..lowres import LowresCodec, StreamCodec, canonical_id, get_codec
from ..models.store import ModelInfo, pick_model, short_id
from ..models.update import base_id, compose_id
from ..names import check_names
from ..pixels import mode_of
from ..resample import downscale
from .autocodec import PER_FRAME_CODEC, PROBE_FRAMES, choose_codec
from .filereader import ArchiveReader
from .filewriter import ArchiveWriter
from .layout import (
    GROUPS_VERSION,
    MAX_GROUP_FRAMES,
    PAYLOAD_VERSION,
    PLAIN_VERSION,
    FrameInfo,
    FrameRecord,
    GroupRecord,
    Header,
    grouped_version,
)

if TYPE_CHECKING:
    from ..training.adaptconfig import AdaptConfig, AdaptResult
    from .lossywriter import LossySummary

__all__ = ["DEFAULT_CODEC", "DEFAULT_GROUP", "EncodeSummary", "FrameSource", "append", "encode"]

#: The per-frame codec: what ``encode(codec=None)`` picks for unrelated stills (lossless JPEG XL,
#: the smallest on the sample frames; docs/benchmarks.md, section 1). Footage and sequences get
#: a stream codec instead (srcodec.archive.autocodec); ``codec=None`` means "choose", never this
#: alone.
DEFAULT_CODEC = PER_FRAME_CODEC
#: Frames per group of a stream codec. On the held-out vtest clip (159 frames) groups of 32 /
#: 48 / 64 gave 0.981 / 0.972 / 0.951 bpp at the same encode speed; 64 (6.4 s of 10 fps
#: footage) is 2.36x smaller than per-frame JPEG XL and one group decodes in about 0.35 s.
DEFAULT_GROUP = 64


@dataclass
class EncodeSummary:
    """What ``encode`` or ``append`` did: frames written, their input bytes, the archive's size
    (``archive_bytes``) and how much this call added to it (``added_bytes``: the whole archive
    for ``encode``), frames skipped (with why)."""

    path: Path
    frames: int
    input_bytes: int
    archive_bytes: int
    model_id: str
    skipped: list[tuple[str, str]] = field(default_factory=list)
    added_bytes: int = 0
    #: The model update written (bytes counted in ``archive_bytes``), 0 if none; ``adapted``:
    #: what ``encode(adapt=...)`` found, whether it kept the update or not.
    update_bytes: int = 0
    adapted: AdaptResult | None = None

    @property
    def ratio(self) -> float:
        """Input bytes over the bytes this call added: the new frames' compression ratio."""
        return self.input_bytes / self.added_bytes if self.added_bytes else 0.0


def encode(
    frames: FrameSource,
    output: str | os.PathLike,
    *,
    model: str | None = None,
    weights: Iterable = (),
    codec: str | dict | LowresCodec | None = None,
    group: int | None = None,
    start: int | float | str | None = None,
    end: int | float | str | None = None,
    every: int = 1,
    force: bool = False,
    skip_bad: bool = False,
    progress: bool = False,
    adapt: AdaptConfig | None = None,
    quality: float | None = None,
    bpp: float | None = None,
) -> EncodeSummary | LossySummary:
    """Downscale every frame x2 and store it losslessly in the archive ``output``; or, with
    ``quality`` (0..100) or ``bpp`` (bits per pixel), write a lossy archive
    (``srcodec.encode_lossy``: ``codec`` a lossy codec id, default AV1; ``group`` default 60).

    ``frames``: a folder (natural order), a list of image files, arrays / (name, array)
    pairs, or a video file (any FFmpeg reads; ``start``/``end`` as frame numbers or times and
    ``every`` select its frames, named ``frame_000123`` by source number; its frame rate and
    timestamps are kept in the header). ``model`` (id or name; default the bundled model, or
    the single ``weights`` file) is the model recorded in the header for decoding. ``codec``:
    an id or alias, a config dict or a ``LowresCodec``; the header records its canonical config.
    None chooses (srcodec.archive.autocodec): a stream codec (x264) for a video or frames that look
    like a sequence, ``DEFAULT_CODEC`` (jxl) per frame for unrelated stills. A stream codec
    codes runs of up to ``group`` frames (default ``DEFAULT_GROUP``) of one size and mode as one
    stream each; a ``group`` with a codec that codes each frame alone is refused. ``adapt``
    tunes the model on the frames first (adapt.py, needs torch) and stores the update in the
    archive when it pays for its bytes; the header's model id then names base and update.

    Returns an ``EncodeSummary`` (a ``LossySummary`` for a lossy archive). Raises
    ``FrameError`` for a bad frame or name (leaving nothing behind, unless ``skip_bad``, which
    skips and reports the frame), ``ModelError`` if the model is not found, ``FormatError``
    for an unknown codec, and ``SrcodecError`` if ``output`` exists without ``force``.
    """
    if quality is not None or bpp is not None:
        from .lossywriter import LOSSY_CODEC, encode_lossy

        if skip_bad or not isinstance(codec, (str, type(None))):
            raise SrcodecError(
                "a lossy archive (quality/bpp) takes a codec id: skip_bad and codec configs "
                "do not go with it"
            )
        extra = {} if group is None else {"group": group}
        return encode_lossy(
            frames, output, quality=quality, bpp=bpp, weights=weights, model=model,
            codec=codec or LOSSY_CODEC, start=start, end=end, every=every, force=force,
            progress=progress, adapt=adapt, **extra,
        )  # fmt: skip
    info = pick_model(model, weights)
    if group is not None:
        _check_group(group)
    items, timing = frame_items(frames, start, end, every)
    if not items:
        raise FrameError("no frames to encode")
    check_names([name for name, _, _ in items])
    if codec is None:
        items, codec = _choose(items, video=bool(timing), skip_bad=skip_bad, scale=info.scale)
    lowres = codec if isinstance(codec, LowresCodec) else get_codec(codec)
    group = _group_size(group, lowres)
    header = Header(
        model_id=info.id,
        scale=info.scale,
        codec=lowres.get_config(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        srcodec_version=__version__,
        extra=timing,
    )
    if not force and (Path(output).exists() or Path(output).is_symlink()):
        raise exists_error(Path(output))  # refused before minutes of tuning, not after
    result = _adapt(info, items, lowres, adapt, progress, group) if adapt is not None else None
    if result is not None and result.update is not None:
        header.model_id = compose_id(info.id, result.sha256)
        header.extra["adaptation"] = result.summary()
    summary = EncodeSummary(Path(output), 0, 0, 0, header.model_id, adapted=result)
    stream = isinstance(lowres, StreamCodec)
    version = grouped_version(lowres.compact) if isinstance(lowres, StreamCodec) else None
    with ArchiveWriter(output, header, force=force, groups=stream, version=version) as writer:
        if result is not None and result.update is not None:
            writer.add_update(result.data)
            summary.update_bytes = result.update_bytes
        _write_frames(writer, items, lowres, header.scale, summary, skip_bad, progress, group)
        if summary.frames == 0:
            raise FrameError(f"no readable frames to write to {output}")
    summary.archive_bytes = summary.added_bytes = Path(output).stat().st_size
    return summary


def _adapt(
    info: ModelInfo,
    items: list[tuple[str, int, Callable[[], np.ndarray]]],
    lowres: LowresCodec,
    cfg: AdaptConfig,
    progress: bool,
    group: int = DEFAULT_GROUP,
) -> AdaptResult:
    """Tune the model on (a sample of) the frames; the archive's size is estimated (for the
    check that the update pays for its bytes) from a few frames' payloads, or, with a stream
    codec, from one group of consecutive frames."""
    from ..training.adapt import adapt_archive, sample

    frames = []
    for i in sample(len(items), cfg.max_frames):
        name, _, load = items[i]
        try:
            frames.append((name, load()))
        except FrameError:
            continue  # the write reports it (or fails) as it would without adaptation
    if not frames:
        raise FrameError("no readable frames to adapt the model to")

    def archive_bytes() -> int:
        if isinstance(lowres, StreamCodec):
            return _group_estimate(items, lowres, info.scale, group)
        few = [frame for _, frame in frames[:: max(1, len(frames) // 4)][:4]]
        per_frame = np.mean([len(lowres.encode(downscale(f, info.scale))) for f in few])
        return int(per_frame * len(items))

    return adapt_archive(info, frames, cfg, archive_bytes=archive_bytes, progress=progress)


def _group_estimate(items: list[Item], stream: StreamCodec, scale: int, group: int) -> int:
    """The frames' bytes in groups of ``group``, from the middle run of that many consecutive
    frames coded as one group: coding single frames would count every frame as a key frame,
    several times the bytes of a grouped archive of footage."""
    first = max(0, (len(items) - group) // 2)
    lows: list[np.ndarray] = []
    for _, _, load in items[first : first + group]:
        try:
            low = downscale(load(), scale)
        except FrameError:
            continue
        if not lows or low.shape == lows[0].shape:
            lows.append(low)
    if not lows:
        return 0
    return int(len(stream.encode_group(lows)) * len(items) / len(lows))


def _group_size(group: int | None, lowres: LowresCodec) -> int:
    """Frames per group: ``group``, or ``DEFAULT_GROUP`` when None. A group asked of a codec
    that codes each frame alone is refused: it would do nothing."""
    if group is None:
        return DEFAULT_GROUP
    _check_group(group)
    if not isinstance(lowres, StreamCodec):
        raise SrcodecError(
            f"group {group}: codec {lowres.codec_id} codes each frame alone; a group size goes "
            "with a stream codec (x264, x265, ffv1)"
        )
    return group


def _check_group(group: int) -> None:
    if isinstance(group, bool) or not isinstance(group, int) or not 1 <= group <= MAX_GROUP_FRAMES:
        raise SrcodecError(f"group must be an integer 1..{MAX_GROUP_FRAMES}, got {group!r}")


def _choose(items: list[Item], video: bool, skip_bad: bool, scale: int) -> tuple[list[Item], str]:
    """The codec for ``items`` (srcodec.archive.autocodec), and the items with the frames it
    looked at kept in memory, so that nothing is read twice."""
    if video:
        return items, choose_codec([], video=True)
    probed: list[np.ndarray] = []
    kept = list(items)
    for k, (name, size, load) in enumerate(items[:PROBE_FRAMES]):
        try:
            frame = load()
        except FrameError:
            if not skip_bad:
                raise
            continue  # reported when it is read again for encoding
        probed.append(frame)
        kept[k] = (name, size, lambda f=frame: f)
    return kept, choose_codec(probed, scale=scale)


def _write_frames(
    writer: ArchiveWriter,
    items: list[Item],
    lowres: LowresCodec,
    scale: int,
    summary: EncodeSummary,
    skip_bad: bool,
    progress: bool,
    group: int = DEFAULT_GROUP,
) -> None:
    """Downscale and write each frame: a ``FRAM`` each, or, for a stream codec, a ``GRUP`` for
    each run of up to ``group`` consecutive frames of one low-resolution size and mode."""
    stream = lowres if isinstance(lowres, StreamCodec) else None
    pending: list[tuple[FrameInfo, np.ndarray]] = []

    def flush() -> None:
        if pending and stream is not None:
            payload = stream.encode_group([low for _, low in pending])
            writer.add_group(GroupRecord([info for info, _ in pending], payload))
        pending.clear()

    for name, size, load in tqdm(items, disable=not progress, unit="frame", desc="encode"):
        try:
            frame = load()
        except FrameError as exc:
            if not skip_bad:
                raise
            summary.skipped.append((name, str(exc)))
            continue
        height, width = frame.shape[:2]
        low = downscale(frame, scale)
        if stream is None:
            writer.add(FrameRecord(name, width, height, mode_of(frame), lowres.encode(low)))
        else:
            if pending and (low.shape != pending[0][1].shape or len(pending) >= group):
                flush()
            pending.append((FrameInfo(name, width, height, mode_of(frame)), low))
        summary.frames += 1
        summary.input_bytes += size
    flush()


def append(
    frames: FrameSource,
    archive: str | os.PathLike,
    *,
    model: str | None = None,
    weights: Iterable = (),
    codec: str | dict | LowresCodec | None = None,
    group: int | None = None,
    start: int | float | str | None = None,
    end: int | float | str | None = None,
    every: int = 1,
    skip_bad: bool = False,
    progress: bool = False,
) -> EncodeSummary:
    """Add frames to the existing archive ``archive``, encoded with its codec for its model.

    Copy-on-write: a new archive holding the existing chunks copied verbatim (the header
    included, as recorded) and then the new frames replaces the old one only once complete,
    so a crash at any point leaves the old archive untouched. ``model``/``weights``/``codec``,
    if given, must match the archive's (for a codec, every parameter given; an alias matches
    its canonical id). ``frames``, ``start``, ``end`` and ``every`` are as for ``encode``; with
    a stream codec the new frames start a new group (of up to ``group`` frames), the existing
    groups being copied as they are. The header is kept: appended frames have no timestamps.

    Returns an ``EncodeSummary``. Raises ``CorruptError`` for a damaged archive (recover it
    first), ``SrcodecError`` for a model or codec that is not the archive's or an archive
    changed meanwhile, and ``FrameError`` as ``encode`` does.
    """
    path = Path(archive)
    with ArchiveReader(path) as reader:
        header = reader.header
        if reader.index_recovered:
            raise CorruptError(
                f"{path} is damaged ({reader.damage}); run 'srcodec recover' on it first"
            )
        before = os.stat(path)
        if model is not None or list(weights):
            info = pick_model(model, weights)
            if info.id != base_id(header.model_id):
                raise SrcodecError(
                    f"{path} is for model {short_id(header.model_id)}; "
                    f"cannot append frames for {info.short_id}"
                )
        lowres = get_codec(header.codec)
        if codec is not None and not _codec_matches(codec, lowres):
            asked = codec.get_config() if isinstance(codec, LowresCodec) else codec
            raise SrcodecError(
                f"{path} uses codec {header.codec}; cannot append frames with codec {asked}"
            )
        group = _group_size(group, lowres)
        items, _ = frame_items(frames, start, end, every)
        if not items:
            raise FrameError("no frames to append")
        check_names([name for name, _, _ in items], set(reader.names), path)

        def unchanged() -> None:
            now = os.stat(path)
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (
                before.st_ino,
                before.st_size,
                before.st_mtime_ns,
            ):
                raise SrcodecError(f"{path} changed during the append; nothing was appended")
            os.chmod(writer.temp_path, stat.S_IMODE(before.st_mode))

        summary = EncodeSummary(path, 0, 0, 0, header.model_id)
        # The archive's own version if it has groups (a version-2 or -3 archive stays readable
        # by the srcodec that wrote it: its new lossy groups are not compact), else the version
        # its new groups need.
        version = _append_version(reader.format_version, lowres)
        if isinstance(lowres, StreamCodec) and version < PAYLOAD_VERSION:
            lowres.compact = False
        writer = ArchiveWriter(
            path,
            header,
            force=True,
            raw_header=reader.raw_header,
            before_replace=unchanged,
            version=version,
        )
        with writer:
            writer.copy_from(reader)
            _write_frames(writer, items, lowres, header.scale, summary, skip_bad, progress, group)
            if summary.frames == 0:
                raise FrameError(f"no readable frames to append to {path}")
    summary.archive_bytes = path.stat().st_size
    summary.added_bytes = summary.archive_bytes - before.st_size
    return summary


def _append_version(version: int, lowres: LowresCodec) -> int:
    """The format version an append writes: the archive's if it may hold groups, else
    the version of new grouped archives if the new frames come in groups (a stream codec),
    else version 1 (unchanged)."""
    if version >= GROUPS_VERSION:
        return version
    if isinstance(lowres, StreamCodec):
        return grouped_version(lowres.compact)
    return PLAIN_VERSION


def _codec_matches(asked: str | dict | LowresCodec, lowres: LowresCodec) -> bool:
    """Whether the codec asked for is the archive's: every parameter given must be equal
    (ids compared canonically, so ``png`` matches ``srcodec.png``)."""
    if isinstance(asked, LowresCodec):
        return asked == lowres
    given = {"id": asked} if isinstance(asked, str) else dict(asked)
    if isinstance(given.get("id"), str):
        given["id"] = canonical_id(given["id"])
    config = lowres.get_config()
    return all(config.get(k) == v for k, v in given.items())
