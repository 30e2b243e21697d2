"""Rate-distortion: srcodec's real archive bytes per frame against JPEG, WebP, AVIF and JPEG XL
coding the full-resolution frame directly, quality swept to bracket srcodec's size; PSNR (RGB,
srcodec.metrics.psnr) against bits per full-resolution pixel, one plot per evaluation set.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, features

from srcodec import psnr

from .. import Benchmark, benchmark, pyplot
from ..context import Context, EvalSet, md_table, rel
from .size import archive_bytes, default_configs, label

Coder = Callable[[np.ndarray, float], tuple[int, np.ndarray]]


def _pil_coder(fmt: str, **options) -> Coder:
    def code(frame: np.ndarray, quality: float) -> tuple[int, np.ndarray]:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format=fmt, quality=int(quality), **options)
        data = buf.getvalue()
        with Image.open(io.BytesIO(data)) as im:
            return len(data), np.asarray(im.convert("RGB"))

    return code


def _jxl_coder() -> Coder:
    import imagecodecs

    def code(frame: np.ndarray, distance: float) -> tuple[int, np.ndarray]:
        data = imagecodecs.jpegxl_encode(frame, distance=distance, effort=7, numthreads=1)
        return len(data), imagecodecs.jpegxl_decode(data)

    return code


def _avif_coder() -> tuple[Coder, str]:
    if features.check("avif"):
        return _pil_coder("AVIF", speed=6), "Pillow (libavif), speed 6, 4:2:0"
    import imagecodecs

    def code(frame: np.ndarray, quality: float) -> tuple[int, np.ndarray]:
        data = imagecodecs.avif_encode(frame, level=int(quality), speed=6)
        return len(data), imagecodecs.avif_decode(data)

    return code, "imagecodecs (libavif), speed 6"


def coders() -> tuple[dict[str, tuple[Coder, list[float], str]], list[str]]:
    """name -> (coder, settings swept from small to large files, description)."""
    found = {
        "JPEG": (
            _pil_coder("JPEG", optimize=True),
            [5, 10, 20, 35, 50, 70, 85, 92, 96, 98],
            "Pillow (libjpeg-turbo), quality q, 4:2:0, optimised Huffman",
        ),
        "WebP": (
            _pil_coder("WEBP", method=4),
            [5, 15, 30, 50, 70, 85, 92, 97, 100],
            "Pillow (libwebp), lossy, quality q, method 4",
        ),
    }
    notes = []
    try:
        avif, how = _avif_coder()
        found["AVIF"] = (avif, [10, 25, 40, 55, 70, 80, 88, 94, 98], how + ", quality q")
    except ImportError as exc:
        notes.append(f"AVIF left out: {exc}")
    try:
        found["JPEG XL"] = (
            _jxl_coder(),
            [12.0, 6.0, 3.0, 2.0, 1.2, 0.8, 0.5, 0.3, 0.15, 0.07],
            "imagecodecs (libjxl), lossy, distance d, effort 7",
        )
    except ImportError as exc:
        notes.append(f"JPEG XL left out: {exc}")
    return found, notes


def sweep(s: EvalSet, coder: Coder, settings: list[float]) -> list[dict]:
    points = []
    for q in settings:
        total, scores = 0, []
        for p in s.pairs:
            n, out = coder(p.hr, q)
            total += n
            scores.append(psnr(p.hr, out))
        points.append({"q": q, "bpp": 8 * total / s.pixels, "psnr": float(np.mean(scores))})
    return sorted(points, key=lambda pt: pt["bpp"])


def interp(points: list[dict], x: float, xkey: str, ykey: str) -> float | None:
    """Linear interpolation of ``ykey`` at ``xkey`` = x along the swept curve; None outside."""
    pts = sorted(points, key=lambda pt: pt[xkey])
    xs, ys = [pt[xkey] for pt in pts], [pt[ykey] for pt in pts]
    if not xs[0] <= x <= xs[-1]:
        return None
    return float(np.interp(x, xs, ys))


@benchmark("rd", section=3, requires=("quality",))
class RateDistortion(Benchmark):
    def run(self, ctx: Context) -> dict:
        defaults = default_configs()
        found, notes = coders()
        quality = ctx.result("quality")["results"]
        results, titles = {}, {}
        for name, s in ctx.sets.items():
            ctx.progress(f"rd {name}: srcodec archives")
            frames = [(p.name, p.hr) for p in s.pairs]
            sr = {label(c): 8 * archive_bytes(frames, c) / s.pixels for c in defaults}
            curves = {}
            for cname, (coder, settings, _) in found.items():
                ctx.progress(f"rd {name}: {cname} sweep")
                curves[cname] = sweep(s, coder, settings)
            models = {m: r["psnr_rgb"] for m, r in quality[name].items()}
            results[name] = {"srcodec_bpp": sr, "models": models, "curves": curves}
            titles[name] = {
                "describe": s.describe(),
                "plot": f"{name}: {len(s.pairs)} frames of {rel(s.folder)}",
            }
        return {
            "coders": {cname: desc for cname, (_, _, desc) in found.items()},
            "notes": notes,
            "sets": titles,
            "results": results,
        }

    def figures(self, result: dict, folder: Path) -> list[str]:
        return [
            plot(res, result["sets"][name]["plot"], Path(folder) / plot_name(name))
            for name, res in result["results"].items()
        ]

    def render(self, result: dict) -> str:
        lines = [
            "## Rate-distortion",
            "",
            "srcodec's rate is that of real archives written by `srcodec.encode` (all bytes of the",
            "file / pixels of the full-resolution frames), once per low-resolution codec (at its",
            "default settings); its distortion is the mean PSNR of Quality (the low-resolution",
            "codecs are lossless, so every codec gives the same frames back). The classical codecs",
            "code the full-resolution frame directly, sweeping their quality setting. PSNR is",
            "`srcodec.metrics.psnr` (RGB, 2 px shaved, for every method alike), mean over frames;",
            "bpp is bits per full-resolution pixel.",
            "",
        ]
        lines += [f"- {cname}: {desc}" for cname, desc in result["coders"].items()]
        lines += [f"- {n}" for n in result["notes"]] + [""]
        for name, res in result["results"].items():
            png = plot_name(name)
            describe = result["sets"][name]["describe"]
            lines += [f"### {name}: {describe}", "", f"![RD {name}]({png})", ""]
            default_bpp = min(res["srcodec_bpp"].values())
            best_label = min(res["srcodec_bpp"], key=res["srcodec_bpp"].get)
            rows = []
            for m, db in res["models"].items():
                for cname, curve in res["curves"].items():
                    at_rate = interp(curve, default_bpp, "bpp", "psnr")
                    at_quality = interp(curve, db, "psnr", "bpp")
                    rows.append(
                        [
                            m,
                            f"{default_bpp:.3f} bpp, {db:.2f} dB",
                            cname,
                            "not reached"
                            if at_rate is None
                            else f"{at_rate:.2f} ({at_rate - db:+.2f})",
                            "out of sweep"
                            if at_quality is None
                            else f"{at_quality:.3f} ({at_quality / default_bpp:.2f}x)",
                        ]
                    )
            lines += [
                f"srcodec's smallest archive here uses {best_label}. `PSNR at srcodec's rate`: the",
                "classical codec at the same bits per pixel (its margin over srcodec); `bpp at",
                "srcodec's PSNR`: what the classical codec needs for the same PSNR (ratio to "
                "srcodec).",
                "",
            ]
            lines += md_table(
                ["decoder", "srcodec", "codec", "PSNR at srcodec's rate", "bpp at srcodec's PSNR"],
                rows,
                "lllrr",
            )
            lines += ["", "| srcodec low-res codec | bpp |", "|---|---:|"]
            lines += [f"| {k} | {v:.3f} |" for k, v in sorted(res["srcodec_bpp"].items())]
            lines.append("")
        return "\n".join(lines)


def plot_name(name: str) -> str:
    return f"benchmarks_rd_{name}.png"


def plot(res: dict, title: str, out: Path) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for cname, curve in res["curves"].items():
        ax.plot([p["bpp"] for p in curve], [p["psnr"] for p in curve], "o-", ms=3, label=cname)
    markers = "s^Dv<>p*"
    for i, (m, db) in enumerate(res["models"].items()):
        bpps = list(res["srcodec_bpp"].items())
        for j, (codec, bpp) in enumerate(bpps):
            ax.plot(
                bpp,
                db,
                markers[j % len(markers)],
                ms=8,
                mfc="none" if m == "bicubic" else None,
                color=f"C{5 + i}",
                label=f"{m} + {codec.split(' ')[0]}",
            )
    ax.set_xlabel("bits per full-resolution pixel")
    ax.set_ylabel("PSNR RGB (dB, 2 px shaved)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out.name
