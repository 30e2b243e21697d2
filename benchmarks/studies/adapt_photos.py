"""Adaptation never loses (issue 14): each evaluation photo (never trained on) archived alone,
without and with ``adapt`` (a one-frame archive: tuned on its left half, checked on its right
half); PSNR RGB / Y of the whole photo as decoded (onnx fp32 engine), the update's bytes, and
whether it was kept.

    python -m benchmarks.studies.adapt_photos data/eval --seconds 60 --out adapt_photos.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import srcodec
from srcodec.inputs import read_images
from srcodec.metrics import psnr
from srcodec.pixels import to_rgb
from srcodec.training.adapt import AdaptConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("photos", type=Path)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, photo in read_images(args.photos):
            photo = to_rgb(photo)
            row: dict = {"photo": name}
            for kind in ("plain", "adapted"):
                cfg = AdaptConfig(seconds=args.seconds, threads=2) if kind == "adapted" else None
                path = Path(tmp) / f"{kind}.src"
                start = time.perf_counter()
                s = srcodec.encode([(name, photo)], path, adapt=cfg, force=True)
                with srcodec.open(path, engine="onnx") as archive:
                    out = archive[0]
                row[kind] = {
                    "rgb": round(psnr(photo, out), 3),
                    "y": round(psnr(photo, out, y=True), 3),
                    "bytes": s.archive_bytes,
                    "seconds": round(time.perf_counter() - start, 1),
                }
                if s.adapted is not None:
                    a = s.adapted
                    row[kind] |= {
                        "kept": a.update is not None,
                        "reason": a.reason,
                        "update_bytes": s.update_bytes,
                        "held_back_gain_db": round(a.gain_db, 3),
                    }
            row["gain_db"] = round(row["adapted"]["rgb"] - row["plain"]["rgb"], 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
            args.out.write_text(json.dumps(rows, indent=1))
    gains = [r["gain_db"] for r in rows]
    print(f"gain: mean {np.mean(gains):+.3f} dB, worst {min(gains):+.3f} dB")


if __name__ == "__main__":
    main()
