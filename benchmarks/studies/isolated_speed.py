"""Milliseconds per 400x400 output frame (a sample frame's 200x200 low-resolution crop) of one
model on one engine, alone in a fresh process: torch eager fp32, ONNX Runtime fp32 or int8, 2
threads, best and median of 12 runs after two warm-ups. Engines timed in one process take turns
with each other's thread pools (ONNX Runtime's spin after each run and slow torch down), so the
issue 15 speed ratios are quoted from this, one process per engine:

    for m in srcodec-photo-x2 srcodec-fast-x2; do for e in eager fp32 int8; do
        python -m benchmarks.studies.isolated_speed $e $m; done; done
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from srcodec.frames import list_frames, read_frame
from srcodec.registry import find_onnx, load_model
from srcodec.resample import downscale

from ..context import ROOT, model_info


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
    frame = downscale(read_frame(list_frames(ROOT / "samples" / "frames")[0]))
    x = np.ascontiguousarray(frame[:200, :200].transpose(2, 0, 1)[None], np.float32)
    if args.engine == "eager":
        import torch

        torch.set_num_threads(args.threads)
        model, _ = load_model(info.path, info.sha256)
        model.eval()
        tensor = torch.from_numpy(x)

        def run() -> None:
            with torch.no_grad():
                model(tensor)
    else:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        path = find_onnx(info, args.engine)
        if path is None:
            raise SystemExit(f"{info.short_id} has no {args.engine} export")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def run() -> None:
            session.run(None, {name: x})

    run()
    run()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    best, median = 1000 * min(times), 1000 * float(np.median(times))
    print(f"{info.short_id} {args.engine}: best {best:.0f} ms, median {median:.0f} ms, "
          f"{1000 / best:.1f} frames/s ({args.threads} threads)")  # fmt: skip


if __name__ == "__main__":
    main()
