"""One short GPU run, for sessions that have a CUDA GPU (exits 3 without one; about a minute):

1. whole archives: decode frames/s (read, low-resolution decode, restore) and peak GPU memory,
   fp32, for 400x400 frames and one 1920x1080 frame, and how far the GPU's frames are from the
   CPU's (rounding only is expected);
2. the network alone: frames/s on 400x400 frames at batch 1, 8 and 32 in fp32, fp16 and bf16,
   with the largest grey-level difference from fp32 and the PSNR (RGB, shave 2) against the
   original frames, so the cost of half precision is a measured figure.

    python -m benchmarks.gpu.gpu_check [--weights my.safetensors ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import srcodec
from srcodec.engines.choose import PRECISIONS, Restorer
from srcodec.metrics import psnr
from srcodec.models.store import DEFAULT_MODEL, get_model, inspect_weights, load_weights
from srcodec.resample import downscale

from ..suite.speed import frame_sets


def sync_time() -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


def peak_mib() -> int:
    return round(torch.cuda.max_memory_allocated() / 2**20) if torch.cuda.is_available() else 0


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def archive_runs(weights: list[str], repeat: int, device: str) -> list[dict]:
    sets = frame_sets()
    sets["400x400"] = [(f"f{i}", f) for i, (_, f) in enumerate(sets["400x400"] * repeat)]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, frames in sets.items():
            path = Path(tmp) / f"{size}.src"
            # png: the low-resolution codec every install has (imagecodecs may be missing here)
            srcodec.encode(frames, path, weights=weights, codec="png")
            with srcodec.open(path, device=device, weights=weights) as archive:
                archive.restorer.restore(archive.lowres(0)[:32, :32])  # load and warm up
                reset_peak()
                t0 = sync_time()
                restored = [f for _, f in archive.frames()]
                seconds = sync_time() - t0
                model_id = archive.header.model_id
            with srcodec.open(path, device="cpu", weights=weights) as archive:
                cpu = archive[0]
            diff = np.abs(cpu.astype(int) - restored[0].astype(int))
            runs.append(
                {
                    "model": model_id,
                    "frames": f"{len(frames)} x {size}",
                    "fps": round(len(frames) / seconds, 2),
                    "gpu_peak_mib": peak_mib(),
                    "max_abs_diff_vs_cpu": int(diff.max()),
                    "pixels_differing_vs_cpu": round(float((diff > 0).mean()), 6),
                }
            )
    return runs


def network_runs(model_path: Path, frames: int, device: str) -> list[dict]:
    info = inspect_weights(model_path)
    hr = [f for _, f in frame_sets()["400x400"]]
    lr = [downscale(f) for f in hr]
    batch_lr = (lr * math.ceil(frames / len(lr)))[:frames]
    h, w = lr[0].shape[:2]
    runs, reference = [], None
    for precision in PRECISIONS if device == "cuda" else ["fp32"]:
        model, _ = load_weights(info.path, info.sha256)
        for batch in (1, 8, 32):
            tile = int(math.sqrt(batch * h * w)) + 1  # a tile budget of exactly `batch` frames
            r = Restorer(model, device, tile=tile, precision=precision)
            out = r.restore_batch(lr, [(f.shape[1], f.shape[0]) for f in hr])
            r.restore_batch(batch_lr[:batch], [(2 * w, 2 * h)] * batch)  # warm up this shape
            reset_peak()
            t0 = sync_time()
            r.restore_batch(batch_lr, [(2 * w, 2 * h)] * len(batch_lr))
            seconds = sync_time() - t0
            if reference is None:
                reference = out
            pairs = zip(out, reference, strict=True)
            diff = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in pairs)
            quality = zip(hr, out, strict=True)
            runs.append(
                {
                    "model": info.short_id,
                    "precision": precision,
                    "batch": batch,
                    "fps_400x400": round(len(batch_lr) / seconds, 1),
                    "gpu_peak_mib": peak_mib(),
                    "max_abs_diff_vs_fp32": diff,
                    "psnr_rgb": round(float(np.mean([psnr(a, b) for a, b in quality])), 3),
                }
            )
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--weights", action="append", default=[], help="model files (repeatable)")
    ap.add_argument("--repeat", type=int, default=16, help="copies of the 4 sample frames")
    ap.add_argument("--frames", type=int, default=256, help="frames per network timing")
    ap.add_argument("--json", default=None, help="also write the report here")
    ap.add_argument("--device", default="cuda", help="cpu: a dry run of this script")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU: nothing measured", file=sys.stderr)
        return 3
    report = {
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(["python", *sys.argv]),
        "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else "none",
        "torch": torch.__version__,
        "archives": [],
        "network": [],
    }
    paths = [Path(w) for w in args.weights] or [get_model(DEFAULT_MODEL).path]
    for path in paths:
        report["archives"] += archive_runs([str(path)], args.repeat, args.device)
        report["network"] += network_runs(path, args.frames, args.device)
        print(json.dumps(report, indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
