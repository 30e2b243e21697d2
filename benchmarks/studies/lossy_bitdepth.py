"""The bit depth of a lossy AV1 stream (issue 23, lever 3: encoder settings a camera archive can
afford), on validation data only: vtest frames before 636 (one stream) and the validation photos
(data/val, each its own stream). Each source is coded by ``srcodec.av1`` (SVT-AV1 preset 6, one
key frame per stream, area-filtered RGB -> YUV 4:2:0, the accurate YUV -> RGB conversion that
``rgb_for`` picks) at 8 bits (``yuv420p``, what archives use) and at 10 bits
(``yuv420p10le``: the same 8-bit frames converted with two more bits, so that the conversion
rounds less and the codec predicts and filters at 10 bits), at each CRF. Every frame scored,
PSNR RGB and Y, real stream bytes; BD-rate of 10 bits against 8, and the encode and decode
times of each stream (2 cores). With ``--model NAME`` also each depth's frames restored by that
x1 model (trained on 8-bit streams), BD-rate against the same depth without it.

    python -m benchmarks.studies.lossy_bitdepth --model srcodec-av1-x1-v2 --out lossy_bitdepth.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from srcodec.lowres.lossy import Av1Codec, rgb_for

from .lossy_rgb import bd_pair, scores, validation_sources

#: The bit depths compared (``srcodec.av1``'s config key ``bits``).
FORMATS = tuple(Av1Codec.FORMATS)


def _codec(crf: int, bits: int, rgb: str) -> Av1Codec:
    return Av1Codec(crf, 6, rgb, bits=bits)


def source_curves(streams: list[list[np.ndarray]], crfs: list[int], restorer=None) -> dict:
    originals = [f for s in streams for f in s]
    pixels = sum(f.shape[0] * f.shape[1] for f in originals)
    rgbs = [rgb_for(s) for s in streams]
    curves: dict[str, list[dict]] = {}
    for crf in crfs:
        for bits in FORMATS:
            nbytes, decoded, enc_s, dec_s = 0, [], 0.0, 0.0
            for s, rgb in zip(streams, rgbs, strict=True):
                codec = _codec(crf, bits, rgb)
                t0 = time.perf_counter()
                extradata, packets = codec._encode_stream(s)
                t1 = time.perf_counter()
                decoded += codec._decode_stream(extradata, packets, s[0].shape, len(s))
                dec_s += time.perf_counter() - t1
                enc_s += t1 - t0
                nbytes += len(extradata) + sum(map(len, packets))
            point = {
                "crf": crf,
                "bytes": nbytes,
                "bpp": 8 * nbytes / pixels,
                **scores(originals, decoded),
                "encode_fps": len(originals) / enc_s,
                "decode_ms_per_frame": 1000 * dec_s / len(originals),
            }
            curves.setdefault(f"{bits}-bit", []).append(point)
            print(crf, bits, point, flush=True)
            if restorer is not None:
                restored = [restorer.restore(f) for f in decoded]
                point = {"crf": crf, "bpp": point["bpp"], **scores(originals, restored)}
                curves.setdefault(f"{bits}-bit + x1", []).append(point)
                print(crf, bits, "x1", point, flush=True)
    return curves


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--first", type=int, default=476)
    ap.add_argument("--frames", type=int, default=160)
    ap.add_argument("--crfs", default="30,38,46,54,62")
    ap.add_argument("--model", default="", help="an x1 model to restore each depth's frames")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    restorer = None
    if args.model:
        from srcodec.engines.choose import make_restorer
        from srcodec.models.store import get_model

        restorer = make_restorer(get_model(args.model))
    crfs = [int(c) for c in args.crfs.split(",")]
    result: dict = {
        "study": __doc__.split("\n\n")[0],
        "command": "python -m benchmarks.studies.lossy_bitdepth "
        + (f"--model {args.model} " if args.model else "")
        + "--out ...",
        "data": f"validation only: vtest {args.first}-{args.first + args.frames - 1}, "
        "data/val photos",
        "sources": {},
    }
    for name, streams in validation_sources(args.first, args.frames).items():
        curves = source_curves(streams, crfs, restorer)
        found = {"curves": curves, "bd_rate_10_vs_8": bd_pair(curves["8-bit"], curves["10-bit"])}
        if restorer is not None:
            found["bd_rate_x1_vs_none"] = {
                f"{b}-bit": bd_pair(curves[f"{b}-bit"], curves[f"{b}-bit + x1"]) for b in FORMATS
            }
            found["bd_rate_10_x1_vs_8_x1"] = bd_pair(curves["8-bit + x1"], curves["10-bit + x1"])
        result["sources"][name] = found
        print(name, json.dumps({k: v for k, v in found.items() if k != "curves"}), flush=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
