"""Milliseconds per 400x400 output frame (the engines suite's 200x200 low-resolution input) of
one model on one engine, alone in a fresh process: torch eager fp32 or ONNX Runtime fp32 / int8
as the decoder runs it (``OrtRestorer``), best and median of 12 runs after two warm-ups. Engines
timed in one process take turns with each other's thread pools (ONNX Runtime's spin after each
run and slow torch down), so the issue 15 speed ratios are quoted from this, one process per
engine:

    for m in srcodec-photo-x2 srcodec-fast-x2; do for e in eager fp32 int8; do
        python -m benchmarks.studies.isolated_speed $e $m; done; done
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from srcodec.engines.ortengine import OrtRestorer
from srcodec.models.store import find_onnx, load_weights

from ..context import model_info
from ..suite.engines import bench_inputs, torch_forward


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("engine", choices=["eager", "fp32", "int8"])
    ap.add_argument("model", help="model id, name or weights file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=12)
    args = ap.parse_args()
    info = model_info(args.model)
    x = bench_inputs()["200x200"]
    if args.engine == "eager":
        import torch

        torch.set_num_threads(args.threads)
        run = torch_forward(load_weights(info.path, info.sha256)[0], False)
    else:
        path = find_onnx(info, args.engine)
        if path is None:
            raise SystemExit(f"{info.short_id} has no {args.engine} export")
        run = OrtRestorer(path, info.id, threads=args.threads).forward_float
    run(x)
    run(x)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    best, median = 1000 * min(times), 1000 * float(np.median(times))
    print(f"{info.short_id} {args.engine}: best {best:.0f} ms, median {median:.0f} ms, "
          f"{1000 / best:.1f} frames/s ({args.threads} threads)")  # fmt: skip


if __name__ == "__main__":
    main()
