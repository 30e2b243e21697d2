"""One short GPU run: decode frames/s and peak GPU memory of the bundled model (or --weights) on
CUDA, for 400x400 frames and one 1920x1080 frame, and that GPU and CPU restore the same frames
to within rounding. For sessions with a GPU; exits 3 without one. Under a minute on one GPU.

    python benchmarks/gpu_check.py [--weights my.safetensors] [--repeat 16]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_speed import frame_sets

import srcodec


def timed_decode(path: Path, device: str) -> tuple[float, int, list[np.ndarray]]:
    with srcodec.open(path, device=device) as archive:
        archive.restorer.restore(archive.lowres(0)[:32, :32])  # load and warm up
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        frames = [f for _, f in archive.frames()]
        torch.cuda.synchronize()
        return time.perf_counter() - t0, torch.cuda.max_memory_allocated(), frames


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weights", action="append", default=[])
    ap.add_argument("--repeat", type=int, default=16, help="copies of the 400x400 frames")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU: nothing measured", file=sys.stderr)
        return 3
    sets = frame_sets()
    sets["400x400"] = [(f"f{i}", f) for i, (_, f) in enumerate(sets["400x400"] * args.repeat)]
    report = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for size, frames in sets.items():
            path = Path(tmp) / f"{size}.src"
            srcodec.encode(frames, path, weights=args.weights)
            seconds, peak, restored = timed_decode(path, "cuda")
            # The same first frame on the CPU: results may differ by rounding only.
            with srcodec.open(path, device="cpu", weights=args.weights) as archive:
                cpu = archive[0]
            diff = np.abs(cpu.astype(int) - restored[0].astype(int))
            report["runs"].append(
                {
                    "frames": f"{len(frames)} x {size}",
                    "fps": round(len(frames) / seconds, 2),
                    "gpu_peak_mib": round(peak / 2**20),
                    "max_abs_diff_vs_cpu": int(diff.max()),
                    "pixels_differing_vs_cpu": float((diff > 0).mean()),
                }
            )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
