"""Size: bytes per frame of the original as PNG, of each low-resolution codec's payload and of
a real srcodec archive (srcodec.encode), with encode/decode times of each codec (one thread).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

import srcodec
from srcodec.archive.autocodec import PER_FRAME_CODEC

from .. import Benchmark, benchmark
from ..context import ROOT, Context, EvalSet, load_set, md_table

#: The codec configs measured; the first of each id is its default.
CONFIGS = [
    {"id": "png", "level": 9},
    {"id": "zstd", "level": 19, "filter": "grad", "decorrelate": True},
    {"id": "zstd", "level": 22, "filter": "grad", "decorrelate": True},
    {"id": "webp", "method": 4, "quality": 100},
    {"id": "webp", "method": 2, "quality": 50},
    {"id": "jxl", "effort": 7},
    {"id": "jxl", "effort": 3},
    {"id": "jxl", "effort": 9},
]


def usable_configs() -> tuple[list[dict], list[str]]:
    """The configs whose codec works here, and a note for each that does not."""
    ok, notes = [], []
    for cfg in CONFIGS:
        try:
            codec = srcodec.get_codec(cfg)
            codec.decode(codec.encode(np.zeros((2, 2, 3), np.uint8)), 2, 2, 3)
            ok.append(cfg)
        except Exception as exc:  # e.g. imagecodecs missing: say so, measure the rest
            notes.append(f"{cfg['id']} not measured: {exc}")
    return ok, sorted(set(notes))


def default_configs() -> list[dict]:
    """Each usable low-resolution codec at its default settings (its first config)."""
    configs, _ = usable_configs()
    return [c for i, c in enumerate(configs) if c["id"] not in [d["id"] for d in configs[:i]]]


def label(cfg: dict) -> str:
    params = ", ".join(f"{k}={v}" for k, v in cfg.items() if k != "id")
    return f"{cfg['id']} ({params})"


def archive_bytes(frames: list[tuple[str, np.ndarray]], codec: dict | str) -> int:
    """Bytes of a real archive of ``frames`` written by srcodec.encode with ``codec``."""
    with tempfile.TemporaryDirectory() as tmp:
        return srcodec.encode(frames, Path(tmp) / "a.src", codec=codec).archive_bytes


def measure(frames: list[tuple[str, np.ndarray]], configs: list[dict]) -> dict:
    png = srcodec.get_codec({"id": "png", "level": 9})
    full_png = float(np.mean([len(png.encode(f)) for _, f in frames]))
    lows = [srcodec.downscale(f) for _, f in frames]
    rows = []
    for cfg in configs:
        codec = srcodec.get_codec(cfg)
        enc, dec, sizes = [], [], []
        for lr in lows:
            t0 = time.perf_counter()
            blob = codec.encode(lr)
            t1 = time.perf_counter()
            out = codec.decode(blob, lr.shape[1], lr.shape[0], 1 if lr.ndim == 2 else 3)
            t2 = time.perf_counter()
            if not np.array_equal(out, lr):
                raise AssertionError(f"{label(cfg)} is not lossless")
            enc.append(t1 - t0)
            dec.append(t2 - t1)
            sizes.append(len(blob))
        arch = archive_bytes(frames, cfg) / len(frames)
        rows.append(
            {
                "codec": cfg,
                "payload": float(np.mean(sizes)),
                "archive": arch,
                "ratio": full_png / arch,
                "encode_ms": 1e3 * float(np.mean(enc)),
                "decode_ms": 1e3 * float(np.mean(dec)),
            }
        )
    return {"full_png": full_png, "frames": len(frames), "rows": rows}


def centre_crops(eval_set: EvalSet, size: int = 400) -> list[tuple[str, np.ndarray]]:
    out = []
    for p in eval_set.pairs:
        h, w = p.hr.shape[:2]
        y, x = (h - size) // 2, (w - size) // 2
        if y >= 0 and x >= 0:
            out.append((p.name, p.hr[y : y + size, x : x + size]))
    return out


def default_codec() -> dict:
    """The config of the codec ``srcodec.encode`` uses for stills when given none (it chooses
    by what it is given: unrelated stills get the per-frame codec, footage a stream codec)."""
    return srcodec.get_codec(PER_FRAME_CODEC).get_config()


@benchmark("size", section=1)
class Size(Benchmark):
    def run(self, ctx: Context) -> dict:
        configs, notes = usable_configs()
        groups = {}
        samples = load_set("samples", ROOT / "samples" / "frames", limit=ctx.limit)
        groups["CCTV sample crops, `samples/frames`"] = [(p.name, p.hr) for p in samples.pairs]
        sets = ctx.sets
        if "photos" in sets:
            groups["photos, 400x400 centre crops of `data/eval`"] = centre_crops(sets["photos"])
        for name, s in sets.items():
            groups[f"{name}, {s.describe()}"] = [(p.name, p.hr) for p in s.pairs]
        results = {}
        for title, frames in groups.items():
            if not frames:
                continue
            ctx.progress(f"size: {title}")
            results[title] = measure(frames, configs)
        return {"notes": notes, "default_codec": default_codec(), "groups": results}

    def render(self, result: dict) -> str:
        lines = [
            "## Size",
            "",
            "Bytes per frame: `full PNG` is the original frame as PNG (Pillow, level 9); "
            "`payload` the",
            "low-resolution frame coded by each srcodec codec; `archive` a real `.src` archive "
            "written",
            "by `srcodec.encode` (header, index and chunk overhead included) divided by the frame",
            "count; `x smaller` is full PNG / archive. Every payload was decoded and compared bit "
            "for",
            "bit. Times are per low-resolution frame, one thread, this machine (shared CPU).",
            "",
        ]
        notes = result["notes"]
        lines += [f"- {n}" for n in notes] + ([""] if notes else [])
        for title, res in result["groups"].items():
            png_row = next(r for r in res["rows"] if r["codec"]["id"] == "png")
            lines += [
                f"### {title}",
                "",
                f"Original as PNG: **{res['full_png'] / 1e3:,.1f} kB**/frame; low-resolution PNG "
                f"{png_row['payload'] / 1e3:,.1f} kB ({res['frames']} frames).",
                "",
            ]
            rows = []
            for r in sorted(res["rows"], key=lambda r: r["archive"]):
                rows.append(
                    [
                        label(r["codec"]),
                        f"{r['payload']:,.0f}",
                        f"{r['archive']:,.0f}",
                        f"{r['ratio']:.2f}",
                        f"{100 * (r['payload'] / png_row['payload'] - 1):+.1f} %",
                        f"{r['encode_ms']:.1f}",
                        f"{r['decode_ms']:.1f}",
                    ]
                )
            lines += md_table(
                [
                    "codec",
                    "payload B",
                    "archive B",
                    "x smaller",
                    "vs low-res PNG",
                    "encode ms",
                    "decode ms",
                ],
                rows,
            )
            lines.append("")
        return "\n".join(lines)
