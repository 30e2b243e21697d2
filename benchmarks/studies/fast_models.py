"""Speed and quality of models' ONNX Runtime exports as the decoder runs them: milliseconds and
frames per second for one 400x400 output frame (a 200x200 low-resolution crop of a sample frame,
one tile), every model and precision taking turns in each round so that load from other
processes on a shared machine falls on all alike (best and median of the rounds); and, with
``--set``, PSNR RGB (2 px shaved) of the very exports on held-out sets: mean and worst frame.

    python -m benchmarks.studies.fast_models srcodec-photo-x2 runs/fast6/fast.safetensors \
        --threads 2 --rounds 15 --set photos=data/eval --set cctv=data/cctv/val:4

Models without exports beside their weights are skipped (export them first: ``srcodec models
--export-onnx FILE --int8 --calibration data/train --onnx-dir DIR`` and copy the weights there).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from srcodec.engines.choose import make_restorer
from srcodec.inputs import list_frames, read_frame
from srcodec.metrics import psnr
from srcodec.models.store import find_onnx
from srcodec.resample import downscale

from ..context import ROOT, load_set, model_info, parse_set


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("models", nargs="+", help="weights files or model ids")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--set", dest="sets", action="append", default=[], help="name=folder[:n]")
    args = ap.parse_args()
    frame = downscale(read_frame(list_frames(ROOT / "samples" / "frames")[0]))
    lr = np.ascontiguousarray(frame[:200, :200])
    runs = {}
    for spec in args.models:
        info = model_info(spec)
        for precision in ("fp32", "int8"):
            if find_onnx(info, precision) is None:
                print(f"{info.short_id}: no {precision} export, skipped")
                continue
            r = make_restorer(info, "cpu", "onnx", precision, threads=args.threads)
            r.restore(lr)  # warm-up
            runs[f"{info.short_id} ({info.config.name}) {precision}"] = r
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, r in runs.items():
            t0 = time.perf_counter()
            r.restore(lr)
            times[name].append(time.perf_counter() - t0)
    sets = [load_set(*parse_set(spec)) for spec in args.sets]
    head = f"| model (ONNX Runtime, {args.threads} threads) | best ms | median ms | frames/s |"
    head += "".join(f" {s.name} dB | {s.name} worst |" for s in sets)
    print(head)
    print("|---" * (4 + 2 * len(sets)) + "|")
    for name, t in times.items():
        best, median = 1000 * min(t), 1000 * float(np.median(t))
        row = f"| {name} | {best:.0f} | {median:.0f} | {1000 / best:.1f} |"
        for s in sets:
            scores = [psnr(p.hr, runs[name].restore(p.lr, p.hr.shape[1::-1])) for p in s.pairs]
            row += f" {np.mean(scores):.3f} | {min(scores):.2f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
