"""int8 against fp32 on held-out frames of every kind, frame by frame: photos, CCTV frames and clean
content (photos shrunk once more, dark and bright photos, synthetic gradients with a few edges),
with the worst frame of each set, and the speed of torch eager, ONNX Runtime fp32 and int8.

    PYTHONPATH=. python benchmarks/bench_int8.py                     # the shipped exports
    PYTHONPATH=. python benchmarks/bench_int8.py --int8 old=a.int8.onnx --json out.json

Quality: PSNR against the original frame (``srcodec.psnr``: RGB and Y, 2 px shaved) of the
fp32 export and of each int8 file on the same low-resolution input (``srcodec.downscale``);
the table gives per set the mean fp32 PSNR, the mean int8 - fp32 difference and the worst
frame's. Speed: ms per 400x400 output frame (200x200 input), 2 threads, best of ``--repeat``
rounds after a warm-up, engines taking turns. Never calibrate on these frames.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from common import ROOT, machine

from srcodec.frames import iter_video, list_frames, read_frame, to_rgb
from srcodec.metrics import psnr
from srcodec.ortengine import OrtRestorer
from srcodec.registry import DEFAULT_MODEL, list_models, onnx_name
from srcodec.resample import downscale

VTEST = Path("/work/cache/opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi")
#: The first vtest frame of the held-out part (the frames before it are training frames).
VTEST_HELD_OUT = 636
PHOTOS = ("astronaut", "chelsea", "coffee", "motorcycle_left", "motorcycle_right", "rocket")

Frame = tuple[str, np.ndarray]


def _even(hr: np.ndarray) -> np.ndarray:
    hr = to_rgb(hr)
    return hr[: hr.shape[0] // 2 * 2, : hr.shape[1] // 2 * 2]


def photos() -> list[Frame]:
    """The evaluation photographs: data/eval (benchmarks/prepare_data.py), else scikit-image's."""
    folder = ROOT / "data" / "eval"
    if folder.is_dir():
        return [(p.stem, _even(read_frame(p))) for p in list_frames(folder)]
    import skimage.data

    return [(n, _even(getattr(skimage.data, n)())) for n in PHOTOS[:5]]


def cctv(stride: int = 8) -> list[Frame]:
    """Held-out vtest frames (index 636 and on), every ``stride``-th."""
    folder = ROOT / "data" / "cctv" / "val"
    if folder.is_dir():
        frames = [(p.stem, read_frame(p)) for p in list_frames(folder)]
    else:
        frames = [(n, f) for i, (n, f) in enumerate(iter_video(VTEST)) if i >= VTEST_HELD_OUT]
        frames = frames[::2]  # data/cctv/val keeps every other frame
    return [(n, _even(f)) for n, f in frames[::stride]]


def _synthetic(seed: int, size: int = 384) -> np.ndarray:
    """Smooth colour gradients with a few hard-edged flat shapes: clean camera-like content."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.empty((size, size, 3))
    for c in range(3):
        a, b, d = rng.uniform(-1, 1, 3)
        img[..., c] = 128 + 90 * np.tanh(a * x + b * y + d * (x - 0.5) * (y - 0.5))
    for _ in range(4):
        cy, cx, r = rng.uniform(0.15, 0.85, 2).tolist() + [rng.uniform(0.05, 0.15)]
        disc = (y - cy) ** 2 + (x - cx) ** 2 < r * r
        img[disc] = rng.uniform(30, 225, 3)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def clean(base: list[Frame]) -> list[Frame]:
    """High-PSNR content made from ``base`` (held-out photos): each shrunk once more, darkened,
    brightened, and synthetic gradients."""
    out: list[Frame] = []
    for name, hr in base:
        f = hr.astype(np.float32)
        out.append((f"{name}-smooth", _even(downscale(hr))))
        out.append((f"{name}-dark", np.rint(f * 0.25).astype(np.uint8)))
        out.append((f"{name}-bright", np.rint(255 - (255 - f) * 0.3).astype(np.uint8)))
    out += [(f"gradient-{s}", _synthetic(s)) for s in (1, 2, 3)]
    return out


def eval_sets(cctv_stride: int = 8) -> dict[str, list[Frame]]:
    base = photos()
    return {"photos": base, "cctv": cctv(cctv_stride), "clean": clean(base)}


def restore_all(restorer: OrtRestorer, sets: dict[str, list[Frame]]) -> dict[str, list]:
    """Per set, per frame: (name, PSNR RGB, PSNR Y) of ``restorer``'s restoration."""
    scores: dict[str, list] = {}
    for set_name, frames in sets.items():
        rows = []
        for name, hr in frames:
            sr = restorer.restore(downscale(hr))
            rows.append((name, psnr(hr, sr), psnr(hr, sr, y=True)))
        scores[set_name] = rows
    return scores


