"""Lossy rate-distortion (issues 13 and 23): srcodec's lossy archives (``--quality``, AV1: the
base codec alone, + the x1 restoration model, and the automatic choice) against the encoders a
camera archive could run instead (benchmarks.suite._lossy_anchors: SVT-AV1 alone at srcodec's
preset with FFmpeg's defaults, VVenC medium with QPA off and an intra period of 6 s, x265
medium ``--tune psnr``), on every frame of the held-out vtest clip (636-794) and of clips the
project never trained on; AVIF and JPEG XL on the evaluation photos. PSNR RGB and BT.601 Y of
every frame (8-bit, 2 px shaved; stored per frame in centi-dB), every archive byte counted (raw
bitstream bytes for the anchors); BD-rate (benchmarks.bdrate) of every curve against every
anchor over the PSNR range both cover. The levers of issue 23 are measured alone on the base
codec (no network): streams of 60 frames (srcodec's old default), PyAV's bilinear RGB -> YUV
(its old conversion), swscale's default YUV -> RGB after the decoder (the old one, which
FFmpeg's command line also uses for the anchors), streams coded at 8 bits (the old depth). A
diagnostic curve, "SVT-AV1, srcodec's
YUV->RGB", decodes the SVT-AV1 anchor's own streams with the conversion srcodec's archive of
the clip records, so that the codecs can be compared without the conversion. Also: decode
time per frame, encode frames/s, and the seek cost (any one frame of a 300-frame stream read
alone).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import srcodec
from srcodec import psnr
from srcodec.archive import candidates
from srcodec.archive.lossywriter import (
    DEFAULT_GROUP,
    default_candidates,
    encode_lossy,
    lossy_class,
)
from srcodec.inputs import read_images
from srcodec.lowres.lossy import RGB_CONVERSIONS, Av1Codec, HevcCodec
from srcodec.pixels import to_rgb

from .. import Benchmark, benchmark, pyplot
from ..bdrate import bd_rate
from ..context import DEFAULT_SETS, Context, md_table, rel
from ._lossy_anchors import clip_fps, clip_path, encode_anchor, read_clip
from .rd import coders

AV1 = "srcodec.av1"
#: The clips: (name in lossy_anchors.CLIPS, first frame, end); vtest from 636 is held out
#: (never trained or tuned on), the others were never trained on at all.
CLIPS = {
    "vtest": ("vtest", 636, 795),
    "tree": ("tree", 0, 68),
    "megamind": ("megamind", 0, 60),
}
#: The setting sweeps: srcodec's AV1 CRFs (and SVT-AV1's own, the same encoder settings).
AV1_CRFS = [30, 40, 48, 55, 62]
VVENC_QPS = [26, 31, 36, 41]
X265_CRFS = [22, 27, 32, 37, 42]
#: Which anchors run on which clip (VVenC is ~10x slower than SVT-AV1: the headline clip only).
CLIP_ANCHORS = {
    "vtest": {"SVT-AV1": AV1_CRFS, "VVenC": VVENC_QPS, "x265": X265_CRFS},
    "tree": {"SVT-AV1": AV1_CRFS, "x265": X265_CRFS},
    "megamind": {"SVT-AV1": AV1_CRFS, "x265": X265_CRFS},
}
PHOTO_AV1_CRFS = [20, 32, 44, 56]
#: A file of points already measured (``$LOSSY_RD_POINTS``, unset: none): each point is added
#: as it is measured and taken from there by a later run (a run cut short resumes). Only for
#: runs of one version of the code: delete the file after changing it.
POINTS_ENV = "LOSSY_RD_POINTS"
#: Set (to anything) with ``$LOSSY_RD_POINTS``: measure nothing, render what the file holds
#: (a run that could not finish: the result lists the points missing).
CACHED_ONLY_ENV = "LOSSY_RD_CACHED_ONLY"
#: The seek measurement: validation vtest frames (a 300-frame stream), CRF, frames read alone.
SEEK_FRAMES, SEEK_CRF, SEEK_READS = (336, 636), 46, (299, 150, 17)
#: srcodec's curves, each (mode, group, RGB -> YUV filter); group None: DEFAULT_GROUP.
METHODS = {
    "srcodec av1 base": ("base", None, None),
    "srcodec av1 x1": ("x1", None, None),
    "srcodec av1 auto": ("auto", None, None),
    "srcodec av1 base, 60-frame streams": ("base", 60, None),
    "srcodec av1 base, bilinear RGB->YUV": ("base", None, "BILINEAR"),
    "srcodec av1 base, fast YUV->RGB": ("base", None, "fast"),
    "srcodec av1 base, 8-bit": ("base", None, "8-bit"),
}
#: The lever of ``METHODS`` that codes at 8 bits (``Av1Codec.default_bits``), the old depth.
EIGHT_BIT = "8-bit"
#: Not an anchor of the goals: SVT-AV1's streams decoded as srcodec decodes its own.
SVT_SRCODEC_RGB = "SVT-AV1, srcodec's YUV->RGB"
ANCHORS = ("SVT-AV1", "VVenC", "x265")
#: The PSNR a frame coded exactly counts for in a mean (peak 255: an MSE of 1/39 of a level).
CAP_DB = 99.99


class _Points:
    """Points by key, kept in ``$LOSSY_RD_POINTS`` when it is set (see ``POINTS_ENV``)."""

    def __init__(self) -> None:
        path = os.environ.get(POINTS_ENV)
        self.path = Path(path) if path else None
        self.points = json.loads(self.path.read_text()) if self.path and self.path.is_file() else {}
        self.cached_only = bool(self.path and os.environ.get(CACHED_ONLY_ENV))
        self.missing: list[str] = []

    def get(self, key: str, measure: Callable[[], dict]) -> dict | None:
        """The point of ``key``, measured unless known (None if missing in a cached-only run)."""
        if key not in self.points and self.cached_only:
            self.missing.append(key)
            return None
        if key not in self.points:
            self.points[key] = measure()
            if self.path is not None:
                self.path.write_text(json.dumps(self.points))
        return self.points[key]


def _candidates(codec: str, mode: str) -> list:
    """The candidates of ``mode`` for ``codec``: one forced (base, x1, x2) or all (auto)."""
    every = default_candidates(codec)
    return list(every) if mode == "auto" else [c for c in every if c.name == mode]


def _quality(codec: str, setting: int) -> float:
    """The ``--quality`` whose ``codec`` setting (x265: CRF) is ``setting``."""
    worst, best = lossy_class(codec).settings
    return 100 * (setting - worst) / (best - worst)


def _x265(frames: list[np.ndarray], crf: int) -> dict:
    """Full-resolution x265 medium through PyAV (benchmarks.studies.lossy_adapt's anchor)."""
    codec = HevcCodec(crf, "medium")
    extradata, packets = codec._encode_stream(frames)
    decoded = codec._decode_stream(extradata, packets, frames[0].shape, len(frames))
    nbytes = len(extradata) + sum(len(p) for p in packets)
    h, w = frames[0].shape[:2]
    return _point(crf, nbytes, frames, decoded, w * h * len(frames))


def _point(setting: float, nbytes: int, frames: list, decoded: list, pixels: int) -> dict:
    """A curve's point: bytes, bits per pixel, mean PSNR RGB and Y and every frame's (in
    centi-dB, to keep the result file small); a frame coded exactly (Megamind's black
    opening frames) counts ``CAP_DB``, not an infinite mean."""
    rgb = [psnr(a, b) for a, b in zip(frames, decoded, strict=True)]
    y = [psnr(a, b, y=True) for a, b in zip(frames, decoded, strict=True)]
    return {
        "setting": setting,
        "bytes": nbytes,
        "bpp": 8 * nbytes / pixels,
        "psnr": float(np.mean(np.minimum(rgb, CAP_DB))),
        "psnr_y": float(np.mean(np.minimum(y, CAP_DB))),
        "frames_rgb_cdb": [round(100 * min(v, CAP_DB)) for v in rgb],
        "frames_y_cdb": [round(100 * min(v, CAP_DB)) for v in y],
    }


@contextmanager
def _conversion(name: str | None):
    """srcodec's AV1 streams converted to YUV by filter ``name``, or (a name of
    ``RGB_CONVERSIONS``) decoded to RGB by that conversion, or (``EIGHT_BIT``) coded at 8 bits
    (None: as shipped)."""
    kept, kept_rgb, kept_bits = Av1Codec.interpolation, candidates.rgb_of, Av1Codec.default_bits
    if name in RGB_CONVERSIONS:
        candidates.rgb_of = lambda codec, frames: name
    elif name == EIGHT_BIT:
        Av1Codec.default_bits = 8
    else:
        Av1Codec.interpolation = name or kept
    try:
        yield
    finally:
        Av1Codec.interpolation, candidates.rgb_of = kept, kept_rgb
        Av1Codec.default_bits = kept_bits


def _conversion_key(name: str | None) -> tuple:
    """The part of a ``measured`` key that ``_conversion(name)`` sets."""
    with _conversion(name):
        return Av1Codec.interpolation, candidates.rgb_of, Av1Codec.default_bits


def _archive(
    frames: list[np.ndarray],
    mode: str,
    crf: int,
    folder: Path,
    group: int | None = None,
    measured: dict | None = None,
    codec: str = AV1,
    every: int = 1,
) -> dict:
    """A real lossy archive of ``frames`` in ``mode`` at ``crf``: its file's bytes, the PSNR of
    every frame restored (``every``: every how many, photos and quick runs aside: 1), the
    candidate chosen, encode and decode time. ``measured`` maps (candidate, setting, group) to
    a point already decoded: an archive with the same stream and model restores the same."""
    out = folder / f"{codec}_{mode}_{crf}.src"
    named = [(f"f{k:04d}", f) for k, f in enumerate(frames)]
    t0 = time.perf_counter()
    s = encode_lossy(
        named,
        out,
        quality=_quality(codec, crf),
        candidates=_candidates(codec, mode),
        codec=codec,
        group=group or DEFAULT_GROUP,
        force=True,
    )
    encode_s = time.perf_counter() - t0
    chosen = s.chosen.candidate
    key = (chosen, s.chosen.setting, group, *_conversion_key(None))
    extra = {"candidate": chosen, "encode_s": encode_s, "encode_fps": len(frames) / encode_s}
    if measured is not None and key in measured:
        return {**measured[key], "bytes": s.archive_bytes, "bpp": s.bpp, **extra}
    with srcodec.open(out) as archive:
        t0 = time.perf_counter()
        restored = [f for _, f in archive.frames()][::every]
        decode_s = (time.perf_counter() - t0) / len(frames)
    point = {**_point(crf, s.archive_bytes, frames[::every], restored, s.pixels), **extra}
    point["decode_s"] = decode_s
    if measured is not None:
        measured[key] = point
    return point


def _seek(folder: Path) -> dict:
    """Seconds to read one frame of a 300-frame lossy stream (x1) alone: opened, the model
    loaded, the frame decoded from the key frame forward and restored ("cold"), and with the
    archive open and its model loaded ("warm")."""
    frames = read_clip(*SEEK_FRAMES)
    out = folder / "seek.src"
    x1 = _candidates(AV1, "x1")
    named = [(f"f{k:04d}", f) for k, f in enumerate(frames)]
    encode_lossy(named, out, quality=_quality(AV1, SEEK_CRF), candidates=x1, force=True)
    cold, warm = {}, {}
    for k in SEEK_READS:
        t0 = time.perf_counter()
        with srcodec.open(out) as archive:
            archive[k]
        cold[k] = time.perf_counter() - t0
        with srcodec.open(out) as archive:
            _ = archive.restorer  # loaded before the clock starts
            t0 = time.perf_counter()
            archive[k]
            warm[k] = time.perf_counter() - t0
    return {
        "frames": f"vtest {SEEK_FRAMES[0]}-{SEEK_FRAMES[1] - 1} (validation), one stream",
        "size": list(frames[0].shape[1::-1]),
        "crf": SEEK_CRF,
        "cold_s": {str(k): v for k, v in cold.items()},
        "warm_s": {str(k): v for k, v in warm.items()},
    }


def _clip_curves(ctx: Context, name: str, folder: Path, cache: _Points, stage: int) -> dict:
    """Clip ``name``'s curves; ``stage`` 0 measures the anchors SVT-AV1 and srcodec's own
    curves, 1 the other anchors and the levers alone (a run does every clip's stage 0 first)."""
    source, first, end = CLIPS[name]
    frames = read_clip(first, end, source)
    fps = clip_fps(source)
    crfs, anchors = AV1_CRFS, CLIP_ANCHORS[name]
    if ctx.quick:  # a smoke test: 6 frames, 2 points a curve
        frames, crfs = frames[:6], AV1_CRFS[1::3]
        anchors = {a: s[1::3] for a, s in anchors.items()}
    h, w = frames[0].shape[:2]
    pixels = w * h * len(frames)
    curves: dict[str, list[dict]] = {}
    seconds: dict[str, float] = {}

    def anchor_point(anchor: str, setting: float) -> dict:
        if anchor == SVT_SRCODEC_RGB:
            args: tuple = ("SVT-AV1", frames, setting, fps, candidates.rgb_of(AV1, frames))
        else:
            args = (anchor, frames, setting, fps)
        nbytes, decoded, s = encode_anchor(*args)
        return {**_point(setting, nbytes, frames, decoded, pixels), "encode_s": s}

    measured: dict = {}
    shown = [*list(METHODS)[:3], "srcodec av1 base, fast YUV->RGB"]
    methods = METHODS if name == "vtest" else {k: METHODS[k] for k in shown}
    jobs = [("SVT-AV1", None)] + [(m, METHODS[m]) for m in list(methods)[:3]]
    jobs += [(a, None) for a in anchors if a != "SVT-AV1"] + [(SVT_SRCODEC_RGB, None)]
    jobs += [(m, METHODS[m]) for m in list(methods)[3:]]
    for method, spec in jobs[: 4 if stage == 0 else None]:
        settings = anchors.get(method, anchors["SVT-AV1"]) if spec is None else crfs
        for setting in settings:
            key = f"{name}|{len(frames)}|{method}|{setting}"
            ctx.progress(f"lossy_rd {name}: {method} {setting}")
            if spec is None:
                point = cache.get(key, lambda m=method, s=setting: anchor_point(m, s))
                if point is not None:
                    seconds[method] = seconds.get(method, 0.0) + point["encode_s"]
            else:
                mode, group, interp = spec

                def archive(mode=mode, group=group, interp=interp, crf=setting) -> dict:
                    with _conversion(interp):
                        return _archive(frames, mode, crf, folder, group, measured)

                point = cache.get(key, archive)
                if mode != "auto":  # what an auto archive choosing it restores to
                    kind = (mode, setting, group, *_conversion_key(interp))
                    measured.setdefault(kind, point)
            if point is not None:
                curves.setdefault(method, []).append(point)
    return {
        "clip": {
            "file": rel(clip_path(source)),
            "first": first,
            "frames": len(frames),
            "size": [w, h],
            "fps": fps,
        },
        "encode_fps": {a: len(frames) * len(curves[a]) / s for a, s in seconds.items()},
        **_summarise(curves, (*ANCHORS, SVT_SRCODEC_RGB)),
    }


def _photo_curves(
    photos: list[np.ndarray], folder: Path, av1_crfs: list[int], cache: _Points
) -> dict:
    pixels = sum(p.shape[0] * p.shape[1] for p in photos)
    curves: dict[str, list[dict]] = {}
    found, _ = coders()
    for name in ("AVIF", "JPEG XL"):
        if name not in found:
            continue
        coder, settings, _ = found[name]
        for setting in settings:

            def code(coder=coder, setting=setting) -> dict:
                coded = [coder(p, setting) for p in photos]
                nbytes = sum(n for n, _ in coded)
                return _point(setting, nbytes, photos, [d for _, d in coded], pixels)

            point = cache.get(f"photos|{len(photos)}|{name}|{setting}", code)
            if point is not None:
                curves.setdefault(name, []).append(point)
    measured: dict = {}
    for mode in ("base", "x1", "auto"):
        for crf in av1_crfs:
            # Stills: each photo a group of one (intra only), all in one archive.
            key = f"photos|{len(photos)}|{mode}|{crf}"
            point = cache.get(
                key, lambda m=mode, c=crf: _archive(photos, m, c, folder, 1, measured)
            )
            if point is None:
                continue
            if mode != "auto":
                measured.setdefault((mode, crf, 1, *_conversion_key(None)), point)
            curves.setdefault(f"srcodec av1 {mode}", []).append(point)
    return _summarise(curves, ("AVIF", "JPEG XL"))


@benchmark("lossy_rd", section=3.5)
class LossyRd(Benchmark):
    def run(self, ctx: Context) -> dict:
        result: dict = {"clips": {}}
        cache = _Points()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for stage in (0, 1):
                for name in CLIPS:
                    result["clips"][name] = _clip_curves(ctx, name, folder, cache, stage)
            ctx.progress("lossy_rd: seek")
            result["seek"] = cache.get("seek", lambda: _seek(folder))
            ctx.progress("lossy_rd: photos")
            photo_dir = DEFAULT_SETS["photos"][0]
            photos = [to_rgb(f) for _, f in read_images(photo_dir)][: 2 if ctx.quick else None]
            crfs = PHOTO_AV1_CRFS[::3] if ctx.quick else PHOTO_AV1_CRFS
            result["photos"] = _photo_curves(photos, folder, crfs, cache)
            result["photo_set"] = f"{len(photos)} photos of {rel(photo_dir)}"
        result["missing_points"] = cache.missing
        return result

    def figures(self, result: dict, folder: Path) -> list[str]:
        out = [_plot(result["clips"]["vtest"], "held-out vtest 636-794", folder, "vtest")]
        return out + [_plot(result["photos"], "photos", folder, "photos")]

    def render(self, result: dict) -> str:
        lines = [
            "### Lossy archives against the codecs a camera archive could run (issue 23)",
            "",
            "Every frame of each clip, PSNR (8-bit, peak 255, 2 px shaved) on RGB and on BT.601 "
            "Y, against bits per pixel with every byte counted: srcodec's archive files "
            "(header, index, CRCs) written by `srcodec encode --quality Q` (AV1: SVT-AV1 "
            "preset 6 through PyAV, 10-bit, CRF = 63 - 62 Q / 100, streams of up to "
            f"{DEFAULT_GROUP} frames) with one candidate forced (base: the codec alone; x1: + "
            "the bundled x1 model) or chosen (auto); the anchors' raw bitstreams, coded by "
            "FFmpeg's own encoders (imageio-ffmpeg's binary) from the same RGB frames: SVT-AV1 "
            "preset 6 with FFmpeg's defaults (one key frame for the clip), VVenC medium "
            "(`-qpa 0 -period 6`, 10-bit), x265 medium `--tune psnr`. BD-rate: log-rate "
            "interpolated by a monotone cubic over the PSNR range both curves cover; negative: "
            "fewer bytes for the same PSNR. Four rows measure issue 23's levers alone, on the "
            "base codec: the same archives with 60-frame streams (one key frame every 60: the "
            "old default), with PyAV's bilinear RGB -> YUV conversion (the old one), with "
            "swscale's default YUV -> RGB after the decoder (the old one, which the anchors "
            "get from FFmpeg's command line) and coded at 8 bits (the old depth). "
            f'"{SVT_SRCODEC_RGB}" is the SVT-AV1 anchor\'s '
            "own streams decoded with the conversion srcodec records for the clip: the codecs "
            "compared without the conversion.",
            "",
        ]
        for name, block in result["clips"].items():
            clip = block["clip"]
            held = " (held out)" if name == "vtest" else " (never trained on)"
            lines += [
                f"**{name}**{held}: {clip['file']}, frames {clip['first']}-"
                f"{clip['first'] + clip['frames'] - 1}, {clip['size'][0]}x{clip['size'][1]}, "
                f"{clip['fps']:g} fps",
                "",
            ]
            lines += _bd_table(block) + [""]
            speeds = ", ".join(f"{a} {v:.0f}" for a, v in block["encode_fps"].items())
            ours = [p for p in block["curves"].get("srcodec av1 base", [])]
            if ours:
                speeds += f", srcodec av1 base {np.mean([p['encode_fps'] for p in ours]):.0f}"
            lines += [f"Encode speed, frames/s (mean over the sweep): {speeds}.", ""]
        lines += ["**photos** (each photo a still; AV1 intra)", ""]
        lines += _bd_table(result["photos"]) + [""]
        lines += [
            "Points (setting -> bits per pixel, PSNR RGB / Y; auto: the candidate chosen):",
            "",
        ]
        for name, block in [*result["clips"].items(), ("photos", result["photos"])]:
            rows = []
            for method, curve in block["curves"].items():
                pts = ", ".join(
                    f"{p['setting']:g} -> {p['bpp']:.4f}, {p['psnr']:.2f} / {p['psnr_y']:.2f}"
                    + (f" ({p['candidate']})" if method.endswith("auto") else "")
                    for p in curve
                )
                rows.append([method, pts])
            lines += [f"*{name}*", ""] + md_table(["method", "points"], rows, "ll") + [""]
        seek = result.get("seek") or {"cold_s": {}, "frames": "-", "size": [0, 0], "crf": 0}
        x1 = result["clips"]["vtest"]["curves"].get("srcodec av1 x1", [])
        decode = np.mean([p["decode_s"] for p in x1]) if x1 else float("nan")
        lines += [
            f"Seek: one frame of {seek['frames']}, {seek['size'][0]}x{seek['size'][1]}, x1 at "
            f"CRF {seek['crf']}, read alone: "
            + ", ".join(
                f"frame {k}: {seek['cold_s'][k]:.2f} s cold (open, load, decode, restore), "
                f"{seek['warm_s'][k]:.2f} s warm"
                for k in seek["cold_s"]
            )
            + f". Decode of every frame in order (x1, vtest): {decode:.3f} s a frame.",
            "",
            f"Photos: {result['photo_set']}; source: {rel(__file__)}.",
        ]
        missing = result.get("missing_points") or []
        if missing:
            lines += [
                "",
                f"Not measured (the run was cut short; {len(missing)} points): "
                + ", ".join(f"`{k}`" for k in missing)
                + ".",
            ]
        return "\n".join(lines)


def _bd_table(block: dict) -> list[str]:
    refs = [a for a in block["reference"] if a in block["curves"]]
    head = ["method"] + [f"vs {r} (RGB / Y)" for r in refs]
    rows = []
    for method in block["curves"]:
        cells = []
        for r in refs:
            bd = block["bd_rate"][r].get(method)
            cells.append("-" if bd is None else " / ".join(_pct(v) for v in bd))
        rows.append([method, *cells])
    return md_table(head, rows, "l" + "r" * len(refs))


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.1f} %"


