"""Footage: a held-out vtest clip archived through srcodec's real API as a stream (the default
for a video: x264 groups) against per-frame JPEG XL, FFV1 groups and the frames' PNGs: sizes,
encode and low-resolution decode speeds, random access, and bit-identity of the restored frames.

Needs vtest.avi (opencv-doc): ``$SRCODEC_VTEST``, or data/ as
``python -m benchmarks.datasets.prepare`` makes it.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import srcodec
from srcodec.archive.reader import Archive
from srcodec.archive.writer import DEFAULT_GROUP
from srcodec.video import probe_video, read_video

from .. import Benchmark, BenchmarkError, benchmark
from ..context import ROOT, Context, md_table

#: The first frame held out from training (frames 636..794 of 795).
HELD_OUT = 636
#: label -> encode arguments; the first is what ``srcodec encode clip.avi`` does by default.
METHODS = {
    f"x264 groups of {DEFAULT_GROUP} (default)": {},
    "jxl e7 per frame": {"codec": "jxl"},
    f"ffv1 groups of {DEFAULT_GROUP}": {"codec": "ffv1"},
}


def vtest_path() -> Path:
    """vtest.avi from ``$SRCODEC_VTEST`` or data/ (``BenchmarkError`` if neither has it)."""
    given = os.environ.get("SRCODEC_VTEST")
    found = [Path(given)] if given else sorted((ROOT / "data").glob("**/vtest.avi"))
    if not found or not found[0].is_file():
        raise BenchmarkError(
            "vtest.avi not found: set SRCODEC_VTEST or run python -m benchmarks.datasets.prepare"
        )
    return found[0]


def _png_bytes(frame: np.ndarray) -> int:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.tell()


def _read_all(path: Path) -> tuple[list[np.ndarray], float]:
    """Every low-resolution frame in order (each group decoded once); seconds taken."""
    start = time.perf_counter()
    with Archive(path) as a:
        frames = [a.lowres(i) for i in range(len(a))]
    return frames, time.perf_counter() - start


def _random_access(path: Path, position: int, repeats: int = 3) -> float:
    """Best-of seconds to open the archive and get one low-resolution frame."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with Archive(path) as a:
            a.lowres(position)
        best = min(best, time.perf_counter() - start)
    return best


@benchmark("footage", section=7)
class Footage(Benchmark):
    reported_on = "vtest.avi frames 636-794 (every frame of the held-out part)"
    chosen_on = "nothing: srcodec's fixed stream settings (x264 lossless, groups of 64)"

    def run(self, ctx: Context) -> dict:
        video = vtest_path()
        end = HELD_OUT + 40 if ctx.quick else None
        info = probe_video(video)
        frames = [f for _, f, _ in read_video(video, HELD_OUT, end)]
        pixels = sum(f.shape[0] * f.shape[1] for f in frames)
        png = sum(_png_bytes(f) for f in frames)
        groups = -(-len(frames) // DEFAULT_GROUP)
        middle = min(
            len(frames) - 1, (groups // 2 + 1) * DEFAULT_GROUP - 1
        )  # a middle group's last
        rows, lows = [], {}
        with tempfile.TemporaryDirectory() as tmp:
            for label, kwargs in METHODS.items():
                ctx.progress(f"footage: {label}")
                path = Path(tmp) / f"{len(rows)}.src"
                start = time.perf_counter()
                s = srcodec.encode(video, path, start=HELD_OUT, end=end, **kwargs)
                encode_s = time.perf_counter() - start
                lows[label], decode_s = _read_all(path)
                rows.append(
                    {
                        "method": label,
                        "archive_bytes": s.archive_bytes,
                        "bpp": 8 * s.archive_bytes / pixels,
                        "encode_fps": len(frames) / encode_s,
                        "decode_lowres_fps": len(frames) / decode_s,
                        "random_access_ms": 1000 * _random_access(path, middle),
                        "group_decode_ms": 1000 * decode_s / groups,
                    }
                )
                if label == "jxl e7 per frame":
                    # Restored by the network from both archives: must be the same frames.
                    per_frame = path.with_name("jxl.src")
                    path.rename(per_frame)
            default = Path(tmp) / "0.src"
            with Archive(default) as a, Archive(Path(tmp) / "jxl.src") as b:
                restored_equal = all(np.array_equal(a[k], b[k]) for k in (0, middle))
        first = next(iter(METHODS))
        exact = all(
            all(np.array_equal(x, y) for x, y in zip(lows[first], other, strict=True))
            for other in lows.values()
        )
        return {
            "video": video.name,
            "group": DEFAULT_GROUP,
            "frames": [HELD_OUT, HELD_OUT + len(frames) - 1],
            "size": [info.width, info.height],
            "fps": str(info.fps),
            "png_bytes": png,
            "random_access_frame": middle,
            "lowres_bit_exact": exact,
            "restored_identical_frames": [0, middle] if restored_equal else [],
            "results": rows,
        }

    def render(self, result: dict) -> str:
        rows = result["results"]
        default, jxl, ffv1 = (r["archive_bytes"] for r in rows)
        head = ["method", "bpp", "archive KiB", "vs PNG", "encode fps", "low-res decode fps"]
        head += [f"random access ms (#{result['random_access_frame']})", "one group's decode ms"]
        table = md_table(
            head,
            [
                [
                    r["method"],
                    f"{r['bpp']:.3f}",
                    f"{r['archive_bytes'] / 1024:,.0f}",
                    f"{result['png_bytes'] / r['archive_bytes']:.1f}x",
                    f"{r['encode_fps']:.0f}",
                    f"{r['decode_lowres_fps']:.0f}",
                    f"{r['random_access_ms']:.0f}",
                    f"{r['group_decode_ms']:.0f}",
                ]
                for r in rows
            ],
            "lrrrrrrr",
        )
        first, last = result["frames"]
        return "\n".join(
            [
                f"## Footage: {result['video']} frames {first}-{last} (held out), "
                f"{result['size'][0]}x{result['size'][1]} at {result['fps']} fps",
                "",
                "Archives written by `srcodec.encode(video, start=636)` (the default codec for "
                "a video, x264 groups) or with `codec=`; bpp per full-resolution pixel; PNG: the "
                f"frames' PNGs, {result['png_bytes']:,} bytes.",
                "",
                *table,
                "",
                f"The default archive is {jxl / default:.2f}x smaller than per-frame JPEG XL "
                f"and {ffv1 / default:.2f}x smaller than FFV1. Low-resolution frames bit-exact "
                "in all archives: "
                f"{'yes' if result['lowres_bit_exact'] else '**NO**'}; frames restored by the "
                "network identical to the per-frame archive's (frames "
                f"{result['restored_identical_frames'] or 'NONE'}).",
                *_stale_groups(result),
            ]
        )


def _stale_groups(result: dict) -> list[str]:
    """A warning when the stored result was coded in groups other than today's default."""
    group = result.get("group")
    if group == DEFAULT_GROUP:
        return []
    was = f"groups of {group}" if group else "groups its labels name (it predates the record)"
    return [
        "",
        f"**Stale:** this result was measured with {was}; the default is now {DEFAULT_GROUP}. "
        "Re-measure with `python -m benchmarks run footage`.",
    ]