def compare(fp32: dict[str, list], int8: dict[str, list]) -> dict[str, dict]:
    """Per set: mean fp32 PSNR, mean and worst-frame int8 - fp32 difference (RGB and Y)."""
    out = {}
    for set_name, ref in fp32.items():
        rgb = [b[1] - a[1] for a, b in zip(ref, int8[set_name], strict=True)]
        y = [b[2] - a[2] for a, b in zip(ref, int8[set_name], strict=True)]
        worst = int(np.argmin(rgb))
        out[set_name] = {
            "frames": len(ref),
            "fp32_rgb": float(np.mean([a[1] for a in ref])),
            "delta_rgb": float(np.mean(rgb)),
            "delta_y": float(np.mean(y)),
            "worst_rgb": float(rgb[worst]),
            "worst_y": float(min(y)),
            "worst_frame": ref[worst][0],
        }
    return out


def timings(engines: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best ms per call of each engine: one warm-up each, then ``repeat`` rounds in turn."""
    best = dict.fromkeys(engines, float("inf"))
    for fn in engines.values():
        fn()
    for _ in range(repeat):
        for name, fn in engines.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], (time.perf_counter() - t0) * 1000)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--int8", action="append", default=[], metavar="LABEL=FILE")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cctv-stride", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    # The default model (the bundled x1 restoration models have no int8 export).
    info = next(m for m in list_models() if m.source == "bundled" and m.name == DEFAULT_MODEL)
    # This checkout's exports (an editable install may resolve the bundled ones elsewhere).
    files = {"shipped": ROOT / "weights" / onnx_name(info, "int8")}
    files.update(dict(spec.split("=", 1) for spec in args.int8))
    fp32 = OrtRestorer(ROOT / "weights" / onnx_name(info, "fp32"), info.id, threads=args.threads)
    int8 = {
        label: OrtRestorer(path, info.id, threads=args.threads) for label, path in files.items()
    }

    sets = eval_sets(args.cctv_stride)
    ref = restore_all(fp32, sets)
    quality = {label: compare(ref, restore_all(r, sets)) for label, r in int8.items()}

    torch.set_num_threads(args.threads)
    from srcodec.registry import load_model

    model, _ = load_model(info.path, info.sha256, info.source)
    lr = downscale(photos()[0][1])[:200, :200]
    x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)[None], np.float32))

    def eager() -> None:
        with torch.no_grad():
            model(x)

    engines = {"torch eager fp32": eager, "ort fp32": lambda: fp32.restore(lr)}
    engines.update({f"ort int8 {k}": (lambda r=r: r.restore(lr)) for k, r in int8.items()})
    speed = timings(engines, args.repeat)

    print(
        f"{'int8':<12}{'set':<8}{'n':>3}{'fp32 dB':>9}{'d RGB':>8}{'d Y':>8}{'worst':>8}"
        f"{'worst Y':>8}  worst frame"
    )
    for label, sets_q in quality.items():
        for set_name, q in sets_q.items():
            print(
                f"{label:<12}{set_name:<8}{q['frames']:>3}{q['fp32_rgb']:>9.2f}"
                f"{q['delta_rgb']:>+8.3f}{q['delta_y']:>+8.3f}{q['worst_rgb']:>+8.3f}"
                f"{q['worst_y']:>+8.3f}  {q['worst_frame']}"
            )
    eager_ms = speed["torch eager fp32"]
    print(f"\nms per 400x400 output frame, {args.threads} threads:")
    for name, ms in speed.items():
        print(f"  {name:<24}{ms:8.1f} ms  {eager_ms / ms:5.2f}x eager")
    if args.json:
        result = {
            "machine": machine(),
            "threads": args.threads,
            "files": {k: str(v) for k, v in files.items()},
            "quality": quality,
            "per_frame": {"fp32": ref},
            "ms_per_400x400": speed,
        }
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
