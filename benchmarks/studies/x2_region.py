"""Where the x2 candidate (half resolution + the bundled x2 model) can win the lossy candidate
choice, on validation data only: windows of 60 vtest frames before frame 636 and the validation
photos (data/val). At each AV1 CRF of the scale-1 stream, the x1 candidate (full resolution +
the bundled x1 model) and the x2 candidate at the same bytes (its CRF searched), each scored as
the choice scores them (``srcodec.archive.candidates.Sample``): the x2 - x1 margin in dB. The
recorder and ``encode`` measure x2 only where it can win (``candidates.X2_FROM_SETTING``).

    python -m benchmarks.studies.x2_region --out x2_region.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from srcodec.archive.candidates import Sample, default_candidates, usable_candidates

from ..context import ROOT
from ..suite._lossy_anchors import read_clip

WINDOWS = (0, 144, 288, 432, 576)
CRFS = (30, 40, 48, 55, 59, 62, 63)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--crfs", default=",".join(map(str, CRFS)))
    ap.add_argument("--windows", default=",".join(map(str, WINDOWS)))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    crfs = [int(c) for c in args.crfs.split(",")]
    usable = {c.name: r for c, r, _ in usable_candidates(None, "srcodec.av1")}
    cands = {c.name: c for c in default_candidates("srcodec.av1")}
    samples: dict[str, list[np.ndarray]] = {}
    for first in map(int, args.windows.split(",")):
        samples[f"vtest {first}-{first + 59}"] = read_clip(first, first + 60)
    for photo in sorted((ROOT / "data" / "val").glob("*.png")):
        samples[photo.stem] = [np.asarray(Image.open(photo).convert("RGB"))]
    rows = []
    for name, frames in samples.items():
        sample = Sample(frames, "srcodec.av1")
        for crf in crfs:
            t = time.process_time()
            x1 = sample.measure(cands["x1"], usable["x1"], crf)
            x2_setting = sample.setting_for_rate(2, x1.bpp)
            x2 = sample.measure(cands["x2"], usable["x2"], x2_setting)
            row = {
                "sample": name,
                "crf": crf,
                "bpp": x1.bpp,
                "x1": x1.psnr,
                "x2_crf": x2_setting,
                "x2_bpp": x2.bpp,
                "x2": x2.psnr,
                "margin": x2.psnr - x1.psnr if x2.bpp <= x1.bpp * 1.0001 else None,
                "cpu_s": round(time.process_time() - t, 1),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    wins = [r for r in rows if r["margin"] is not None and r["margin"] > 0]
    out = {
        "study": "python -m benchmarks.studies.x2_region --out benchmarks/results/x2_region.json",
        "frames": "validation only: vtest windows of 60 frames before 636, data/val photos",
        "rows": rows,
        "x2_wins": wins,
        "lowest_crf_x2_wins": min((r["crf"] for r in wins), default=None),
        "best_margin_by_crf": {
            str(c): max(
                (r["margin"] for r in rows if r["crf"] == c and r["margin"] is not None),
                default=None,
            )
            for c in crfs
        },  # fmt: skip
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
