"""Footage: size and speed of storing a clip's low-resolution frames per frame (JPEG XL, today's
default) or as inter-frame streams in groups (x264 qp 0 at several presets, x265, FFV1), through
real archives (srcodec.container), with random access to one frame and bit-exactness checked.

    PYTHONPATH=. python benchmarks/bench_footage.py --video vtest.avi [--start 636] [--group 32]

Measure only on held-out footage (vtest.avi: frames 636 onwards). Prints a Markdown table and
writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from common import machine, md_table

from srcodec.container import (
    ArchiveReader,
    ArchiveWriter,
    FrameInfo,
    FrameRecord,
    GroupRecord,
    Header,
)
from srcodec.lowres import get_codec
from srcodec.lowres.stream import StreamCodec
from srcodec.resample import downscale, lowres_size
from srcodec.video import probe_video, read_video

#: What is measured: label -> codec config. Stream codecs are stored in groups.
METHODS = {
    "jxl e7 (per frame)": {"id": "jxl", "effort": 7},
    "x264 ultrafast": {"id": "x264", "preset": "ultrafast"},
    "x264 fast (default)": {"id": "x264", "preset": "fast"},
    "x264 medium": {"id": "x264", "preset": "medium"},
    "x264 veryslow": {"id": "x264", "preset": "veryslow"},
    "x265 medium": {"id": "x265", "preset": "medium"},
    "ffv1": {"id": "ffv1", "context": 1},
}


def encode_archive(path: Path, frames: list[np.ndarray], config: dict, group: int) -> float:
    """Write ``frames`` (full resolution) to an archive: downscale, code, store. Seconds taken."""
    codec = get_codec(config)
    header = Header("benchmark@none", 2, codec.get_config(), _now(), "bench_footage")
    streams = isinstance(codec, StreamCodec)
    start = time.perf_counter()
    with ArchiveWriter(path, header, groups=streams) as writer:
        for first in range(0, len(frames), group if streams else 1):
            chunk = frames[first : first + (group if streams else 1)]
            lows = [downscale(f) for f in chunk]
            infos = [
                FrameInfo(f"frame_{first + k:06d}", f.shape[1], f.shape[0], "RGB")
                for k, f in enumerate(chunk)
            ]
            if streams:
                writer.add_group(GroupRecord(infos, codec.encode_group(lows)))
            else:
                info = infos[0]
                writer.add(
                    FrameRecord(info.name, info.width, info.height, "RGB", codec.encode(lows[0]))
                )
    return time.perf_counter() - start


def decode_record(codec, record: FrameRecord) -> list[np.ndarray]:
    """The low-res frames a record's payload holds (all of its group's, or its own)."""
    width, height = lowres_size(record.width, record.height)
    if record.group is None:
        return [codec.decode(record.payload, width, height, record.channels)]
    return codec.decode_group(record.payload, width, height, record.channels, len(record.group))


def decode_archive(path: Path) -> tuple[list[np.ndarray], float]:
    """Every low-res frame of an archive, each group decoded once; seconds taken."""
    start = time.perf_counter()
    out: list[np.ndarray] = []
    with ArchiveReader(path) as reader:
        codec = get_codec(reader.header.codec)
        k = 0
        while k < len(reader):
            record = reader.read(k)
            decoded = decode_record(codec, record)
            out += decoded
            k += len(decoded)
    return out, time.perf_counter() - start


def random_access(path: Path, position: int, repeats: int = 5) -> float:
    """Best-of seconds to open the archive and get one low-res frame: worst case in a group."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with ArchiveReader(path) as reader:
            record = reader.read(position)
            frame = decode_record(get_codec(reader.header.codec), record)[record.position]
        best = min(best, time.perf_counter() - start)
        assert frame.ndim == 3
    return best


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", required=True, type=Path)
    ap.add_argument("--start", default="636", help="first frame (held out from training)")
    ap.add_argument("--end", default=None)
    ap.add_argument("--group", type=int, default=32, help="frames per group for stream codecs")
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--json", type=Path, default=Path("docs/footage.json"))
    args = ap.parse_args(argv)

    info = probe_video(args.video)
    named = list(read_video(args.video, start=args.start, end=args.end))
    frames = [f for _, f, _ in named]
    pixels = sum(f.shape[0] * f.shape[1] for f in frames)
    reference = [downscale(f) for f in frames]
    # The last frame of the middle group: the most a random access decodes.
    middle = min(len(frames) - 1, (len(frames) // args.group // 2 + 1) * args.group - 1)
    print(
        f"{args.video.name}: {info.width}x{info.height} {float(info.fps):g} fps, frames "
        f"{named[0][0]}..{named[-1][0]} ({len(frames)}), group {args.group}",
        file=sys.stderr,
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for label in args.methods:
            config = METHODS[label]
            path = Path(tmp) / f"{config['id']}.src"
            encode_s = encode_archive(path, frames, config, args.group)
            lows, decode_s = decode_archive(path)
            exact = len(lows) == len(reference) and all(
                np.array_equal(a, b) for a, b in zip(lows, reference, strict=True)
            )
            row = {
                "method": label,
                "config": config,
                "archive_bytes": path.stat().st_size,
                "bpp": 8 * path.stat().st_size / pixels,
                "encode_fps": len(frames) / encode_s,
                "decode_lowres_fps": len(frames) / decode_s,
                "random_access_ms": 1000 * random_access(path, middle),
                "bit_exact": exact,
            }
            results.append(row)
            path.unlink()
            print(f"  {label}: {row['bpp']:.3f} bpp, exact {exact}", file=sys.stderr)

    head = ["method", "bpp (full-res px)", "archive KiB", "encode fps", "low-res decode fps"]
    head += [f"random access ms (frame #{middle})", "bit-exact"]
    rows = [
        [
            r["method"],
            f"{r['bpp']:.3f}",
            f"{r['archive_bytes'] / 1024:,.0f}",
            f"{r['encode_fps']:.0f}",
            f"{r['decode_lowres_fps']:.0f}",
            f"{r['random_access_ms']:.1f}",
            "yes" if r["bit_exact"] else "**NO**",
        ]
        for r in results
    ]
    print("\n".join(md_table(head, rows, "lrrrrrc")))
    report = {
        "video": args.video.name,
        "frames": [named[0][0], named[-1][0]],
        "count": len(frames),
        "size": [info.width, info.height],
        "group": args.group,
        "random_access_frame": middle,
        "machine": machine(),
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0 if all(r["bit_exact"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
