"""Adaptation: encode a folder with ``--adapt`` (real archive, real update) and measure, on the
archived frames and on later frames the tuning never saw, the PSNR of the general model, of the
model with the archive's update (onnx fp32 engine, as decode runs it) and of bicubic.

    python -m benchmarks.studies.adapt_tradeoffs ARCHIVED/ LATER/ --seconds 540 --out trial.json
    python -m benchmarks.studies.adapt_tradeoffs ARCHIVED/ LATER/ --rank 8 --schedule constant ...

Defaults are ``encode --adapt``'s (``AdaptConfig()``), but for the budget (``--seconds``).

With ``--camera FRAMES/`` it measures a camera model instead: tuned (adapt.adapt_camera) on
those frames, then run on the archived and later frames, which it never saw.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.writer import encode
from srcodec.engines.choose import make_restorer
from srcodec.inputs import list_frames, read_frame
from srcodec.metrics import psnr
from srcodec.models.store import DEFAULT_MODEL, get_model
from srcodec.models.update import archive_update
from srcodec.resample import downscale, upscale
from srcodec.training.adapt import AdaptConfig


def measure(restorer, files: list[Path]) -> dict:
    rows = {"rgb": [], "y": [], "bic_rgb": [], "bic_y": []}
    for f in files:
        hr = read_frame(f)
        lr, size = downscale(hr), (hr.shape[1], hr.shape[0])
        for key, out in (("", restorer.restore(lr, size)), ("bic_", upscale(lr, size))):
            rows[key + "rgb"].append(psnr(hr, out))
            rows[key + "y"].append(psnr(hr, out, y=True))
    return {k: round(float(np.mean(v)), 3) for k, v in rows.items()}


def files_of(args) -> dict[str, list[Path]]:
    return {
        "archived": list_frames(args.archived)[:: args.stride],
        "later": list_frames(args.later),
    }


def general_psnr(args, info, files) -> dict:
    """The general model's PSNR, cached in ``--general-cache`` (it is the same for every trial)."""
    if args.general_cache and args.general_cache.is_file():
        return json.loads(args.general_cache.read_text())
    restorer = make_restorer(info, "cpu", "onnx")
    general = {k: measure(restorer, v) for k, v in files.items()}
    if args.general_cache:
        args.general_cache.write_text(json.dumps(general, indent=1))
    return general


def camera(args, info, cfg: AdaptConfig) -> None:
    from srcodec.inputs import read_images
    from srcodec.models.store import inspect_weights
    from srcodec.training.adapt import adapt_camera

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cam.safetensors"
        start = time.perf_counter()
        _, r = adapt_camera(info, read_images(args.camera), path, cfg, name="cam", progress=True)
        wall = time.perf_counter() - start
        files = files_of(args)
        tuned = make_restorer(inspect_weights(path), "cpu", "torch")
        result = {
            "camera_frames": str(args.camera),
            "blocks": args.blocks,
            "budget_s": args.seconds,
            "threads": args.threads,
            "steps": r.steps,
            "wall_s": round(wall, 1),
            "held_back": r.summary(),
            "general": general_psnr(args, info, files),
            "adapted": {k: measure(tuned, v) for k, v in files.items()},
            "load_avg": os.getloadavg(),
        }
    args.out.write_text(json.dumps(result, indent=1))
    for k in files:
        g, a = result["general"][k], result["adapted"][k]
        print(f"{k}: general {g['rgb']:.2f}/{g['y']:.2f}  camera {a['rgb']:.2f}/{a['y']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("archived", type=Path)
    ap.add_argument("later", type=Path)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    # Defaults: those of ``encode --adapt`` (AdaptConfig), but for the budget.
    d = AdaptConfig()
    ap.add_argument("--blocks", default="all", help="last residual blocks tuned, or 'all'")
    ap.add_argument("--seconds", type=float, default=240)
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--rank", type=int, default=d.rank, help="low-rank updates (0: dense)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads while tuning")
    ap.add_argument("--patch", type=int, default=d.patch, help="low-resolution patch size")
    ap.add_argument("--batch", type=int, default=d.batch, help="patches per step")
    ap.add_argument("--schedule", default=d.schedule, help="learning rate: constant or cosine")
    ap.add_argument("--precision", default=d.precision, help="tuning: auto, fp32, bf16")
    ap.add_argument("--qat", type=float, default=d.qat, help="last share trained quantised")
    ap.add_argument(
        "--target-share", type=float, default=d.target_share, help="fit the update to this share"
    )
    ap.add_argument("--stride", type=int, default=4, help="archived frames measured: every Nth")
    ap.add_argument("--general-cache", type=Path, default=None)
    ap.add_argument("--camera", type=Path, default=None, help="tune a camera model on these")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    info = get_model(args.model)
    blocks = None if args.blocks == "all" else int(args.blocks)
    cfg = AdaptConfig(
        blocks=blocks,
        rank=args.rank,
        seconds=args.seconds,
        lr=args.lr,
        max_share=1.0,
        threads=args.threads,
        patch=args.patch,
        batch=args.batch,
        schedule=args.schedule,
        precision=args.precision,
        qat=args.qat,
        target_share=args.target_share,
    )
    cfg.min_gain_db = -99.0  # measure every update, kept or not by the default policy
    if args.camera is not None:
        return camera(args, info, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        plain, adapted = Path(tmp) / "plain.src", Path(tmp) / "adapted.src"
        start = time.perf_counter()
        encode(args.archived, plain)
        plain_s = time.perf_counter() - start
        start = time.perf_counter()
        s = encode(args.archived, adapted, adapt=cfg, progress=True)
        adapted_s = time.perf_counter() - start
        with ArchiveReader(adapted) as reader:
            update = archive_update(reader)
        plain_bytes = plain.stat().st_size
    files = files_of(args)
    general = general_psnr(args, info, files)
    tuned = make_restorer(info, "cpu", "onnx", update=update)
    result = {
        "model": info.short_id,
        "blocks": args.blocks,
        "rank": args.rank,
        "budget_s": args.seconds,
        "lr": args.lr,
        "threads": args.threads,
        "patch": args.patch,
        "batch": args.batch,
        "schedule": args.schedule,
        "precision": args.precision,
        "qat": args.qat,
        "target_share": args.target_share,
        "steps": s.adapted.steps,
        "tuned_parameters": s.adapted.parameters,
        "update_bytes": s.update_bytes,
        "archive_bytes": s.archive_bytes,
        "plain_archive_bytes": plain_bytes,
        "plain_encode_s": round(plain_s, 1),
        "adapted_encode_s": round(adapted_s, 1),
        "held_back": s.adapted.summary(),
        "general": general,
        "adapted": {k: measure(tuned, v) for k, v in files.items()},
        "frames_measured": {k: [f.name for f in v] for k, v in files.items()},
        "load_avg": os.getloadavg(),
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("blocks", "rank", "steps", "update_bytes")}))
    for k in files:
        g, a = result["general"][k], result["adapted"][k]
        print(f"{k}: general {g['rgb']:.2f}/{g['y']:.2f}  adapted {a['rgb']:.2f}/{a['y']:.2f}")


if __name__ == "__main__":
    main()
