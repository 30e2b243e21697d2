"""Camera profiles (issue 27): the bundled AV1 x1 model tuned to the vtest camera by
``srcodec adapt`` (frames 0-635, as SVT-AV1 decodes them across the ``--quality`` span, 15
minutes on 2 cores), then lossy archives of the held-out frames 700-739 written with
``encode --quality Q --weights PROFILE`` against the same archives with the bundled models and
with SVT-AV1 alone: every frame restored and scored (RGB and Y), BD-rates, tuning time, profile
size and decode time.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import av
import numpy as np

import srcodec
from srcodec import psnr
from srcodec.archive.lossywriter import Candidate, encode_lossy, lossy_class
from srcodec.archive.profile import make_profile, plan_profile, profile_config
from srcodec.engines.export import export_fp32
from srcodec.engines.identity import IDENTITY_MODEL
from srcodec.engines.plate import set_plate
from srcodec.errors import SrcodecError
from srcodec.models.store import get_model, inspect_weights, onnx_name
from srcodec.training.adaptconfig import AdaptConfig

from .. import Benchmark, benchmark
from ..bdrate import bd_rate
from ..context import ROOT, Context, md_table, rel

#: vtest.avi where benchmarks.datasets.prepare unpacks it, or where Debian installs it.
VTEST = [
    ROOT / "data" / "pkgs" / "opencv-doc" / "usr/share/doc/opencv-doc/examples/data/vtest.avi",
    ROOT / "data" / "vtest.avi",
    Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
]
#: Tuned on frames before 636 (the project's training split); measured on 700-739.
TUNE_END, CLIP = 636, (700, 740)
CODEC = "srcodec.av1"
BASE_MODEL = "srcodec-av1-x1-v3"
#: SVT-AV1 CRFs of the measured archives (those of benchmarks/suite/lossy_rd.py).
AV1_CRFS = [18, 26, 34, 42, 50, 56, 62]
WINDOW = (0.01, 0.2)
SECONDS = 900.0
#: Set to a profile written by an earlier run to measure it again without tuning.
REUSE = "SRCODEC_PROFILE_REUSE"
#: Set to one of ``models.plain.PLATE_ENTRIES`` to tune a network that sees its plate there
#: (``adapt --plate-entry``; unset: the default entry).
PLATE_ENTRY = "SRCODEC_PROFILE_PLATE_ENTRY"


def _frames(paths: list[Path], first: int, end: int) -> list[tuple[str, np.ndarray]]:
    """Frames ``first``..``end``-1 of the first of ``paths`` that exists."""
    path = next((p for p in paths if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"{paths[0].name} not found: run python -m benchmarks.datasets.prepare"
        )
    frames = []
    with av.open(str(path)) as c:
        for k, f in enumerate(c.decode(video=0)):
            if k >= end:
                break
            if k >= first:
                frames.append((f"frame_{k:04d}", f.to_ndarray(format="rgb24")))
    return frames


def _quality(setting: int) -> float:
    worst, best = lossy_class(CODEC).settings
    return 100 * (setting - worst) / (best - worst)


def _point(clip, crf: int, out: Path, **options) -> dict:
    """A real lossy archive of ``clip`` at ``crf``: bytes, every frame restored and scored."""
    s = encode_lossy(clip, out, quality=_quality(crf), codec=CODEC, force=True, **options)
    with srcodec.open(out, weights=options.get("weights", ())) as archive:
        t0 = time.perf_counter()
        restored = dict(archive.frames())
        decode_s = (time.perf_counter() - t0) / len(restored)
    hr = dict(clip)
    return {
        "setting": crf,
        "bytes": s.archive_bytes,
        "bpp": s.bpp,
        "psnr": float(np.mean([psnr(hr[n], restored[n]) for n in hr])),
        "psnr_y": float(np.mean([psnr(hr[n], restored[n], y=True) for n in hr])),
        "candidate": s.chosen.candidate,
        "model": s.model_id.split("@")[0],
        # The scene-plate strength the encoder chose and the archive records (None: no plate).
        "plate": s.chosen.plate,
        "decode_s": decode_s,
    }


def _bd(reference: list[dict], test: list[dict], key: str, window) -> float | None:
    if not test:
        return None
    return bd_rate(
        [(p["bpp"], p[key]) for p in reference], [(p["bpp"], p[key]) for p in test], window
    )


#: A second fixed camera, never trained on: opencv-doc's tree.avi (68 frames, 320x240, a
#: webcam looking through a window at a tree; cinepak). Tuned on its first 48 frames,
#: measured on the 20 after them.
TREE = [p.with_name("tree.avi") for p in VTEST]
TREE_TUNE_END, TREE_CLIP, TREE_SECONDS = 48, (48, 68), 300.0


def _camera(
    ctx: Context, name: str, paths, end: int, clip_range, seconds: float, window=WINDOW
) -> dict:
    """Tune the bundled AV1 x1 model on frames 0..end-1 of the video at ``paths`` for
    ``seconds``, then measure lossy archives of the frames ``clip_range`` with SVT-AV1 alone,
    with the bundled models and with the profile: every frame restored and scored."""
    crfs = AV1_CRFS
    cfg = AdaptConfig(seconds=seconds, threads=ctx.threads)
    if ctx.quick:  # a smoke test: a short footage, a few steps, 4 frames, 3 rates
        crfs, end = AV1_CRFS[::3], min(end, 120)
        clip_range = (clip_range[0], clip_range[0] + 4)
        cfg = AdaptConfig(seconds=None, steps=20, threads=ctx.threads)
    info = get_model(BASE_MODEL)
    plan = plan_profile(info)
    cfg = profile_config(cfg, plan)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reuse = os.environ.get(REUSE) if name == "vtest" else None
        # Kept (runs/ is not committed) so that a later run can measure it again.
        keep = folder if ctx.quick else ROOT / "runs" / "profile"
        path = Path(reuse) if reuse else keep / f"{name}-cam.safetensors"
        tuning: dict = {}
        profile = None
        if not reuse:
            ctx.progress(f"profile: tuning {BASE_MODEL} on {name} frames 0-{end - 1}")
            footage = _frames(paths, 0, end)
            t0 = time.perf_counter()
            try:
                _, r, coding = make_profile(
                    info, footage, path, cfg, plan=plan, name=f"{name}-cam", camera=name,
                    plate_entry=os.environ.get(PLATE_ENTRY),
                )  # fmt: skip
            except SrcodecError as exc:  # it did not gain on the later frames: said, not used
                tuning = {"refused": str(exc), "wall_s": time.perf_counter() - t0}
            else:
                tuning = {"wall_s": time.perf_counter() - t0, "coding_s": coding}
                if r is None:  # the network did not gain: untuned, with the scene plate
                    tuning["untuned"] = True
                else:
                    tuning.update(
                        steps=r.steps,
                        train_s=r.seconds,
                        held_back=sorted({n.split("@")[0] for n in r.held_back}),
                        held_back_gain_rgb=r.gain_db,
                        held_back_gain_y=r.gain_y_db,
                    )
            del footage
        bare = folder / f"{name}-cam-no-plate.safetensors"
        if path.is_file():
            profile = inspect_weights(path)
            tuning["profile_bytes"] = path.stat().st_size
            tuning["plate"] = profile.card.get("plate")
            tuning["architecture"] = profile.config.name
            ctx.progress("profile: ONNX export of the profile (for the decoder)")
            export_fp32(profile, path.parent / onnx_name(profile))
            # The same profile without its plate: the network's share (a network that sees
            # the plate cannot do without it: its share is not measured apart).
            if tuning["plate"] and not profile.config.sees_plate:
                set_plate(path, None, out=bare)
                export_fp32(inspect_weights(bare), folder / onnx_name(inspect_weights(bare)))
        clip = _frames(paths, *clip_range)
        curves: dict[str, list[dict]] = {}
        runs = {
            "SVT-AV1 alone": {"candidates": [Candidate("base", 1, IDENTITY_MODEL)]},
            "srcodec (bundled models)": {},
            "srcodec + camera profile": {"weights": [path]},
            "srcodec + camera profile, no plate": {"weights": [bare]},
        }
        if profile is None:
            del runs["srcodec + camera profile"]
        if not bare.is_file():
            del runs["srcodec + camera profile, no plate"]
        for label, options in runs.items():
            for crf in crfs:
                ctx.progress(f"profile: {name}, {label}, CRF {crf}")
                point = _point(clip, crf, folder / "a.src", **options)
                curves.setdefault(label, []).append(point)
    bundled, tuned = curves["srcodec (bundled models)"], curves.get("srcodec + camera profile", [])
    network = curves.get("srcodec + camera profile, no plate", [])
    alone = curves["SVT-AV1 alone"]
    return {
        "footage": f"{name} frames 0-{end - 1} (tuned on all but the last tenth)",
        "clip": {
            "first": clip_range[0],
            "frames": len(clip),
            "size": list(clip[0][1].shape[1::-1]),
        },
        "config": {
            "seconds": cfg.seconds,
            "steps": cfg.steps,
            "patch": cfg.patch,
            "batch": cfg.batch,
            "lr": cfg.lr,
            "loss": cfg.loss,
            "threads": cfg.threads,
            "settings": list(plan.settings),
        },  # fmt: skip
        "tuning": tuning,
        "profile": {"id": profile.id, "bytes": tuning["profile_bytes"]} if profile else None,
        "base_model": info.id,
        "window_bpp": list(window) if window else None,
        "curves": curves,
        "bd_rate": {
            "profile_vs_bundled_rgb": _bd(bundled, tuned, "psnr", window),
            "profile_vs_bundled_y": _bd(bundled, tuned, "psnr_y", window),
            "profile_vs_svtav1_rgb": _bd(alone, tuned, "psnr", window),
            "profile_vs_svtav1_y": _bd(alone, tuned, "psnr_y", window),
            "bundled_vs_svtav1_rgb": _bd(alone, bundled, "psnr", window),
            "bundled_vs_svtav1_y": _bd(alone, bundled, "psnr_y", window),
            "no_plate_vs_bundled_rgb": _bd(bundled, network, "psnr", window),
            "no_plate_vs_bundled_y": _bd(bundled, network, "psnr_y", window),
        },
        "decode_s": decode_speeds(bundled, tuned),
    }


def decode_speeds(bundled: list[dict], tuned: list[dict]) -> dict:
    """Seconds a frame to decode and restore, the mean over the archives whose frames a network
    restored (the base codec's, chosen at some rates, need none and take a few ms: a mean over
    every archive would compare the profile's network with the base codec), or None if none;
    ``*_same_rates``: the mean over the rates where both ran a network (the codec decodes
    more bits, more slowly, at the better rates, which only the profile may run at)."""

    def mean(points: list[dict]) -> float | None:
        times = [p["decode_s"] for p in points if p["candidate"] != "base"]
        return float(np.mean(times)) if times else None

    theirs = {t.get("setting"): t for t in tuned}
    both = [
        (b, theirs[b.get("setting")])
        for b in bundled
        if b.get("setting") in theirs
        and b["candidate"] != "base"
        and theirs[b.get("setting")]["candidate"] != "base"
    ]
    return {
        "bundled": mean(bundled),
        "profile": mean(tuned),
        "bundled_same_rates": mean([b for b, _ in both]),
        "profile_same_rates": mean([t for _, t in both]),
    }


@benchmark("profile", section=3.6)
class Profile(Benchmark):
    def run(self, ctx: Context) -> dict:
        return {
            "vtest": _camera(ctx, "vtest", VTEST, TUNE_END, CLIP, SECONDS),
            # Its rates (320x240, noisy) lie above vtest's window: BD-rates over every rate.
            "tree": _camera(ctx, "tree", TREE, TREE_TUNE_END, TREE_CLIP, TREE_SECONDS, None),
        }

    def render(self, result: dict) -> str:
        lines = ["### Camera profiles (issue 27)", ""]
        for block in result.values():
            lines += _render_camera(block) + [""]
        lines.append(f"Source: {rel(__file__)}.")
        return "\n".join(lines)


def _render_camera(result: dict) -> list[str]:
    t, bd = result.get("tuning") or {}, result["bd_rate"]
    fmt = lambda v: "-" if v is None else f"{v:+.1f} %"  # noqa: E731
    clip = result["clip"]
    lines = [
        f"`srcodec adapt` of {result['base_model'].split('@')[0]} on {result['footage']}, "
        f"as SVT-AV1 decodes it at CRF {result['config']['settings']}; archives of the "
        f"held-out frames {clip['first']}-{clip['first'] + clip['frames'] - 1}, every "
        "frame restored and scored.",
        "",
    ]
    if t.get("refused"):
        lines += [f"Tuning refused: {t['refused']}", ""]
    elif t.get("untuned"):
        lines += [
            "Tuning did not gain on the held-back frames: the profile is the bundled network "
            "with the camera's scene plate. "
            + _plate_text(t.get("plate"))
            + f"Profile {result['profile']['bytes']:,} bytes.",
            "",
        ]
    elif "steps" in t:
        lines += [
            f"Tuning: {t['steps']} steps in {t['train_s']:.0f} s, {t['coding_s']:.0f} s "
            f"coding the footage, {t['wall_s']:.0f} s in all; held-back (later) frames "
            f"{t['held_back_gain_rgb']:+.2f} dB RGB / {t['held_back_gain_y']:+.2f} dB Y. "
            + _plate_text(t.get("plate"))
            + f"Profile {result['profile']['bytes']:,} bytes. Decode "
            f"{result['decode_s']['profile']:.3f} s a frame (bundled "
            f"{result['decode_s']['bundled']:.3f} s).",
            "",
        ]
    lines += md_table(
        ["BD-rate", "RGB", "Y"],
        [
            [
                "profile vs bundled",
                fmt(bd["profile_vs_bundled_rgb"]),
                fmt(bd["profile_vs_bundled_y"]),
            ],
            [
                "profile vs SVT-AV1 alone",
                fmt(bd["profile_vs_svtav1_rgb"]),
                fmt(bd["profile_vs_svtav1_y"]),
            ],
            [
                "bundled vs SVT-AV1 alone",
                fmt(bd["bundled_vs_svtav1_rgb"]),
                fmt(bd["bundled_vs_svtav1_y"]),
            ],
            [
                "profile without its scene plate vs bundled (not measured when its network "
                "sees the plate)",
                fmt(bd.get("no_plate_vs_bundled_rgb")),
                fmt(bd.get("no_plate_vs_bundled_y")),
            ],
        ],  # fmt: skip
        "lrr",
    )
    lines.append("")
    head = ["method", "points: CRF -> bpp, PSNR RGB / Y (candidate)"]
    rows = [
        [name, ", ".join(
            f"{p['setting']} -> {p['bpp']:.4f}, {p['psnr']:.2f} / {p['psnr_y']:.2f} "
            f"({p['candidate']})" for p in curve)]
        for name, curve in result["curves"].items()
    ]  # fmt: skip
    return lines + md_table(head, rows, "ll")


def _plate_text(plate: dict | None) -> str:
    if not plate:
        return "No scene plate (it did not gain on the held-back frames). "
    return (
        f"Scene plate: the median of {plate['frames']} frames, strength {plate['strength']:g}, "
        f"{plate['gain_db']:+.2f} dB RGB on the held-back frames. "
    )
