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
written as GRUP chunks (one stream per run of up to ``group`` frames of one size and mode).
"""

from __future__ import annotations

import os
import warnings
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
from ..engines.identity import IDENTITY_MODEL, IdentityRestorer
from ..engines.tiling import TiledRestorer
from ..errors import FrameError, ModelError, SrcodecError, SrcodecWarning
from ..inputs import FrameSource, frame_items
from ..lowres import LowresCodec, StreamCodec, codec_class, get_codec, is_lossy
from ..lowres.lossy import code_frames, runs, setting_for_quality
from ..metrics import psnr
from ..models.store import DEFAULT_MODEL, ModelInfo, get_model, inspect_weights, split_id
from ..names import check_names
from ..pixels import mode_of
from ..resample import downscale, lowres_size
from .filewriter import ArchiveWriter
from .layout import FrameInfo, FrameRecord, GroupRecord, Header

if TYPE_CHECKING:
    from ..training.adaptconfig import AdaptConfig, AdaptResult

__all__ = [
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
    "pick_lossy",
    "usable_candidates",
]

#: The lossy codec of ``--quality``/``--bpp`` archives: AV1 (SVT-AV1) needs about 25 % fewer
#: bytes than x265 medium for the same PSNR on the held-out vtest clip and encodes as fast;
#: with its x1 model, 37 % fewer (docs/lossy.md).
LOSSY_CODEC = "srcodec.av1"
#: The bundled x1 model trained on x265's artefacts (scripts/train_lossy.sh; its first stage,
#: srcodec-hevc-x1, stays bundled so that archives naming it decode).
X1_MODEL = "srcodec-hevc-x1-v2"
#: The x1 model of each lossy codec: trained on that codec's artefacts (srcodec-av1-x1: the
#: x265 one fine-tuned on SVT-AV1's, scripts/train_lossy.sh); other codecs get ``X1_MODEL``.
X1_MODELS = {"srcodec.hevc": X1_MODEL, "srcodec.av1": "srcodec-av1-x1"}
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
#: Frames of the first group every candidate codes (the sample): its first ``SAMPLE_FRAMES``.
SAMPLE_FRAMES = 60
#: Full-resolution pixels of the sample restored and measured by each candidate (frames spread
#: over the sample, at least ``MEASURED_FRAMES``): three 768x576 frames, more of smaller ones
#: (an x2 network on a CPU is slow; few frames of a small clip decide by noise).
MEASURED_PIXELS = 3 * 768 * 576
MEASURED_FRAMES = 3
#: A trial within this factor of the target rate meets it (the rate of a setting is measured
#: once; float noise must not exclude the setting the search settled on).
RATE_TOLERANCE = 1.0001


@dataclass(frozen=True)
class Candidate:
    """A way to code frames: its ``scale`` and the restoration ``model`` (id or name)."""

    name: str
    scale: int
    model: str
    #: Asked for by the user (``--weights``/``--model``): an error when it cannot be loaded,
    #: where a bundled candidate that is not installed is left out.
    given: bool = False


def default_candidates(codec: str = LOSSY_CODEC) -> tuple[Candidate, ...]:
    """The candidates for ``codec``: the base codec alone, full resolution + the codec's x1
    model (``X1_MODELS``), half resolution + the bundled x2 model."""
    x1 = X1_MODELS.get(lossy_class(codec).codec_id, X1_MODEL)
    return (
        Candidate("base", 1, IDENTITY_MODEL),
        Candidate("x1", 1, x1),
        Candidate("x2", 2, DEFAULT_MODEL),
    )


@dataclass
class Trial:
    """One candidate coded at one setting of the codec's quality parameter (x265: its CRF) on
    the sample: its bytes and restored PSNR (RGB)."""

    candidate: str
    scale: int
    model: str
    setting: int
    bytes: int
    pixels: int
    psnr: float

    @property
    def bpp(self) -> float:
        """Bits per pixel of the full-resolution frames."""
        return 8 * self.bytes / self.pixels


def with_models(candidates: Sequence[Candidate], models: Sequence[ModelInfo]) -> list[Candidate]:
    """``candidates`` with each of ``models`` (a camera profile, say) as the candidate of its
    kind (scale), named ``x1-profile``/``x2-profile``, after the bundled one it competes with
    (kept, so that a model that does not help on these frames loses to it: the candidate
    check). ``ModelError`` for a model of no candidate's scale or two of one scale."""
    out = list(candidates)
    seen: set[int] = set()
    for info in models:
        kind = next((c for c in candidates if c.scale == info.scale and c.name != "base"), None)
        if kind is None:
            names = ", ".join(c.name for c in candidates)
            raise ModelError(
                f"{info.short_id} restores x{info.scale}: no candidate of that kind among "
                f"{names} (lossy archives use x1 or x2 models)"
            )
        if info.scale in seen:
            raise ModelError(f"two x{info.scale} models given: give one per kind")
        seen.add(info.scale)
        given = Candidate(f"{kind.name}-profile", info.scale, info.id, given=True)
        if split_id(kind.model)[0] == info.name and resolves_to(kind.model, info):
            out[out.index(kind)] = Candidate(kind.name, kind.scale, info.id, given=True)
        else:
            out.insert(out.index(kind) + 1, given)
    return out