#: The plots, written beside the rendered page (docs/).
PLOTS = {"vtest": "lossy_rd_vtest.png", "photos": "lossy_rd_photos.png"}


def _plot(block: dict, title: str, folder: Path, key: str) -> str:
    """PSNR RGB against bits per pixel (log scale) of every curve of ``block``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ref = block["reference"][0]
    for k, (name, curve) in enumerate(block["curves"].items()):
        pts = sorted((p["bpp"], p["psnr"]) for p in curve)
        bd = block["bd_rate"][ref].get(name)
        label = name if bd is None or bd[0] is None else f"{name} ({bd[0]:+.1f} %)"
        style = "o--" if name in ANCHORS or name in ("AVIF", "JPEG XL") else "o-"
        width = 2.2 if name.endswith(("auto", "x1")) else 1.0
        ax.plot(*zip(*pts, strict=True), style, ms=3, lw=width, label=label, color=f"C{k % 10}")
    ax.set_xscale("log")
    ax.set_xlabel("bits per pixel (every byte counted)")
    ax.set_ylabel("PSNR RGB (dB, 2 px shaved)")
    ax.set_title(f"Lossy, {title}: BD-rate RGB against {ref}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out = Path(folder) / PLOTS[key]
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return str(out)


def _pts(curve: list[dict], key: str) -> list[tuple[float, float]]:
    return [(p["bpp"], p[key]) for p in curve]


def _summarise(curves: dict[str, list[dict]], references: tuple[str, ...] = ANCHORS) -> dict:
    """The curves and the BD-rate (RGB, Y) of each against each reference present."""
    refs = [r for r in references if r in curves]
    return {
        "reference": refs,
        "curves": curves,
        "bd_rate": {
            r: {
                k: [bd_rate(_pts(curves[r], q), _pts(v, q)) for q in ("psnr", "psnr_y")]
                for k, v in curves.items()
                if k != r
            }
            for r in refs
        },
    }
