"""The YUV 4:2:0 -> RGB conversion after a lossy archive's decoder (issue 23), on validation data
only: vtest frames before 636 (one stream) and the validation photos (data/val, each its own
stream). Each source is coded once per CRF by ``srcodec.av1`` (SVT-AV1 preset 6) and decoded by
each conversion of ``srcodec.lowres.lossy.RGB_CONVERSIONS`` (``fast``: swscale's default, what
archives used before; ``nearest``, ``bilinear``: accurate) and by the one ``rgb_for`` picks
(``auto``); restoration models named by ``--models NAME@RGB`` restore the frames decoded by that
conversion. Also the uncoded round trip (RGB -> YUV 4:2:0 -> RGB) of each source. BD-rate of
each curve against ``fast`` (no network), RGB and Y, every frame scored.

    python -m benchmarks.studies.lossy_rgb --models srcodec-av1-x1@fast --out lossy_rgb.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import av
import numpy as np
from PIL import Image

from srcodec.engines.choose import make_restorer
from srcodec.lowres.lossy import ACCURATE_RGB, RGB_CONVERSIONS, Av1Codec, rgb_for
from srcodec.metrics import psnr
from srcodec.models.store import get_model

from ..bdrate import bd_rate
from ..suite._lossy_anchors import read_clip

ROOT = Path(__file__).resolve().parents[2]


def scores(originals: list[np.ndarray], decoded: list[np.ndarray]) -> dict:
    pairs = list(zip(originals, decoded, strict=True))
    return {
        "psnr": float(np.mean([psnr(a, b) for a, b in pairs])),
        "psnr_y": float(np.mean([psnr(a, b, y=True) for a, b in pairs])),
    }


def validation_sources(first: int, frames: int) -> dict[str, list[list[np.ndarray]]]:
    """The validation sources of the lossy studies, each a list of streams (lists of frames):
    vtest frames ``first`` .. ``first + frames - 1`` as one stream, and each photo of data/val
    as a stream of its own."""
    photos = [
        np.asarray(Image.open(p).convert("RGB")) for p in sorted((ROOT / "data/val").glob("*.png"))
    ]
    return {"vtest": [read_clip(first, first + frames)], "photos": [[p] for p in photos]}


def round_trip(frames: list[np.ndarray]) -> dict:
    """Each conversion's uncoded round trip of ``frames``: PSNR RGB and Y."""
    out = {}
    for name, flags in RGB_CONVERSIONS.items():
        back = []
        for f in frames:
            yuv = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(
                format="yuv420p", interpolation=Av1Codec.interpolation
            )
            back.append(yuv.reformat(format="rgb24", interpolation=flags).to_ndarray())
        out[name] = scores(frames, back)
    return out


def source_curves(streams: list[list[np.ndarray]], crfs: list[int], models: list) -> dict:
    """Curves of one source (``streams``: its frames, one stream each list)."""
    originals = [f for s in streams for f in s]
    pixels = sum(f.shape[0] * f.shape[1] for f in originals)
    auto = [rgb_for(s) for s in streams]
    curves: dict[str, list[dict]] = {}
    for crf in crfs:
        codec = Av1Codec(crf, 6)
        coded = [codec._encode_stream(s) for s in streams]
        nbytes = sum(len(x) + sum(map(len, p)) for x, p in coded)
        decoded: dict[str, list[np.ndarray]] = {}
        for name in [*RGB_CONVERSIONS, "auto"]:
            frames = []
            for s, (extradata, packets), rgb in zip(streams, coded, auto, strict=True):
                codec.rgb = rgb if name == "auto" else name
                frames += codec._decode_stream(extradata, packets, s[0].shape, len(s))
            decoded[name] = frames
        points = {name: frames for name, frames in decoded.items()}
        for label, restorer, rgb in models:
            points[f"{label}@{rgb}"] = [restorer.restore(f) for f in decoded[rgb]]
        for name, frames in points.items():
            point = {"crf": crf, "bpp": 8 * nbytes / pixels, **scores(originals, frames)}
            curves.setdefault(name, []).append(point)
            print(crf, name, point, flush=True)
    return curves


def bd_pair(ref: list[dict], new: list[dict]) -> dict:
    """BD-rate of the points ``new`` against ``ref``, on RGB (``psnr``) and Y (``psnr_y``)."""
    return {
        y: bd_rate([(p["bpp"], p[y]) for p in ref], [(p["bpp"], p[y]) for p in new])
        for y in ("psnr", "psnr_y")
    }


def bd_against(curves: dict, ref: str = "fast") -> dict:
    return {name: bd_pair(curves[ref], pts) for name, pts in curves.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--first", type=int, default=476)
    ap.add_argument("--frames", type=int, default=160)
    ap.add_argument("--crfs", default="30,40,48,55,62")
    ap.add_argument("--models", default="", help="NAME@RGB,...: restore RGB's decoded frames")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    crfs = [int(c) for c in args.crfs.split(",")]
    models = []
    for item in filter(None, args.models.split(",")):
        name, _, rgb = item.partition("@")
        models.append((name, make_restorer(get_model(name)), rgb or "auto"))
    sources = validation_sources(args.first, args.frames)
    result: dict = {
        "study": __doc__.split("\n\n")[0],
        "command": "python -m benchmarks.studies.lossy_rgb "
        + (f"--models {args.models} " if args.models else "")
        + "--out ...",
        "data": f"validation only: vtest {args.first}-{args.first + args.frames - 1}, "
        "data/val photos",
        "accurate": list(ACCURATE_RGB),
        "sources": {},
    }
    for name, streams in sources.items():
        curves = source_curves(streams, crfs, models)
        result["sources"][name] = {
            "auto": sorted({rgb_for(s) for s in streams}),
            "round_trip": round_trip([f for s in streams for f in s]),
            "curves": curves,
            "bd_rate_vs_fast": bd_against(curves),
        }
        print(name, json.dumps(result["sources"][name]["bd_rate_vs_fast"], indent=1), flush=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
