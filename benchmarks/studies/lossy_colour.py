"""The RGB -> YUV 4:2:0 conversion in front of a lossy archive's encoder (issue 23): PyAV's
``reformat`` filters (bilinear, PyAV's default; bicubic, FFmpeg's command line's default;
area; lanczos) on validation vtest frames (before 636), SVT-AV1 preset 6 as ``srcodec.av1``
codes them, decoded as the archive decodes them; BD-rate (RGB and Y) of each against bilinear.

    python -m benchmarks.studies.lossy_colour --out lossy_colour.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from srcodec.lowres.lossy import Av1Codec

from ..bdrate import bd_rate
from ..suite._lossy_anchors import read_clip, stream_point


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--first", type=int, default=556)
    ap.add_argument("--frames", type=int, default=80)
    ap.add_argument("--crfs", default="30,38,46,54,60")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    frames = read_clip(args.first, args.first + args.frames)
    curves: dict[str, list[dict]] = {}
    for interp in ("BILINEAR", "BICUBIC", "AREA", "LANCZOS"):
        for crf in map(int, args.crfs.split(",")):
            codec = Av1Codec(crf, 6)
            codec.interpolation = interp
            point = {"crf": crf, **stream_point(codec, frames)}
            print(interp, point, flush=True)
            curves.setdefault(interp, []).append(point)
    ref = curves["BILINEAR"]
    bd = {
        k: {
            y: bd_rate([(p["bpp"], p[y]) for p in ref], [(p["bpp"], p[y]) for p in v])
            for y in ("psnr", "psnr_y")
        }
        for k, v in curves.items()
    }
    print(json.dumps(bd, indent=1))
    args.out.write_text(
        json.dumps({"frames": [args.first, args.frames], "curves": curves, "bd_rate": bd}, indent=1)
    )


if __name__ == "__main__":
    main()
