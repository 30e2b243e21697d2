"""Measure the low-resolution codecs (size, encode and decode time) on real frames and write
docs/codecs.md; the default codec in srcodec/codec.py is chosen from these figures.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from srcodec.frames import list_frames, read_frame
from srcodec.lowres import get_codec
from srcodec.resample import downscale

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [{"id": "png", "level": 9}, {"id": "png", "level": 6}] + [
    {"id": "zstd", "level": level, "filter": f, "decorrelate": d}
    for level in (19, 22)
    for f in ("none", "sub", "up", "grad")
    for d in (False, True)
    if not (f == "none" and d)
]


def measure(frames: list[np.ndarray]) -> list[dict]:
    lows = [downscale(f) for f in frames]
    png_full = sum(len(_png(f)) for f in frames)
    rows = []
    for cfg in CONFIGS:
        codec = get_codec(cfg)
        t0 = time.perf_counter()
        blobs = [codec.encode(lr) for lr in lows]
        t1 = time.perf_counter()
        for lr, blob in zip(lows, blobs, strict=True):
            h, w = lr.shape[:2]
            assert np.array_equal(codec.decode(blob, w, h, 1 if lr.ndim == 2 else 3), lr)
        t2 = time.perf_counter()
        size = sum(len(b) for b in blobs)
        rows.append(
            {
                "codec": cfg,
                "bytes_per_frame": size / len(frames),
                "vs_full_png": png_full / size,
                "encode_ms": 1e3 * (t1 - t0) / len(frames),
                "decode_ms": 1e3 * (t2 - t1) / len(frames),
            }
        )
    return rows


def _png(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--frames",
        nargs="+",
        default=[str(ROOT / "samples" / "frames")],
        help="folders of frames to measure on",
    )
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "codecs.md"))
    args = ap.parse_args()
    lines = [
        "# Low-resolution codecs measured",
        "",
        "Written by `python benchmarks/lowres_codecs.py --frames samples/frames data/cctv/val:8`",
        "(one run, this machine; the default codec is the smallest on the samples). Bytes are",
        "per low-resolution frame; `x full PNG` is how many times smaller than the original",
        "frame stored as PNG (level 9). Every payload was decoded back and compared bit for",
        "bit.",
        "",
    ]
    for folder in args.frames:
        folder, _, stride = folder.partition(":")
        frames = [read_frame(p) for p in list_frames(folder)[:: int(stride or 1)]]
        h, w = frames[0].shape[:2]
        full = sum(len(_png(f)) for f in frames) / len(frames)
        lines += [
            f"## {Path(folder).relative_to(ROOT) if Path(folder).is_relative_to(ROOT) else folder}"
            f" ({len(frames)} frames, {w}x{h}, full-size PNG {full / 1e3:.1f} kB)",
            "",
            "| codec | bytes/frame | x full PNG | encode ms | decode ms |",
            "|---|---:|---:|---:|---:|",
        ]
        rows = sorted(measure(frames), key=lambda r: r["bytes_per_frame"])
        for r in rows:
            cfg = ", ".join(f"{k}={v}" for k, v in r["codec"].items() if k != "id")
            lines.append(
                f"| {r['codec']['id']} ({cfg}) | {r['bytes_per_frame']:,.0f} | "
                f"{r['vs_full_png']:.2f} | {r['encode_ms']:.1f} | {r['decode_ms']:.1f} |"
            )
        best, png = rows[0], next(r for r in rows if r["codec"] == {"id": "png", "level": 9})
        saving = 1 - best["bytes_per_frame"] / png["bytes_per_frame"]
        lines += ["", f"Smallest: {best['codec']}, {saving:.1%} smaller than png level 9.", ""]
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
