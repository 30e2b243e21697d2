"""A scene plate for fixed-camera restoration (issue 23, lever 2), as a training-free probe on
validation vtest frames (before 636): how much a still of the scene can add to a decoded frame
where the scene is static, before any network is trained to use it.

The plate is the per-pixel temporal median of the stream's decoded frames (no bytes: the
decoder can build it), or of the original frames coded once as one AV1 key frame at a high
quality (its bytes counted against the rate). Each decoded frame is blended towards the plate
where the two agree: ``out = d + w (plate - d)``, ``w = exp(-(blur|d - plate|)^2 / s^2)``
(a 5x5 box blur of the absolute difference per pixel, summed over RGB), ``s`` swept. PSNR RGB
and Y of every frame, against the stream alone at the same CRF.

    python -m benchmarks.studies.scene_plate --out scene_plate.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from srcodec.lowres.lossy import Av1Codec
from srcodec.metrics import psnr

from ..suite._lossy_anchors import read_clip


def _box(a: np.ndarray, r: int = 2) -> np.ndarray:
    """A (2r+1)^2 box mean of a 2-D array (edges repeated)."""
    p = np.pad(a, r, mode="edge").cumsum(0).cumsum(1)
    p = np.pad(p, ((1, 0), (1, 0)))
    k = 2 * r + 1
    return (p[k:, k:] - p[:-k, k:] - p[k:, :-k] + p[:-k, :-k]) / (k * k)


def _blend(decoded: np.ndarray, plate: np.ndarray, s: float) -> np.ndarray:
    d = decoded.astype(np.float32)
    diff = _box(np.abs(d - plate).sum(axis=2))
    w = np.exp(-((diff / s) ** 2))[..., None]
    return np.clip(np.rint(d + w * (plate - d)), 0, 255).astype(np.uint8)


def _scores(frames, outs) -> tuple[float, float]:
    rgb = np.mean([psnr(a, b) for a, b in zip(frames, outs, strict=True)])
    y = np.mean([psnr(a, b, y=True) for a, b in zip(frames, outs, strict=True)])
    return float(rgb), float(y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--first", type=int, default=476)
    ap.add_argument("--frames", type=int, default=160)
    ap.add_argument("--crfs", default="38,50,58")
    ap.add_argument("--plate-crf", type=int, default=20)
    ap.add_argument("--strengths", default="3,6,12,24")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    frames = read_clip(args.first, args.first + args.frames)
    pixels = frames[0].shape[0] * frames[0].shape[1] * len(frames)
    rows = []
    # The coded plate: the originals' median, one key frame at a high quality.
    median = np.median(np.stack(frames), axis=0).astype(np.uint8)
    pc = Av1Codec(args.plate_crf, 6)
    plate_data = pc.encode_group([median])
    coded_plate = pc.decode_group(plate_data, median.shape[1], median.shape[0], 3, 1)[0]
    for crf in map(int, args.crfs.split(",")):
        codec = Av1Codec(crf, 6)
        data = codec.encode_group(frames)
        h, w = frames[0].shape[:2]
        decoded = codec.decode_group(data, w, h, 3, len(frames))
        base = _scores(frames, decoded)
        row = {"crf": crf, "bpp": 8 * len(data) / pixels, "psnr": base, "plates": {}}
        plates = {
            "median of decoded (0 B)": (np.median(np.stack(decoded), axis=0), 0),
            f"coded median, AV1 CRF {args.plate_crf} ({len(plate_data)} B)": (
                coded_plate.astype(np.float32),
                len(plate_data),
            ),
        }
        for name, (plate, nbytes) in plates.items():
            for s in map(float, args.strengths.split(",")):
                outs = [_blend(d, plate.astype(np.float32), s) for d in decoded]
                rgb, y = _scores(frames, outs)
                row["plates"][f"{name}, s={s:g}"] = {
                    "extra_bpp": 8 * nbytes / pixels,
                    "gain_rgb": rgb - base[0],
                    "gain_y": y - base[1],
                }
                print(crf, name, s, round(rgb - base[0], 3), round(y - base[1], 3), flush=True)
        rows.append(row)
    args.out.write_text(json.dumps({"frames": [args.first, args.frames], "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
