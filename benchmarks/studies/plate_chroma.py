"""Luma and chroma strengths of the scene plate's blend (issue 27), on validation data only:
vtest frames 476-635 coded by ``srcodec.av1`` (one stream, as archives code it) and restored by
the AV1 x1 model, blended towards the plate of frames 0-475 (``engines.plate.median_plate``) at
each pair of ``STRENGTHS`` (luma) and ``CHROMA_STRENGTHS`` (``engines.plate.blend``), every 8th
frame scored (PSNR RGB and Y). The gain of the best pair and of the best single strength for
both parts, over the frames as restored, and of the pair best on RGB and Y together (the sum of
their gains).

    python -m benchmarks.studies.plate_chroma --out plate_chroma.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from srcodec.archive.candidates import X1_MODELS
from srcodec.engines.choose import make_restorer
from srcodec.engines.plate import CHROMA_STRENGTHS, STRENGTHS, blend, median_plate
from srcodec.lowres.lossy import Av1Codec, code_frames
from srcodec.metrics import psnr
from srcodec.models.store import get_model

from ..suite._lossy_anchors import read_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--crfs", default="26,42,50,56,62")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    model = X1_MODELS[Av1Codec.codec_id]
    plate = median_plate(read_clip(0, 476))
    frames = read_clip(476, 636)
    restorer = make_restorer(get_model(model))
    picks = list(range(0, len(frames), 8))
    result: dict = {
        "study": __doc__.split("\n\n")[0],
        "command": "python -m benchmarks.studies.plate_chroma --out ...",
        "data": "validation only: vtest 476-635 (every 8th scored), the plate of 0-475",
        "model": model,
        "by_crf": {},
    }
    for crf in map(int, args.crfs.split(",")):
        _, decoded = code_frames(Av1Codec(crf, rgb="nearest"), frames)
        h, w = frames[0].shape[:2]
        restored = restorer.restore_batch([decoded[k] for k in picks], [(w, h)] * len(picks))
        gains = {}
        for s in STRENGTHS:
            for c in CHROMA_STRENGTHS:
                out = [blend(r, plate, s, c) for r in restored]
                gains[s, c] = [
                    float(np.mean([psnr(frames[k], o, y=y) - psnr(frames[k], r, y=y)
                                   for k, o, r in zip(picks, out, restored, strict=True)]))
                    for y in (False, True)
                ]  # fmt: skip
        pair = max(gains, key=lambda p: gains[p][0])
        joint = max((p for p in gains if p[0] == p[1]), key=lambda p: gains[p][0])
        both = max(gains, key=lambda p: gains[p][0] + gains[p][1])  # RGB and Y alike
        result["by_crf"][str(crf)] = {
            "best_pair": list(pair),
            "best_pair_gain_db": gains[pair],
            "best_pair_rgb_and_y": list(both),
            "best_pair_rgb_and_y_gain_db": gains[both],
            "best_joint": joint[0],
            "best_joint_gain_db": gains[joint],
            "pair_over_joint_rgb_db": gains[pair][0] - gains[joint][0],
        }
        print(crf, result["by_crf"][str(crf)], flush=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
