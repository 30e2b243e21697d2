"""Key-frame spacing of lossy archives (issue 23): validation vtest frames (before 636) coded by
``srcodec.av1`` as streams of ``group`` frames, each opening with its only key frame; bytes and
PSNR RGB/Y of every frame at a few CRFs, BD-rate of each spacing against the shortest.

    python -m benchmarks.studies.lossy_keyint --out lossy_keyint.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from srcodec.lowres.lossy import Av1Codec
from srcodec.metrics import psnr

from ..bdrate import bd_rate
from ..suite._lossy_anchors import read_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--first", type=int, default=36)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--groups", default="60,150,300,600")
    ap.add_argument("--crfs", default="34,46,56")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    frames = read_clip(args.first, args.first + args.frames)
    pixels = frames[0].shape[0] * frames[0].shape[1] * len(frames)
    curves: dict[str, list[dict]] = {}
    for group in map(int, args.groups.split(",")):
        for crf in map(int, args.crfs.split(",")):
            codec, nbytes, rgb, y = Av1Codec(crf, 6), 0, [], []
            for start in range(0, len(frames), group):
                run = frames[start : start + group]
                extradata, packets = codec._encode_stream(run)
                decoded = codec._decode_stream(extradata, packets, run[0].shape, len(run))
                nbytes += len(extradata) + sum(map(len, packets))
                rgb += [psnr(a, b) for a, b in zip(run, decoded, strict=True)]
                y += [psnr(a, b, y=True) for a, b in zip(run, decoded, strict=True)]
            point = {
                "crf": crf,
                "bpp": 8 * nbytes / pixels,
                "psnr": float(np.mean(rgb)),
                "psnr_y": float(np.mean(y)),
            }
            print(group, point, flush=True)
            curves.setdefault(str(group), []).append(point)
    ref = curves[args.groups.split(",")[0]]
    bd = {
        k: {
            q: bd_rate([(p["bpp"], p[q]) for p in ref], [(p["bpp"], p[q]) for p in v])
            for q in ("psnr", "psnr_y")
        }
        for k, v in curves.items()
    }
    print(json.dumps(bd, indent=1))
    result = {"frames": [args.first, args.frames], "curves": curves, "bd_rate": bd}
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