def resolves_to(model: str, info: ModelInfo) -> bool:
    """Whether the installed model ``model`` (id or name) is ``info`` (same file contents)."""
    try:
        return get_model(model).sha256 == info.sha256
    except ModelError:
        return False


def lossy_class(codec: str) -> type[LowresCodec]:
    """The lossy codec class ``codec`` names; ``SrcodecError`` for a lossless one."""
    cls = codec_class(codec)
    if not is_lossy(cls):
        raise SrcodecError(f"{cls.codec_id} is lossless: --quality/--bpp need a lossy codec")
    return cls


def quality_setting(codec: str, quality: float) -> int:
    """``--quality`` 0..100 (higher is better) as ``codec``'s parameter (AV1: CRF 63..1, x265:
    CRF 51..0)."""
    if not 0 <= quality <= 100:
        raise SrcodecError(f"quality must be in 0..100, got {quality}")
    return setting_for_quality(lossy_class(codec), quality)


def lossy_codec(codec: str, setting: int) -> LowresCodec:
    """``codec`` (a lossy codec id) at ``setting`` of its quality parameter."""
    cls = lossy_class(codec)
    return get_codec({"id": cls.codec_id, cls.quality_param: setting})  # type: ignore[attr-defined]


def _restorer(
    candidate: Candidate, weights: Iterable, tile: int | None = None
) -> tuple[TiledRestorer, str]:
    """The candidate's restorer (restoring in tiles of ``tile`` pixels, if given) and the
    model id an archive records for it."""
    if candidate.model == IDENTITY_MODEL:
        return IdentityRestorer(), IDENTITY_MODEL
    from ..engines.choose import make_restorer

    info: ModelInfo = get_model(candidate.model, list(weights))
    if info.scale != candidate.scale:
        raise ModelError(f"candidate {candidate.name}: {info.short_id} is x{info.scale}")
    return make_restorer(info, tile=tile), info.id


