"""Per-archive adaptation of lossy archives (issue 13): the held-out vtest clip (frames 636 on)
written by ``encode_lossy`` at a few qualities without and with ``adapt`` (the chosen
candidate's model tuned on the frames as decoded); bytes of the archive file (update included)
and PSNR RGB of every ``--stride``-th frame as decoded, against full-resolution x265 medium
(raw stream bytes) on the same frames; BD-rate of each curve against x265.

    python -m benchmarks.studies.lossy_adapt --seconds 150 --out lossy_adapt.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import srcodec
from srcodec.archive.lossywriter import encode_lossy
from srcodec.metrics import psnr
from srcodec.training.adapt import AdaptConfig
from srcodec.video import read_video

from ..bdrate import bd_rate
from ..suite._lossy_anchors import clip_path
from ..suite.lossy_rd import _quality, _x265


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--first", type=int, default=636)
    ap.add_argument("--frames", type=int, default=159)
    ap.add_argument("--crfs", default="34,42,50", help="srcodec.av1 CRFs")
    ap.add_argument("--x265-crfs", default="22,27,32,37")
    ap.add_argument("--seconds", type=float, default=150, help="tuning budget per archive")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    path = clip_path("vtest")
    end = args.first + args.frames
    frames = [f for _, f, _ in read_video(path, args.first, end)]
    named = [(f"frame_{args.first + k:06d}", f) for k, f in enumerate(frames)]
    pixels = sum(f.shape[0] * f.shape[1] for f in frames)
    x265 = [_x265(frames, int(c)) for c in args.x265_crfs.split(",")]
    rows: dict = {"x265": x265, "plain": [], "adapted": []}
    with tempfile.TemporaryDirectory() as tmp:
        for crf in map(int, args.crfs.split(",")):
            for kind in ("plain", "adapted"):
                cfg = AdaptConfig(seconds=args.seconds, threads=2) if kind == "adapted" else None
                out = Path(tmp) / f"{kind}_{crf}.src"
                start = time.perf_counter()
                s = encode_lossy(named, out, quality=_quality("srcodec.av1", crf), adapt=cfg)
                encode_s = time.perf_counter() - start
                with srcodec.open(out) as archive:
                    picks = range(0, len(frames), args.stride)
                    scores = [psnr(frames[k], archive[k]) for k in picks]
                a = s.adapted
                rows[kind].append({
                    "crf": crf, "bytes": s.archive_bytes, "bpp": 8 * s.archive_bytes / pixels,
                    "psnr": float(np.mean(scores)), "candidate": s.chosen.candidate,
                    "encode_s": round(encode_s, 1), "update_bytes": s.update_bytes,
                    "adapt": None if a is None else {
                        "kept": a.update is not None, "reason": a.reason, "steps": a.steps,
                        "held_back_gain_db": round(a.gain_db, 3) if a.steps else None,
                    },
                })  # fmt: skip
                print(kind, rows[kind][-1], flush=True)
                args.out.write_text(json.dumps(rows, indent=1))
    ref = [(p["bpp"], p["psnr"]) for p in x265]
    rows["bd_rate"] = {
        k: bd_rate(ref, [(p["bpp"], p["psnr"]) for p in rows[k]]) for k in ("plain", "adapted")
    }
    rows["frames"] = [args.first, end - 1]
    args.out.write_text(json.dumps(rows, indent=1))
    print(rows["bd_rate"])


if __name__ == "__main__":
    main()
