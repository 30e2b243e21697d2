"""Dask scale-out: frames per second restoring the same low-resolution frames with srcodec.dask
on 1 worker x 1 thread and on 2 workers x 1 thread (local processes, ONNX Runtime, one network
thread per worker), in one run; prints both, their ratio (issue 12's goal: >= 1.8x) and the load.

    PYTHONPATH=$PWD python benchmarks/bench_parallel.py [--frames 16] [--workers 1 2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from srcodec.dask import cached_restorer, restore  # noqa: E402
from srcodec.resample import downscale  # noqa: E402

SAMPLES = ROOT / "samples" / "frames"
#: Low-resolution frame size (W, H): a 768x576 camera (vtest's size) archived at half size.
LOWRES = (384, 288)


def test_frames(count: int) -> np.ndarray:
    """``count`` distinct low-resolution frames made from the sample CCTV frames: 2x2 mosaics
    of them, in turn, cropped to 768x576 and downscaled as the encoder does."""
    tiles = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(SAMPLES.glob("*.png"))]
    w, h = LOWRES[0] * 2, LOWRES[1] * 2
    frames = []
    for i in range(count):
        order = [tiles[(i + k) % len(tiles)] for k in range(4)]
        mosaic = np.concatenate(
            [np.concatenate(order[:2], axis=1), np.concatenate(order[2:], axis=1)], axis=0
        )
        dy, dx = (i * 7) % (mosaic.shape[0] - h + 1), (i * 3) % (mosaic.shape[1] - w + 1)
        frames.append(downscale(np.ascontiguousarray(mosaic[dy : dy + h, dx : dx + w])))
    return np.stack(frames)


def _warm(model: str | None, engine: str) -> str:
    cached_restorer(model, engine=engine, threads=1)
    return f"pid {os.getpid()}"


def measure(frames: np.ndarray, workers: int, model: str | None, engine: str, repeat: int) -> float:
    """Best frames/s of ``repeat`` runs on a fresh local cluster of ``workers`` processes."""
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    single = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
            env=single,
        ) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        client.run(_warm, model, engine)  # every worker loads the model before timing
        best = 0.0
        for i in range(repeat):
            # A new name each run: the cluster must not find the last run's results.
            blocks = da.from_array(frames, chunks=(1, *frames.shape[1:]), name=f"lowres-{i}")
            lazy = restore(blocks, model, engine=engine, threads=1)
            start = time.perf_counter()
            done = client.persist(lazy)
            wait(done)
            best = max(best, len(frames) / (time.perf_counter() - start))
            del done
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--model", default=None, help="Model id (default: the bundled one).")
    parser.add_argument("--engine", default="onnx", choices=["onnx", "torch"])
    args = parser.parse_args()
    frames = test_frames(args.frames)
    print(f"{len(frames)} frames of {LOWRES[0]}x{LOWRES[1]} low-res, engine {args.engine}")
    print(f"load before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rates = {}
    for n in args.workers:
        rates[n] = measure(frames, n, args.model, args.engine, args.repeat)
        print(f"{n} worker(s) x 1 thread: {rates[n]:.2f} frames/s")
    if 1 in rates:
        for n, rate in rates.items():
            if n != 1:
                print(f"{n} workers / 1 worker: {rate / rates[1]:.2f}x")
    print(f"load after: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1, 5, 15 min)")


if __name__ == "__main__":
    main()
