"""Camera profiles: a restoration model tuned once to one camera's footage, as the archive's
lossy codec decodes it (an x1 model, or an x2 model of a lossy archive) or as the lossless mode
downscales it (x2), and checked on footage later in time than every frame tuned on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..engines.identity import IDENTITY_MODEL
from ..engines.plate import blend, median_plate, set_plate
from ..errors import DataError, SrcodecError
from ..inputs import list_frames, read_frame
from ..lowres import codec_class, is_lossy
from ..lowres.lossy import code_frames, runs
from ..metrics import psnr
from ..models.family import family_of
from ..models.store import ModelInfo, inspect_weights, load_weights, save_model, short_id
from ..resample import downscale
from .candidates import rgb_of
from .lossywriter import DEFAULT_GROUP, LOSSY_CODEC, X1_MODELS, lossy_codec, quality_setting

__all__ = [
    "DEFAULT_QUALITY_RANGE",
    "Footage",
    "ProfilePlan",
    "make_profile",
    "parse_quality_range",
    "plan_profile",
    "profile_config",
]

#: The ``--quality`` span a lossy profile is tuned across by default: AV1 CRF 63 to 16, the
#: rates of a CCTV archive (docs/lossy.md measures CRF 18-62).
DEFAULT_QUALITY_RANGE = (0.0, 75.0)
#: Rates the footage is coded at, evenly spread over the span.
RATES = 4
#: Frames of the footage tuned on (evenly spread over all but its last part).
PROFILE_FRAMES = 96
#: The last this share of the footage is held back for the check ...
HELD_BACK_SHARE = 0.1
#: ... of which up to this many frames are measured (at every rate).
HELD_BACK_FRAMES = 6


#: How a lossy profile is tuned (as the bundled lossy models were trained,
#: scripts/train_lossy.sh: 64 px patches, 16 a batch), at a fine-tuning rate. A recipe closer
#: to a training run (384 frames at CRF 63-32, squared error, 2e-4), which gained +0.19 dB
#: over this one's model on validation vtest frames in a 23-minute run, gave no better
#: profile on held-out footage in 15 minutes (vtest 700-739: -3.1 % RGB / -2.5 % Y against
#: the bundled model, this recipe -4.6 % / -2.6 %; tree.avi -3.5 % / -0.2 % against -5.2 % /
#: -1.5 %; benchmarks/results/profile_recipe_study.json and profile.json): kept as it was.
#: Its loss is the squared error on RGB plus twice that on the luma (``l2y``): on validation
#: vtest frames (benchmarks/results/plate_input.json, the network seeing the plate) it gained
#: +0.18 dB RGB / +0.20 dB Y over L1 at CRF 63 and +0.10 / +0.10 at CRF 48, where profiles
#: are chosen, and lost 0.25 / 0.37 dB at CRF 32, where no tuned network beat the codec's own
#: frames (the candidate check takes those); plain L2 gained as much on RGB, less on Y.
LOSSY_TUNING = {"patch": 64, "batch": 16, "lr": 5e-4, "loss": "l2y"}
#: The scene plate's strengths tried (``engines.plate.blend``: multiples of a frame's median
#: difference from the plate) and the gain on the held-back frames it must bring to be kept, dB.
PLATE_STRENGTHS = (1.0, 1.5, 2.0, 3.0)
PLATE_MIN_GAIN = 0.02


def _plate_start(info: ModelInfo, entry: str | None):
    """How a network that sees the plate starts from ``info``'s: its family's ``with_plate``,
    the plate entering where ``entry`` says (None: the family's default)."""
    with_plate = family_of(info.config).with_plate
    if with_plate is None or entry is None:
        return with_plate
    return lambda model: with_plate(model, entry=entry)


def profile_config(cfg, plan: ProfilePlan):
    """``cfg`` (an AdaptConfig) with ``LOSSY_TUNING`` when ``plan`` codes the footage."""
    return replace(cfg, **LOSSY_TUNING) if plan.codec is not None else cfg


@dataclass(frozen=True)
class ProfilePlan:
    """How a model is tuned to a camera: ``codec`` (a lossy codec id, None: the lossless
    mode's downscale) at each of ``settings`` (its quality parameter), frames reduced by
    ``scale``."""

    codec: str | None
    settings: tuple[int, ...]
    scale: int
    quality_range: tuple[float, float] | None = None

    def describe(self) -> str:
        if self.codec is None:
            return f"x{self.scale} of the lossless mode (frames downscaled, not coded)"
        cls = codec_class(self.codec)
        values = ", ".join(str(s) for s in self.settings)
        return f"x{self.scale} after {cls.codec_id} at {cls.quality_param} {values}"  # type: ignore[attr-defined]


def parse_quality_range(text: str) -> tuple[float, float]:
    """``A:B`` (0 <= A <= B <= 100) as floats; ``SrcodecError`` otherwise."""
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError:
        raise SrcodecError(f"bad quality range {text!r} (e.g. 0:75)") from None
    if not 0 <= low <= high <= 100:
        raise SrcodecError(f"bad quality range {text!r}: needs 0 <= A <= B <= 100")
    return low, high


def _trained_codec(info: ModelInfo) -> str | None:
    """The lossy codec a model's card says it was trained on (``--degrade av1:...``)."""
    spec = str(info.card.get("training", {}).get("config", {}).get("degrade") or "")
    return spec.split(":", 1)[0] or None


def plan_profile(
    info: ModelInfo,
    codec: str | None = None,
    quality_range: tuple[float, float] | None = None,
    rates: int = RATES,
) -> ProfilePlan:
    """What tuning ``info`` to a camera means, or ``SrcodecError`` (one line) when it means
    nothing: the base codec alone (no model), or an x1 model on frames no codec degraded (its
    input would be its own target: it would learn the identity)."""

    if info.name == IDENTITY_MODEL or info.id.startswith(IDENTITY_MODEL):
        raise SrcodecError(f"{info.short_id} is the base codec alone: it has nothing to tune")
    if info.config.sees_plate:
        base = info.card.get("adapted", {}).get("base_model_id", "the model it was tuned from")
        raise SrcodecError(
            f"{info.short_id} is a camera profile whose network sees its scene plate: tune "
            f"{short_id(base)} to the camera instead"
        )
    if codec is None and info.scale == 1:
        by_name = {name: cid for cid, name in X1_MODELS.items()}
        codec = _trained_codec(info) or by_name.get(info.name) or LOSSY_CODEC
    if codec is not None and not is_lossy(codec_class(codec)):
        if info.scale == 1:
            raise SrcodecError(
                f"{info.short_id} restores a lossy codec's frames at full size, and "
                f"{codec_class(codec).codec_id} is lossless: tuned on frames no codec degraded, "
                "it would learn the identity (give --codec av1 or hevc)"
            )
        codec = None  # a lossless codec stores the downscaled frames exactly
    if codec is None:
        if quality_range is not None:
            raise SrcodecError("--quality-range goes with a lossy codec (--codec av1 or hevc)")
        return ProfilePlan(None, (), info.scale)
    span = quality_range or DEFAULT_QUALITY_RANGE
    qualities = np.linspace(span[0], span[1], rates if span[1] > span[0] else 1)
    settings = tuple(dict.fromkeys(quality_setting(codec, float(q)) for q in qualities))
    return ProfilePlan(codec_class(codec).codec_id, settings, info.scale, span)


@dataclass(frozen=True)
class Footage:
    """Footage known by its frame count, read in time order as it is used: what a camera's
    recording gives (``srcodec.recording.Recording``), whose frames live in many archives."""

    count: int
    frames: Callable[[], Iterator[tuple[str, np.ndarray]]]
    label: str


def _footage(
    source: str | os.PathLike | Footage | Sequence[tuple[str, np.ndarray]],
) -> tuple[int, Iterator[tuple[str, np.ndarray]]]:
    """(frame count, the frames in time order, read as they are used): a folder of images, a
    video (decoded once more to count its frames: a container's own count can be wrong),
    ``Footage``, or (name, array) pairs."""
    from ..inputs import iter_video
    from ..video import is_video

    if isinstance(source, Footage):
        if source.count < 1:
            raise DataError(f"{source.label}: no frames")
        return source.count, source.frames()
    if not isinstance(source, (str, os.PathLike)):
        frames = list(source)
        return len(frames), iter(frames)
    path = Path(source)
    if path.is_file() and is_video(path):
        count = sum(1 for _ in iter_video(path))
        if not count:
            raise DataError(f"{path}: no frames in this video")
        return count, iter_video(path)
    if not path.exists():
        raise DataError(f"{path}: no such folder or video")
    files = list_frames(path)
    return len(files), ((p.name, read_frame(p)) for p in files)


def coded_pairs(
    frames: Iterator[tuple[str, np.ndarray]],
    picks: dict[int, str],
    plan: ProfilePlan,
    group: int,
) -> dict[int, list]:
    """The pairs of each picked frame position (``picks``: position -> role): (frame,
    decoded) at each of ``plan.settings``, the footage coded in runs of ``group`` frames from
    its start as an archive codes it (only the runs that hold a pick), or (frame, downscaled)
    for the lossless mode."""

    from ..training.adapt import scene_pairs, too_small

    out: dict[int, list] = {}
    last = max(picks)
    numbered = ((k, name, frame) for k, (name, frame) in enumerate(frames))
    for run in runs(numbered, lambda item: item[2].shape, group):
        chosen = [i for i, item in enumerate(run) if item[0] in picks]
        if chosen:
            named = [(f"{run[i][1]}", run[i][2]) for i in chosen]
            if len(scene_pairs(named[:1], None, plan.scale)) < 1:
                raise DataError(too_small(named, [], plan.scale))
            if plan.codec is None:
                for i, pair in zip(chosen, scene_pairs(named, None, plan.scale), strict=True):
                    out[run[i][0]] = [pair]
            else:
                lows = [downscale(frame, plan.scale) for _, _, frame in run]
                rgb = rgb_of(plan.codec, lows)  # as the camera's archives will decode
                for setting in plan.settings:
                    _, decoded = code_frames(lossy_codec(plan.codec, setting, rgb), lows)
                    got = scene_pairs(
                        [(f"{n}@{setting}", f) for n, f in named],
                        [decoded[i] for i in chosen],
                        plan.scale,
                    )
                    for i, pair in zip(chosen, got, strict=True):
                        out.setdefault(run[i][0], []).append(pair)
        if run[-1][0] >= last:
            break
    return out


def make_profile(
    info: ModelInfo,
    source: str | os.PathLike | Footage | Sequence[tuple[str, np.ndarray]],
    output: str | os.PathLike,
    cfg,
    *,
    plan: ProfilePlan,
    name: str,
    camera: str = "",
    frames: int = PROFILE_FRAMES,
    held_back: int = HELD_BACK_FRAMES,
    progress: bool = False,
    see_plate: bool = True,
    plate_entry: str | None = None,
):
    """Tune ``info`` (``plan_profile``) on up to ``frames`` frames of one camera's footage
    ``source`` (in time order) and check it on up to ``held_back`` frames of the footage's
    last ``HELD_BACK_SHARE``, later than every frame tuned on; write it to ``output``
    (``training.adapt.tune_camera``), with the camera's scene plate when it gains there
    (``scene_plate``). When the tuned network does not gain there, the general one is written
    with the plate, if the plate gains on its own; else nothing is written (``SrcodecError``).
    The card records the camera, the footage and the plan. ``see_plate``: a lossy x1
    network learns to see the plate, entering where ``plate_entry`` says (``models.plain``'s
    ``PLATE_ENTRIES``; None: the family's default). Returns (the profile's ModelInfo,
    AdaptResult or None when the network was not tuned, seconds spent coding the footage)."""

    from ..training.adapt import frames_alone, split_later, tune_camera

    count, stream = _footage(source)
    tuned, held = split_later(count, held_back, HELD_BACK_SHARE, frames)
    picks = {**dict.fromkeys(tuned, "tune"), **dict.fromkeys(held, "check")}
    start = time.perf_counter()
    pairs = coded_pairs(stream, picks, plan, DEFAULT_GROUP)
    coding = time.perf_counter() - start
    missing = sorted(set(picks) - set(pairs))
    if missing:
        raise DataError(f"footage ended at frame {missing[0]} of the {count} counted")
    train = [p for k in tuned for p in pairs[k]]
    check = [p for k in held for p in pairs[k]]
    card = {
        "profile": {
            "camera": camera,
            "footage": source.label
            if isinstance(source, Footage)
            else str(source)
            if isinstance(source, (str, os.PathLike))
            else "",  # fmt: skip
            "footage_frames": count,
            "tuned_frames": [tuned[0], tuned[-1], len(tuned)],
            "held_back_frames": held,
            "codec": plan.codec,
            "settings": list(plan.settings),
            "quality_range": list(plan.quality_range) if plan.quality_range else None,
            "scale": plan.scale,
        },
        "frames": len(tuned),
    }
    originals = [pairs[k][0].hr for k in tuned]
    plate = _plate(originals, check)
    seeing = see_plate and plan.codec is not None and info.scale == 1
    start = _plate_start(info, plate_entry) if seeing else None
    if plate is not None and start is not None and not info.config.sees_plate:
        # The network learns to use the plate: each tuning frame is given the plate of the
        # other half of the footage, so that it meets a plate that drifted from its frame as
        # a camera's later footage will (validation: docs/profiles.md).
        train = _fed(tuned, pairs, originals, plate)
        check = [_with(p, plate) for p in check]
    else:
        start = None
    try:
        new, result = tune_camera(
            info, train, check, output, cfg, name=name, card=card, progress=progress,
            start=start,
        )  # fmt: skip
    except SrcodecError as refused:
        # The network did not gain on the later frames: the general one with the camera's
        # scene plate is still a profile, if the plate gains there on its own.
        found = scene_plate(info, originals, frames_alone(check), plate)
        if found is None:
            raise
        model, _ = load_weights(info.path, info.sha256, info.source)
        adapted = {"base_model_id": info.id, **card, "untuned": str(refused)}
        save_model(model, output, name, {"adapted": adapted})
        set_plate(output, *found)
        return inspect_weights(output), None, coding
    found = scene_plate(new, originals, frames_alone(check), plate)
    if found is not None:
        set_plate(output, *found)
        new = inspect_weights(output)
    return new, result, coding


def _plate(originals: list[np.ndarray], check: list) -> np.ndarray | None:
    """The temporal median of ``originals``, or None when they and the ``check`` pairs'
    frames are not all colour frames of one size (a moved camera's footage)."""
    shapes = {f.shape for f in originals} | {p.hr.shape for p in check}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3 or not check:
        return None
    return median_plate(originals)


def _with(pair, plate: np.ndarray):
    """``pair`` (a ``training.trainer.Pair``) whose input is its frame and ``plate``, as a
    network that sees a plate takes them."""
    h, w = pair.lr.shape[:2]
    return replace(pair, lr=np.concatenate([pair.lr, plate[:h, :w]], axis=2))


def _fed(
    tuned: list[int], pairs: dict[int, list], originals: list[np.ndarray], plate: np.ndarray
) -> list:
    """The tuning pairs of the ``tuned`` positions, each frame given the plate of the other
    half of ``originals`` (the frames at those positions; one frame: ``plate``, theirs)."""
    half = len(tuned) // 2
    if half == 0:
        return [_with(p, plate) for k in tuned for p in pairs[k]]
    early, late = median_plate(originals[:half]), median_plate(originals[half:])
    return [_with(p, late if i < half else early) for i, k in enumerate(tuned) for p in pairs[k]]


def scene_plate(
    info: ModelInfo, originals: list[np.ndarray], check: list, plate: np.ndarray | None = None
) -> tuple[np.ndarray, dict] | None:
    """The scene plate of a profile (``engines.plate``): the temporal median of the
    ``originals`` tuned on, with the strength of ``PLATE_STRENGTHS`` (or none, 0) under which
    ``info``'s restorations of the ``check`` pairs (later footage) come closest to their
    originals at each codec setting they were coded at (their names end ``@setting``), and the
    one best over all of them; None when the camera moved, the frames differ in size, or the
    plate gains less than ``PLATE_MIN_GAIN`` dB there, unless ``info``'s network sees the plate
    (then the plate is the profile's whatever its blend gains, and is written into ``info``'s
    file before its restorations are measured). ``plate``: their median, if already taken."""
    from ..engines.choose import make_restorer
    from ..training.adaptconfig import split_setting

    plate = _plate(originals, check) if plate is None else plate
    if plate is None:
        return None
    feed = info.config.sees_plate
    if feed:  # its network needs the plate to restore at all
        set_plate(info.path, plate, {"strength": 0.0})
        info = inspect_weights(info.path)
    h, w = plate.shape[:2]
    restored = make_restorer(info).restore_batch([p.lr for p in check], [(w, h)] * len(check))
    # Each pair's PSNR without the plate (strength 0) and at each strength.
    scores = {0.0: [psnr(p.hr, r) for p, r in zip(check, restored, strict=True)]}
    for s in PLATE_STRENGTHS:
        scores[s] = [psnr(p.hr, blend(r, plate, s)) for p, r in zip(check, restored, strict=True)]
    settings = [split_setting(p.name)[1] or 0 for p in check]
    by_setting = {}
    for setting in sorted(set(settings)):
        at = [k for k, v in enumerate(settings) if v == setting]
        by_setting[setting] = max(scores, key=lambda s: float(np.mean([scores[s][k] for k in at])))
    chosen = [scores[by_setting[v]][k] for k, v in enumerate(settings)]
    gain = float(np.mean(chosen) - np.mean(scores[0.0]))
    if not gain >= PLATE_MIN_GAIN and not feed:  # also when every frame is exact (inf - inf)
        return None
    overall = max(scores, key=lambda s: float(np.mean(scores[s])))
    card = {
        "strength": overall,
        "strengths": {str(k): v for k, v in by_setting.items()},
        "frames": len(originals),
        "size": [w, h],
        "gain_db": round(gain, 3),
    }
    return plate, card
