"""How much of a real decode is the network: decode an archive of the sample frames to PNGs
(read, low-resolution decode, restore, PNG write: ``srcodec.decode_to_folder``) with the model
loaded once, and compare its wall time with the network restoring the same frames alone.

Runs as its own process, as ``srcodec decode`` does, without importing torch when the engine is
ONNX Runtime (a torch thread pool left spinning in the same process would slow the other
engine and say nothing about a real decode). Best of ``--repeat`` runs of each; JSON on stdout.

    python -m benchmarks.suite._pipeline_share weights/srcodec-photo-x2.safetensors --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import srcodec
from srcodec.inputs import list_frames, read_frame

ROOT = Path(__file__).resolve().parents[2]


def measure(weights: str, threads: int, copies: int, repeat: int) -> dict:
    info = srcodec.list_models([weights])[0]
    frames = [read_frame(p) for p in list_frames(ROOT / "samples" / "frames")] * copies
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "pipeline.src"
        srcodec.encode([(f"f{i:03d}", f) for i, f in enumerate(frames)], archive, weights=[weights])
        restorer = srcodec.make_restorer(info, "cpu", threads=threads)
        with srcodec.open(archive, restorer=restorer) as a:
            lows = [a.lowres(i) for i in range(len(a))]
        for lr in lows[:2]:
            restorer.restore(lr)  # warm-up at the real input size
        alone, walls = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for lr in lows:
                restorer.restore(lr)
            alone.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            srcodec.decode_to_folder(archive, Path(tmp) / "out", force=True, restorer=restorer)
            walls.append(time.perf_counter() - t0)
    return {
        "engine": restorer.engine,
        "threads": threads,
        "frames": len(lows),
        "wall_s": min(walls),
        "network_alone_s": min(alone),
        "share": min(alone) / min(walls),
        "torch_imported": "torch" in sys.modules,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--copies", type=int, default=4, help="copies of the 4 sample frames")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps(measure(args.weights, args.threads, args.copies, args.repeat)))


if __name__ == "__main__":
    main()
