"""The candidate choice of a lossy archive: the ways to code its frames (the base codec alone,
full resolution + an x1 model, half resolution + an x2 model, and models a user gives, such as
camera profiles), each coded at equal bytes on the first frames, restored on a sample of them and
scored; the best PSNR wins (as AV1's superres mode decides). Used by srcodec.archive.lossywriter
(``encode --quality``), srcodec.recording (per segment) and srcodec.archive.profile.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..engines.identity import IDENTITY_MODEL, IdentityRestorer
from ..engines.plate import PlateRestorer
from ..engines.tiling import TiledRestorer
from ..errors import ModelError, SrcodecError, SrcodecWarning
from ..lowres import LowresCodec, codec_class, is_lossy
from ..lowres.lossy import code_kept, rgb_for, setting_for_quality
from ..metrics import psnr
from ..models.store import DEFAULT_MODEL, ModelInfo, get_model, inspect_weights, split_id
from ..resample import downscale

__all__ = [
    "CROPS",
    "LOSSY_CODEC",
    "MEASURED_FRAMES",
    "MEASURED_PIXELS",
    "SAMPLE_FRAMES",
    "X1_MODEL",
    "X1_MODELS",
    "X2_FROM_SETTING",
    "Candidate",
    "Sample",
    "Trial",
    "choose",
    "default_candidates",
    "lossy_class",
    "lossy_codec",
    "measured_candidates",
    "measured_positions",
    "pick_lossy",
    "rgb_of",
    "pooled_psnr",
    "quality_setting",
    "rate_note",
    "scale1_decides",
    "usable_candidates",
    "with_models",
]

#: The lossy codec of ``--quality``/``--bpp`` archives: AV1 (SVT-AV1) needs about 25 % fewer
#: bytes than x265 medium for the same PSNR on the held-out vtest clip and encodes as fast;
#: with its x1 model, 37 % fewer (docs/lossy.md).
LOSSY_CODEC = "srcodec.av1"
#: The bundled x1 model trained on x265's artefacts (scripts/train_lossy.sh; its first stage,
#: srcodec-hevc-x1, stays bundled so that archives naming it decode).
X1_MODEL = "srcodec-hevc-x1-v2"
#: The x1 model of each lossy codec: trained on that codec's artefacts (srcodec-av1-x1-v3:
#: srcodec-av1-x1-v2 fine-tuned on SVT-AV1's 10-bit streams, ``bits=10``, as archives code them
#: since the bit-depth lever; srcodec-av1-x1-v2, fine-tuned on 8-bit streams decoded by the
#: accurate YUV -> RGB conversion, ``rgb=auto``, and srcodec-av1-x1, trained on swscale's
#: default conversion, stay bundled for the archives that name them; scripts/train_lossy.sh);
#: other codecs get ``X1_MODEL``.
X1_MODELS = {"srcodec.hevc": "srcodec-hevc-x1-v3", "srcodec.av1": "srcodec-av1-x1-v3"}
#: Frames of the first group every candidate codes (the sample): its first ``SAMPLE_FRAMES``.
SAMPLE_FRAMES = 60
#: Full-resolution pixels of the sample restored and measured by each candidate (frames spread
#: over the sample, at least ``MEASURED_FRAMES``): three 768x576 frames, more of smaller ones
#: (an x2 network on a CPU is slow; few frames of a small clip decide by noise).
MEASURED_PIXELS = 3 * 768 * 576
MEASURED_FRAMES = 3
#: Those pixels are spread over 4x as many frames, each restored on one quarter of the frame
#: (the quarters in turn): on Megamind.avi three whole frames chose x2 at CRF 55 and 62 (by
#: +0.5 and +1.2 dB on them), where every one of the 60 frames gives x1 +1.3 and +0.5 dB; 12
#: frames choose x1. Small frames, whose sample is too short for 4x, are measured whole.
CROPS = 4
#: Low-resolution pixels of context around a measured quarter (the network's reach), restored
#: and not scored.
CROP_MARGIN = 24
#: The setting of the scale-1 stream from which on (this or worse) the bundled x2 candidate
#: is measured, by codec; at better settings it is not (AV1: CRF 55, ``--quality`` 13 and
#: below). Chosen on validation data (``benchmarks.studies.x2_region``, x2_region.json):
#: on vtest windows before 636, x2 trails x1 at equal bytes at every CRF, by 8 dB at CRF 30
#: narrowing to 0.9-1.6 dB at 63; on the validation photos it trails by 1.5-7 dB at CRF 30-40,
#: comes within 0.1 dB from CRF 55 on, and wins at 62-63 (by up to 0.23 dB). Measuring x2 took
#: 12 of the choice's 14 s of CPU on 768x576 (its rate search and network). A rate no
#: scale-1 stream gets down to sets the worst setting, so x2 is measured there; an x2 model
#: the user gives (a camera profile) is always measured.
X2_FROM_SETTING = {"srcodec.av1": 55}
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
    #: Why the candidate was not measured ("" if it was): it takes no part in the choice.
    skipped: str = ""
    #: The scene-plate strengths, luma and chroma, that scored best (``engines.plate``'s
    #: ``STRENGTHS`` and ``CHROMA_STRENGTHS``; 0: no blend), for a model that carries a plate (a
    #: camera profile's), else None: the archive records them.
    plate: tuple[float, float] | None = None

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


def lossy_codec(codec: str, setting: int, rgb: str | None = None) -> LowresCodec:
    """``codec`` (a lossy codec id) at ``setting`` of its quality parameter, decoding to RGB by
    ``rgb`` (``srcodec.lowres.lossy.RGB_CONVERSIONS``; None: the codec's default; a codec that
    has no such choice, as AVIF, ignores it)."""
    cls = lossy_class(codec)
    params = {cls.quality_param: setting}  # type: ignore[attr-defined]
    if rgb is not None and hasattr(cls, "rgb"):
        params["rgb"] = rgb
    return cls(**params)


def rgb_of(codec: str, frames: Sequence[np.ndarray]) -> str | None:
    """The YUV -> RGB conversion a lossy stream of ``frames`` decodes with (``rgb_for``), or
    None for a codec that has no such choice."""
    return rgb_for(frames) if hasattr(lossy_class(codec), "rgb") else None


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


def measured_positions(
    count: int, shape: tuple[int, ...], measured: int | None = None
) -> tuple[list[int], int]:
    """The positions of a sample of ``count`` frames of ``shape`` that are restored and
    measured (``measured`` frames' pixels, by default ``MEASURED_PIXELS``, spread over
    ``CROPS`` times as many frames, or whole frames of a sample too short for that), and the
    crops a frame is measured in (``CROPS`` or 1)."""
    if measured is None:
        measured = max(MEASURED_FRAMES, MEASURED_PIXELS // (shape[0] * shape[1]))
    crops = CROPS if CROPS * measured <= count else 1
    picks = sorted({round(k) for k in np.linspace(0, count - 1, min(crops * measured, count))})
    return picks, crops


class Sample:
    """The frames a choice is made on (one size and mode), coded at each (scale, setting) asked
    for once: the rate search only encodes, and only the setting it settles on is restored."""

    def __init__(
        self,
        frames: Sequence[np.ndarray],
        codec: str = LOSSY_CODEC,
        measured: int | None = None,
    ) -> None:
        self.frames: list[np.ndarray] | None = list(frames)
        self.codec, self.count = codec, len(self.frames)
        self.rgb = rgb_of(codec, self.frames)
        self.settings = lossy_class(codec).settings  # type: ignore[attr-defined]
        self.pixels = sum(f.shape[0] * f.shape[1] for f in self.frames)
        self.picks, self.crops = measured_positions(self.count, self.frames[0].shape, measured)
        self.originals = {k: self.frames[k] for k in self.picks}
        self._coded: dict[tuple[int, int], tuple[int, dict[int, np.ndarray]]] = {}

    @classmethod
    def of_stream(
        cls,
        originals: dict[int, np.ndarray],
        count: int,
        codec: str,
        setting: int,
        nbytes: int,
        decoded: dict[int, np.ndarray],
        rgb: str | None = None,
    ) -> Sample:
        """A sample of ``count`` frames already coded at scale 1 and ``setting`` (a recorder's
        first group: ``nbytes`` its payload), of which only the frames measured are at hand
        (``originals`` and ``decoded``, by position: ``measured_positions``, or those of them
        in a group that ended early), decoded to RGB by ``rgb``. Only scale-1 candidates
        can be measured on it (the frames to code at another scale are gone)."""
        if not originals or sorted(originals) != sorted(decoded):
            raise SrcodecError("a coded sample needs frames measured, decoded and not")
        shape = next(iter(originals.values())).shape
        picks, crops = sorted(originals), measured_positions(count, shape)[1]
        sample = cls.__new__(cls)
        sample.frames, sample.codec, sample.count, sample.rgb = None, codec, count, rgb
        sample.settings = lossy_class(codec).settings  # type: ignore[attr-defined]
        sample.pixels = count * shape[0] * shape[1]
        sample.picks, sample.crops, sample.originals = picks, crops, dict(originals)
        sample._coded = {(1, setting): (nbytes, dict(decoded))}
        return sample

    def coded(self, scale: int, setting: int) -> tuple[int, dict[int, np.ndarray]]:
        """The bytes at ``scale`` and ``setting``, and the decoded frames that are measured
        (``picks``, by position): only those are kept, as a rate search codes many settings."""
        if (scale, setting) not in self._coded:
            if self.frames is None:
                raise SrcodecError(
                    f"this sample was coded at scale 1 only, not x{scale} / {setting}"
                )
            lows = [downscale(f, scale) for f in self.frames]
            self._coded[scale, setting] = code_kept(
                lossy_codec(self.codec, setting, self.rgb), lows, self.picks
            )
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
        """``candidate`` at ``setting``: the bytes and the PSNR (RGB, pooled) of the measured
        frames restored, a scene plate's at the strength that scores best (``Trial.plate``)."""
        nbytes, decoded = self.coded(candidate.scale, setting)
        restorer.use_setting(setting)
        regions = [self.region(i, decoded[k].shape[:2]) for i, k in enumerate(self.picks)]
        inputs, sizes, origins = [], [], []
        for k, (low, _) in zip(self.picks, regions, strict=True):
            inputs.append(decoded[k][low[0] : low[1], low[2] : low[3]])
            sizes.append(((low[3] - low[2]) * candidate.scale, (low[1] - low[0]) * candidate.scale))
            origins.append((low[0] * candidate.scale, low[2] * candidate.scale))

        def score(restored: list[np.ndarray]) -> float:
            scores = []
            for k, (low, inner), out in zip(self.picks, regions, restored, strict=True):
                s = candidate.scale
                top, bottom, left, right = (v * s for v in inner)
                original = self.originals[k][top:bottom, left:right]
                h, w = original.shape[:2]  # an odd original ends inside its last low-res pixel
                y, x = (inner[0] - low[0]) * s, (inner[2] - low[2]) * s
                scores.append(psnr(original, out[y : y + h, x : x + w]))
            return pooled_psnr(scores)

        # A model with a scene plate is scored at each pair of strengths (the network run
        # once), and the best pair is the one the archive records; a tie keeps the earlier,
        # the lesser blend.
        best = None
        if isinstance(restorer, PlateRestorer):
            scored = restorer.score_strengths(inputs, sizes, origins, score)
            best = max(scored, key=lambda pair: scored[pair])
            best_psnr = scored[best]
        else:
            best_psnr = score(restorer.restore_batch(inputs, sizes, origins))
        return Trial(
            candidate.name,
            candidate.scale,
            candidate.model,
            setting,
            nbytes,
            self.pixels,
            best_psnr,
            plate=best,
        )

    def region(self, i: int, low_shape: tuple[int, ...]) -> tuple[Box, Box]:
        """The ``i``-th measurement's low-resolution crop (with ``CROP_MARGIN`` of context,
        within the frame) and the part of it scored: quarter ``i % 4`` of the frame, or all of
        it. Boxes are (top, bottom, left, right) in low-resolution pixels."""
        lh, lw = low_shape
        if self.crops == 1:
            return (0, lh, 0, lw), (0, lh, 0, lw)
        row, col = divmod(i % CROPS, 2)
        inner = (row * lh // 2, (row + 1) * lh // 2 if row == 0 else lh,
                 col * lw // 2, (col + 1) * lw // 2 if col == 0 else lw)  # fmt: skip
        m = CROP_MARGIN
        low = (max(0, inner[0] - m), min(lh, inner[1] + m),
               max(0, inner[2] - m), min(lw, inner[3] + m))  # fmt: skip
        return low, inner


#: A rectangle of a frame: (top, bottom, left, right).
Box = tuple[int, int, int, int]


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
    wins (``rate_note`` says so). A lone candidate is not restored (nothing to choose). The
    bundled x2 candidate of AV1 is measured only where the scale-1 stream's setting is
    ``X2_FROM_SETTING`` or worse; otherwise its trial says why not (``Trial.skipped``).
    """
    if (quality is None) == (bpp is None):
        raise SrcodecError("give a quality or a rate (bits per pixel), not one of each")
    target = bpp
    if quality is not None and any(c.scale == 1 for c, _ in candidates):
        target = sample.bpp(1, quality_setting(sample.codec, quality))
    trials = []
    for candidate, restorer in candidates:
        why = _not_measured(sample, candidate, [c for c, _ in candidates], target, quality)
        if why:
            c = candidate
            trials.append(Trial(c.name, c.scale, c.model, 0, 0, sample.pixels, np.nan, why))
            continue
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
    trials_all, trials = trials, [t for t in trials if not t.skipped]
    # A candidate that cannot get down to the rate (its worst setting still over) loses to any
    # that can; if none can, the rate comes first: the nearest to it wins.
    rate = target if target is not None else max(t.bpp for t in trials)
    within = [t for t in trials if t.bpp <= rate * RATE_TOLERANCE]
    if within:
        return max(within, key=lambda t: t.psnr), trials_all
    return min(trials, key=lambda t: (t.bpp, -t.psnr)), trials_all


def _not_measured(
    sample: Sample,
    candidate: Candidate,
    candidates: Sequence[Candidate],
    target: float | None,
    quality: float | None,
) -> str:
    """Why ``candidate`` need not be measured on ``sample`` ("" if it must be): the bundled x2
    candidate where the scale-1 stream's setting is better than ``X2_FROM_SETTING``."""
    if not _x2_waits(candidate, sample.codec) or not any(c.scale == 1 for c in candidates):
        return ""
    if target is None:
        return ""
    if quality is not None:
        setting = quality_setting(sample.codec, quality)
    else:
        setting = sample.setting_for_rate(1, target)
    if not _x2_waits_at(sample.codec, setting):
        return ""
    param = lossy_class(sample.codec).quality_param  # type: ignore[attr-defined]
    return (
        f"the full-resolution stream is at {param} {setting}, where x2 trails x1 at equal "
        "bytes (docs/lossy.md)"
    )


def _x2_waits_at(codec: str, setting: int) -> bool:
    """Whether the bundled x2 candidate of ``codec`` waits (is not measured) where the
    scale-1 stream is at ``setting``: a setting better than ``X2_FROM_SETTING``."""
    cls = lossy_class(codec)
    start = X2_FROM_SETTING.get(cls.codec_id)
    worst, best = cls.settings  # type: ignore[attr-defined]
    return start is not None and (start - setting) * (worst - best) > 0


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
    return best, trials, model_id, lossy_codec(codec, best.setting, sample.rgb)


def _x2_waits(candidate: Candidate, codec: str) -> bool:
    """Whether ``candidate`` is the bundled x2 one of a codec in ``X2_FROM_SETTING``."""
    return (
        candidate.scale == 2
        and not candidate.given
        and candidate.model == DEFAULT_MODEL
        and lossy_class(codec).codec_id in X2_FROM_SETTING
    )


def measured_candidates(codec: str, quality: float | None) -> list[Candidate]:
    """``default_candidates(codec)`` less the bundled x2 one where a choice at ``quality``
    does not measure it (``X2_FROM_SETTING``): a recorder need not load its network."""
    every = default_candidates(codec)
    if quality is None or not _x2_waits_at(codec, quality_setting(codec, quality)):
        return list(every)
    return [c for c in every if not _x2_waits(c, codec)]


def scale1_decides(candidates: Sequence[Candidate], codec: str, quality: float | None) -> bool:
    """Whether a choice at ``quality`` measures scale-1 candidates only (the others are the
    bundled x2 one at a setting better than ``X2_FROM_SETTING``), so that it can be made on a
    stream already coded at scale 1 and the quality's setting (``Sample.of_stream``: a
    recorder's first group, written before the choice)."""
    if quality is None or not any(c.scale == 1 for c in candidates):
        return False
    waits = _x2_waits_at(codec, quality_setting(codec, quality))
    return all(c.scale == 1 or (waits and _x2_waits(c, codec)) for c in candidates)
