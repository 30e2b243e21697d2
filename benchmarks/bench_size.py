"""Size: bytes per frame of the original as PNG, of each low-resolution codec's payload and of
a real srcodec archive (srcodec.encode), with encode/decode times of each codec (one thread).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, EvalSet, Progress, load_set, md_table

import srcodec
from srcodec.lowres import get_codec
from srcodec.resample import downscale

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
            codec = get_codec(cfg)
            codec.decode(codec.encode(np.zeros((2, 2, 3), np.uint8)), 2, 2, 3)
            ok.append(cfg)
        except Exception as exc:  # e.g. imagecodecs missing: say so, measure the rest
            notes.append(f"{cfg['id']} not measured: {exc}")
    return ok, sorted(set(notes))


def label(cfg: dict) -> str:
    params = ", ".join(f"{k}={v}" for k, v in cfg.items() if k != "id")
    return f"{cfg['id']} ({params})"


def archive_bytes(frames: list[tuple[str, np.ndarray]], codec: dict | str) -> int:
    """Bytes of a real archive of ``frames`` written by srcodec.encode with ``codec``."""
    with tempfile.TemporaryDirectory() as tmp:
        return srcodec.encode(frames, Path(tmp) / "a.src", codec=codec).archive_bytes


def measure(frames: list[tuple[str, np.ndarray]], configs: list[dict]) -> dict:
    png = get_codec({"id": "png", "level": 9})
    full_png = float(np.mean([len(png.encode(f)) for _, f in frames]))
    lows = [downscale(f) for _, f in frames]
    rows = []
    for cfg in configs:
        codec = get_codec(cfg)
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


def run(sets: dict[str, EvalSet], log: Progress) -> tuple[list[str], dict]:
    configs, notes = usable_configs()
    groups = {}
    samples = load_set("samples", ROOT / "samples" / "frames")
    groups["CCTV sample crops, `samples/frames`"] = [(p.name, p.hr) for p in samples.pairs]
    if "photos" in sets:
        groups["photos, 400x400 centre crops of `data/eval`"] = centre_crops(sets["photos"])
    for name, s in sets.items():
        groups[f"{name}, {s.describe()}"] = [(p.name, p.hr) for p in s.pairs]
    results = {}
    for title, frames in groups.items():
        if not frames:
            continue
        log(f"size: {title}")
        results[title] = measure(frames, configs)
    lines = [
        "## 1. Size",
        "",
        "Bytes per frame: `full PNG` is the original frame as PNG (Pillow, level 9); `payload` the",
        "low-resolution frame coded by each srcodec codec; `archive` a real `.src` archive written",
        "by `srcodec.encode` (header, index and chunk overhead included) divided by the frame",
        "count; `x smaller` is full PNG / archive. Every payload was decoded and compared bit for",
        "bit. Times are per low-resolution frame, one thread, this machine (shared CPU).",
        "",
    ]
    lines += [f"- {n}" for n in notes] + ([""] if notes else [])
    for title, res in results.items():
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
    return lines, results


def main() -> None:
    from common import DEFAULT_SETS

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=None, help="frames per set (for a quick look)")
    args = ap.parse_args()
    sets = {n: load_set(n, f, s, args.limit) for n, (f, s) in DEFAULT_SETS.items()}
    lines, _ = run(sets, Progress())
    print("\n".join(lines))


if __name__ == "__main__":
    main()
