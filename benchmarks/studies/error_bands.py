"""Where the restorations' errors lie: the mean squared error of the luma Y split into spatial
frequency bands, and how PSNR moves when the detail a method adds over bicubic is scaled.

Answers two questions the PSNR tables cannot: at which frequencies does one method beat another
(below the low-resolution Nyquist limit, or in the detail it has to invent above it; along
rows or columns), and is a method's added detail too strong or too weak for the frames (if
scaling it by 1.1 raises PSNR, it restores too little; by 0.9, too much).

    python -m benchmarks.studies.error_bands [--model WEIGHTS] [--set cctv=data/cctv/val:4] \
        [--limit N]

Prints Markdown (docs/error_bands.md is its output for the default sets).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from srcodec import psnr, upscale
from srcodec.metrics import rgb_to_y

from ..context import DEFAULT_SETS, Progress, find_models, load_set, md_table, parse_set
from ..suite.quality import methods

SHAVE = 8  # a wider border than PSNR's 2 px keeps the FFT's wrap-around edge out of the bands
GAINS = (0.8, 0.9, 1.0, 1.1, 1.2)
# Bands of spatial frequency in cycles per HR pixel (0.5 is the HR Nyquist limit); the LR
# frame carries up to 0.25. "across columns" = the larger frequency is horizontal (vertical
# edges, texture along rows); "across rows" = vertical.
HEADER = (
    "Made by `python -m benchmarks.studies.error_bands` (2 min on the 2-core CPU): the bundled "
    "model, "
    "the waifu2x photo model and bicubic, restoring the same low-resolution frames as in "
    "`docs/benchmarks.md`. Bands are in cycles per pixel of the full-resolution frame (0.5 is "
    'its Nyquist limit; the half-resolution frame carries up to 0.25); "across columns" is '
    'detail whose larger frequency is horizontal (vertical edges), "across rows" vertical.'
)
BANDS = ("below 0.125", "0.125-0.25", "above 0.25, across columns", "above 0.25, across rows")


def band_mse(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """MSE of luma Y in each of BANDS; the four add up to the frame's luma MSE (Parseval)."""
    ref = rgb_to_y(reference)[SHAVE:-SHAVE, SHAVE:-SHAVE].astype(np.float64)
    tst = rgb_to_y(test)[SHAVE:-SHAVE, SHAVE:-SHAVE].astype(np.float64)
    power = np.abs(np.fft.fft2(tst - ref)) ** 2 / ref.size**2
    fy = np.abs(np.fft.fftfreq(ref.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(ref.shape[1]))[None, :]
    top = np.maximum(fx, fy)
    masks = (
        top < 0.125,
        (top >= 0.125) & (top < 0.25),
        (top >= 0.25) & (fx > fy),
        (top >= 0.25) & (fx <= fy),
    )
    return np.array([power[np.broadcast_to(m, power.shape)].sum() for m in masks])


def scaled(bicubic: np.ndarray, out: np.ndarray, gain: float) -> np.ndarray:
    """bicubic + gain * (out - bicubic), rounded to 8 bits."""
    b = bicubic.astype(np.float64)
    return np.clip(np.round(b + gain * (out.astype(np.float64) - b)), 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=[], help="extra weights file or id")
    ap.add_argument("--set", dest="sets", action="append", help="name=folder[:stride]")
    ap.add_argument("--limit", type=int, default=None, help="frames per set")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    specs = (
        [parse_set(s) for s in args.sets]
        if args.sets
        else [(n, f, s) for n, (f, s) in DEFAULT_SETS.items()]
    )
    ups, notes = methods(find_models(args.model), args.threads)
    ups = {k: v for k, v in ups.items() if not k.endswith("self-ensemble")}
    log = Progress()
    lines = ["# Where the errors lie", "", HEADER, ""]
    lines += notes
    for name, folder, stride in specs:
        s = load_set(name, folder, stride, args.limit)
        bands = {m: np.zeros(len(BANDS)) for m in ups}
        gains = {m: np.zeros(len(GAINS)) for m in ups if m != "bicubic"}
        for i, p in enumerate(s.pairs):
            size = (p.hr.shape[1], p.hr.shape[0])
            bic = upscale(p.lr, size)
            for m, up in ups.items():
                out = bic if m == "bicubic" else up(p.lr, size)
                bands[m] += band_mse(p.hr, out) / len(s.pairs)
                if m != "bicubic":
                    gains[m] += [psnr(p.hr, scaled(bic, out, g)) / len(s.pairs) for g in GAINS]
            log(f"{name}: {i + 1}/{len(s.pairs)} {p.name}")
        lines += [
            f"## {name}: {s.describe()}",
            "",
            "Luma MSE by frequency band (cycles/pixel):",
            "",
        ]
        head = ["method", *BANDS, "total"]
        rows = [[m, *(f"{v:.2f}" for v in b), f"{b.sum():.2f}"] for m, b in bands.items()]
        lines += md_table(head, rows, "l" + "r" * (len(BANDS) + 1)) + [""]
        lines += ["PSNR RGB (dB) with the detail added over bicubic scaled by a gain:", ""]
        head = ["method", *(f"x{g}" for g in GAINS)]
        rows = [[m, *(f"{v:.3f}" for v in g)] for m, g in gains.items()]
        lines += md_table(head, rows, "l" + "r" * len(GAINS)) + [""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