class Sample:
    """The frames a choice is made on (one size and mode), coded at each (scale, setting) asked
    for once: the rate search only encodes, and only the setting it settles on is restored."""

    def __init__(
        self,
        frames: Sequence[np.ndarray],
        codec: str = LOSSY_CODEC,
        measured: int | None = None,
    ) -> None:
        self.frames, self.codec = list(frames), codec
        self.settings = lossy_class(codec).settings  # type: ignore[attr-defined]
        self.pixels = sum(f.shape[0] * f.shape[1] for f in self.frames)
        if measured is None:
            area = self.frames[0].shape[0] * self.frames[0].shape[1]
            measured = max(MEASURED_FRAMES, MEASURED_PIXELS // area)
        count = min(measured, len(self.frames))
        self.picks = sorted({round(k) for k in np.linspace(0, len(self.frames) - 1, count)})
        self._coded: dict[tuple[int, int], tuple[int, dict[int, np.ndarray]]] = {}

    def coded(self, scale: int, setting: int) -> tuple[int, dict[int, np.ndarray]]:
        """The bytes at ``scale`` and ``setting``, and the decoded frames that are measured
        (``picks``, by position): only those are kept, as a rate search codes many settings."""
        if (scale, setting) not in self._coded:
            lows = [downscale(f, scale) for f in self.frames]
            nbytes, decoded = code_frames(lossy_codec(self.codec, setting), lows)
            self._coded[scale, setting] = (nbytes, {k: decoded[k] for k in self.picks})
        return self._coded[scale, setting]

    def bpp(self, scale: int, setting: int) -> float:
        return 8 * self.coded(scale, setting)[0] / self.pixels

    def setting_for_rate(self, scale: int, target_bpp: float) -> int:
        """The best setting whose rate is at most ``target_bpp`` (the worst if none is): the
        rate grows from the worst setting to the best, so a bisection finds it."""
        worst, best = self.settings
        step = 1 if best > worst else -1
        lo, hi = 0, abs(best - worst)  # steps from the worst setting; lo always fits or is 0
        if self.bpp(scale, worst + step * hi) <= target_bpp:
            return best
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.bpp(scale, worst + step * mid) <= target_bpp:
                lo = mid
            else:
                hi = mid
        return worst + step * lo

    def measure(self, candidate: Candidate, restorer: TiledRestorer, setting: int) -> Trial:
        """``candidate`` at ``setting``: the bytes and the mean PSNR (RGB) of the measured
        frames restored."""
        nbytes, decoded = self.coded(candidate.scale, setting)
        size = (self.frames[0].shape[1], self.frames[0].shape[0])
        picks = self.picks
        restored = restorer.restore_batch([decoded[k] for k in picks], [size] * len(picks))
        scores = [psnr(self.frames[k], r) for k, r in zip(picks, restored, strict=True)]
        return Trial(
            candidate.name,
            candidate.scale,
            candidate.model,
            setting,
            nbytes,
            self.pixels,
            pooled_psnr(scores),
        )


def pooled_psnr(scores: Sequence[float]) -> float:
    """The PSNR of the frames' mean squared error, from each frame's PSNR: a frame coded
    exactly (a black frame: infinite PSNR) counts as no error, not as an infinite mean that
    outweighs every other frame (on a film's black opening frames, the mean of PSNRs chose
    the x2 candidate, +58 % BD-rate, docs/lossy.md)."""
    mse = float(np.mean([10 ** (-s / 10) for s in scores]))  # in units of peak^2
    return float("inf") if mse == 0 else float(-10 * np.log10(mse))


def choose(
    sample: Sample,
    candidates: Sequence[tuple[Candidate, TiledRestorer]],
    *,
    quality: float | None = None,
    bpp: float | None = None,
) -> tuple[Trial, list[Trial]]:
    """The best candidate's trial on ``sample`` and each candidate's trial.

    With ``quality``, the scale-1 stream at that quality's setting sets the rate, which scale-1
    candidates meet exactly (the same stream) and others by their setting search (without a
    scale-1 candidate, each codes at the quality's setting); with
    ``bpp``, every candidate searches its setting for at most ``bpp``. The highest PSNR among
    the candidates within the rate wins, on a tie the earlier candidate; when none gets down to
    it (a rate below every candidate's lowest quality), the one nearest to it, the lowest rate,
    wins (``rate_note`` says so). A lone candidate is not restored (nothing to choose).
    """
    if (quality is None) == (bpp is None):
        raise SrcodecError("give a quality or a rate (bits per pixel), not one of each")
    target = bpp
    if quality is not None and any(c.scale == 1 for c, _ in candidates):
        target = sample.bpp(1, quality_setting(sample.codec, quality))
    trials = []
    for candidate, restorer in candidates:
        if target is None or (quality is not None and candidate.scale == 1):
            # The quality's setting: the scale-1 stream, or with no scale-1 candidate to set
            # the rate, each candidate's own stream.
            setting = quality_setting(sample.codec, quality or 0)
        else:
            setting = sample.setting_for_rate(candidate.scale, target)
        if len(candidates) == 1:
            nbytes = sample.coded(candidate.scale, setting)[0]
            c = candidate
            only = Trial(c.name, c.scale, c.model, setting, nbytes, sample.pixels, np.nan)
            return only, [only]
        trials.append(sample.measure(candidate, restorer, setting))
    # A candidate that cannot get down to the rate (its worst setting still over) loses to any
    # that can; if none can, the rate comes first: the nearest to it wins.
    rate = target if target is not None else max(t.bpp for t in trials)
    within = [t for t in trials if t.bpp <= rate * RATE_TOLERANCE]
    if within:
        return max(within, key=lambda t: t.psnr), trials
    return min(trials, key=lambda t: (t.bpp, -t.psnr)), trials


def rate_note(best: Trial, bpp: float | None, codec: str = LOSSY_CODEC) -> str:
    """What to tell the user when a ``bpp`` target cannot be met on the first group: a rate
    below the lowest any candidate reaches (its worst setting), or above what the chosen
    candidate spends at the codec's best setting; "" when it is met (or no target was given)."""
    if bpp is None:
        return ""
    cls = lossy_class(codec)
    worst, finest = cls.settings  # type: ignore[attr-defined]
    param = cls.quality_param  # type: ignore[attr-defined]
    chosen = f"{best.candidate} at {param} {best.setting}"
    if best.bpp > bpp * RATE_TOLERANCE:
        return (
            f"--bpp {bpp:g} cannot be met: the lowest rate of any candidate is {best.bpp:.4f} "
            f"bpp on the first group ({chosen}, the codec's lowest quality); the archive is "
            "written at that rate"
        )
    if best.setting == finest and bpp > best.bpp * 1.05:
        return (
            f"--bpp {bpp:g} cannot be met: the codec's best quality takes {best.bpp:.4f} bpp on "
            f"the first group ({chosen}); the archive is written at that rate"
        )
    return ""


def usable_candidates(
    candidates: Sequence[Candidate] | None,
    codec: str,
    weights: Iterable = (),
    tile: int | None = None,
    model: str | None = None,
) -> list[tuple[Candidate, TiledRestorer, str]]:
    """The candidates (default ``default_candidates(codec)``; ``model``, else each ``weights``
    file, joining them as the candidate of its kind: ``with_models``) whose model is
    installed, each with its restorer (in tiles of ``tile`` pixels, if given: bounded memory)
    and the model id an archive records; ``ModelError`` if none is, or a given one fails."""
    weights = list(weights)
    # Each weights file must load (a missing or junk file is an error, never a silent fall
    # back to the other candidates); ``model``, else every weights file, is a candidate.
    given = [inspect_weights(w) for w in weights]
    if model is not None:
        given = [get_model(model, weights)]
    chosen = default_candidates(codec) if candidates is None else candidates
    usable: list[tuple[Candidate, TiledRestorer, str]] = []
    for candidate in with_models(chosen, given):
        try:
            usable.append((candidate, *_restorer(candidate, weights, tile)))
        except ModelError:
            if candidate.given:
                raise
            continue  # not installed here: the others still compete
    if not usable:
        raise ModelError("no candidate model for a lossy archive is installed")
    return usable


def pick_lossy(
    frames: Sequence[np.ndarray],
    usable: Sequence[tuple[Candidate, TiledRestorer, str]],
    *,
    quality: float | None = None,
    bpp: float | None = None,
    codec: str = LOSSY_CODEC,
) -> tuple[Trial, list[Trial], str, LowresCodec]:
    """The candidate that restores ``frames`` (one size and mode) best at equal bytes: its
    trial, every trial, the model id to record and the lossy codec at the chosen setting. A
    ``bpp`` that cannot be met is warned of (``SrcodecWarning``, ``rate_note``)."""
    sample = Sample(frames, codec)
    best, trials = choose(sample, [(c, r) for c, r, _ in usable], quality=quality, bpp=bpp)
    note = rate_note(best, bpp, codec)
    if note:
        warnings.warn(note, SrcodecWarning, stacklevel=3)
    model_id = next(m for c, _, m in usable if c.name == best.candidate)
    return best, trials, model_id, lossy_codec(codec, best.setting)


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
            "lossy": {"quality": quality, "bpp": bpp, "candidate": best.candidate},
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
    with ArchiveWriter(output, header, force=force, groups=streams) as writer:
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
    from ..training.adapt import AdaptResult, adapt_archive, sample

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
        nothing = {"psnr_rgb": float("nan"), "psnr_y": float("nan")}
        summary.adapted = AdaptResult(nothing, nothing, 0, 0.0, 0, [])
        summary.adapted.reason = "the base codec alone (the identity model) has nothing to tune"
        return records, b""
    info = get_model(best.model, weights)
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
