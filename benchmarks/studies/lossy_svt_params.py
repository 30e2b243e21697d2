"""SVT-AV1 settings for lossy archives (issue 23): ``srcodec.av1``'s stream with extra
``svtav1-params`` on validation vtest frames (before 636), one stream (or streams of
``--group`` frames, as a recorder codes them); BD-rate RGB and Y of each against srcodec's
settings (preset 6, ``keyint=-1``).

    python -m benchmarks.studies.lossy_svt_params --out lossy_svt_params.json
    python -m benchmarks.studies.lossy_svt_params --group 60 --variants ,lookahead=16 \
        --out lossy_svt_lookahead.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from srcodec.lowres.lossy import Av1Codec

from ..bdrate import bd_rate
from ..suite._lossy_anchors import read_clip, stream_point

VARIANTS = ["", "aq-mode=0", "enable-overlays=1", "enable-qm=1", "enable-tf=0", "scd=1"]


class _Variant(Av1Codec):
    extra = ""

    def options(self) -> dict[str, str]:
        options = super().options()
        if self.extra:
            options["svtav1-params"] += ":" + self.extra
        return options


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--first", type=int, default=476)
    ap.add_argument("--frames", type=int, default=160)
    ap.add_argument("--crfs", default="38,50,58")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    ap.add_argument("--group", type=int, default=0, help="frames a stream (0: all)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    frames = read_clip(args.first, args.first + args.frames)
    curves: dict[str, list[dict]] = {}
    for extra in args.variants.split(","):
        for crf in map(int, args.crfs.split(",")):
            codec = _Variant(crf, 6)
            codec.extra = extra
            point = {"crf": crf, **_point(codec, frames, args.group or len(frames))}
            print(extra or "default", point, flush=True)
            curves[extra or "default"] = [*curves.get(extra or "default", []), point]
    ref = curves["default"]
    bd = {
        k: [bd_rate([(p["bpp"], p[q]) for p in ref], [(p["bpp"], p[q]) for p in v])
            for q in ("psnr", "psnr_y")]
        for k, v in curves.items()
    }  # fmt: skip
    print(json.dumps(bd))
    result = {"frames": [args.first, args.frames], "curves": curves, "bd_rate": bd}
    if args.group:
        result["group"] = args.group
    args.out.write_text(json.dumps(result, indent=1))


def _point(codec: Av1Codec, frames: list, group: int) -> dict:
    """``stream_point`` of streams of ``group`` frames: bytes summed, PSNR over every frame."""
    points = [stream_point(codec, frames[k : k + group]) for k in range(0, len(frames), group)]
    counts = [len(frames[k : k + group]) for k in range(0, len(frames), group)]
    total = sum(counts)
    return {
        key: sum(p[key] * n for p, n in zip(points, counts, strict=True)) / total
        for key in ("bpp", "psnr", "psnr_y")
    }


if __name__ == "__main__":
    main()
