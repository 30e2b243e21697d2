"""docs/benchmarks.md and its plots, rendered from the stored results (benchmarks/results/*.json)
alone: a head saying how and where each was measured, the summary, then every benchmark's
section in the registry's order. Nothing is measured here.
"""

from __future__ import annotations

from pathlib import Path

from . import RESULTS, Benchmark, BenchmarkError, load_result, registry
from .context import DOCS, ROOT, rel
from .figures import documents, fill, stale


def summary(results: dict[str, dict]) -> list[str]:
    """The headline figures, in words, from the size, quality and rate-distortion results."""
    from .suite.rd import interp

    if not {"size", "quality", "rd"} <= set(results):
        return []
    size, quality, rd = (results[k] for k in ("size", "quality", "rd"))
    lines = ["## Summary", ""]
    default_config = size["default_codec"]
    default_id = default_config["id"]
    for title, res in size["groups"].items():
        best = min(res["rows"], key=lambda r: r["archive"])
        default = next((r for r in res["rows"] if r["codec"] == default_config), None)
        text = f"- Size, {title}: original as PNG {res['full_png'] / 1e3:,.1f} kB/frame; "
        if default:
            text += (
                f"srcodec with its default codec ({default_id}, {default_config}) "
                f"{default['archive'] / 1e3:,.1f} kB ({default['ratio']:.2f}x smaller); "
            )
        text += (
            f"smallest with {best['codec']['id']}: {best['archive'] / 1e3:,.1f} kB "
            f"({best['ratio']:.2f}x)."
        )
        lines.append(text)
    for name, res in quality["results"].items():
        base = res["bicubic"]["psnr_rgb"]
        parts = [
            f"{m} {r['psnr_rgb']:.2f} dB ({r['psnr_rgb'] - base:+.2f})" for m, r in res.items()
        ]
        lines.append(
            f"- Quality, {name} (PSNR RGB vs bicubic {base:.2f} dB): " + "; ".join(parts[1:])
        )
    rd_results = rd["results"]
    for name, res in rd_results.items():
        bpp = min(res["srcodec_bpp"].values())
        for m, db in res["models"].items():
            if not m.startswith("srcodec"):
                continue
            wins = []
            for cname, curve in res["curves"].items():
                at = interp(curve, bpp, "bpp", "psnr")
                need = interp(curve, db, "psnr", "bpp")
                if at is not None:
                    wins.append(f"{cname} {at:.1f} dB" + (f" / {need:.2f} bpp" if need else ""))
            lines.append(
                f"- Rate-distortion, {name}: {m} stores {bpp:.2f} bpp for {db:.2f} dB; at that "
                f"rate the classical codecs give " + ", ".join(wins) + " (PSNR at srcodec's rate "
                "/ rate needed for srcodec's PSNR)."
            )
    beaten = all(
        (interp(c, min(r["srcodec_bpp"].values()), "bpp", "psnr") or 0) > db
        for r in rd_results.values()
        for m, db in r["models"].items()
        if m.startswith("srcodec")
        for c in r["curves"].values()
    )
    if not beaten:
        return lines + [
            "",
            "**Where srcodec wins and loses:** see Rate-distortion; at least one classical codec",
            "does not beat srcodec at its rate in this run.",
            "",
        ]
    lines += [
        "",
        "**Where srcodec wins and loses.** srcodec stores frames far smaller than lossless PNG",
        "(Size) and restores them better than bicubic (Quality). At matched bytes per",
        "frame it loses clearly to every modern lossy codec coding the full-resolution frame",
        "(Rate-distortion): its rate is set by *lossless* coding of a quarter of the pixels, a",
        "point where JPEG, WebP, AVIF and JPEG XL are all several dB better, and they reach",
        "srcodec's PSNR at a fraction of its bytes. What srcodec offers instead is that the stored",
        "frame is",
        "an exact, model-independent half-resolution image (bit-exact, re-restorable with a",
        "better model later), and no blocking or ringing artefacts from a lossy codec; what it",
        "costs is decode speed (Speed and memory: the network runs on every frame, tens to",
        "thousands of times slower than bicubic on this CPU).",
        "",
    ]
    return lines


def _versions(meta: dict) -> str:
    soft = meta.get("software")
    if not soft:  # results stored before the record named versions
        m = meta.get("machine", {})
        return f"torch {m.get('torch', '?')}, numpy {m.get('numpy', '?')} (older record)"
    codecs = ", ".join(f"{k} {v}" for k, v in soft.get("codecs", {}).items())
    return (
        f"srcodec {soft['srcodec']} ({soft['commit']}), torch {soft['torch']}, onnxruntime "
        f"{soft['onnxruntime']}, PyAV {soft['av']}; {codecs}"
    )


def head(metas: dict[str, dict], folder: Path) -> list[str]:
    """Where, when and how each stored result was measured."""
    models = sorted({m for meta in metas.values() for m in meta.get("models", [])})
    runs = []
    for name, meta in metas.items():
        m = meta["machine"]
        frames = meta.get("frames", {})
        sets = "; ".join(f"{n}: {d}" for n, d in meta.get("sets", {}).items())
        runs += [
            f"- **{name}**: `{meta['command']}`, {meta['started']}, "
            f"{meta['seconds'] / 60:.1f} min on {m['cpu']} ({m['cpus']} CPUs, "
            f"{meta.get('threads', m.get('torch_threads'))} threads, GPU: {m['gpu']}), load "
            f"average {meta['load'][0]:.1f} before / {meta['load'][1]:.1f} after"
            + (" (**quick run**: a smoke test, not a measurement)" if meta.get("quick") else ""),
            f"  - versions: {_versions(meta)}",
            f"  - chosen on: {frames.get('chosen_on', 'not recorded')}; reported on: "
            f"{frames.get('reported_on', sets or 'not recorded')}",
        ]
    return [
        "# Benchmarks",
        "",
        f"Rendered by `python -m benchmarks report` from the stored results in `{rel(folder)}/`",
        "(do not edit by hand; `python -m benchmarks report --check` fails when this page or a",
        "marked figure elsewhere differs from them); every figure and plot on this page comes",
        "from them. Each section's result is re-measured by `python -m benchmarks run NAME`.",
        "",
        "Photos are scikit-image's lossless photos; CCTV frames are held-out frames of `vtest.avi`",
        "(from frame 636 on; `python -m benchmarks.datasets.prepare`); no model was trained on",
        "either. Where a setting was chosen on frames a section reports, its record below says so",
        "(chosen on). Load averages above the CPU count mean other work shared the CPU: times are",
        "then pessimistic and thread scaling unreliable.",
        "",
        f"Models: {', '.join(f'`{m}`' for m in models)}",
        "",
        *runs,
        "",
    ]


def render(
    folder: Path = RESULTS,
    docs: Path = DOCS,
    names: list[str] | None = None,
    figures: bool = True,
) -> str:
    """The page, from ``folder/NAME.json`` of every benchmark (or those named); its plots are
    written into ``docs`` (unless ``figures`` is false: those there stay as they are). A
    benchmark named but not stored is an error; of the full page, those not stored are listed
    at its head as not measured (never rendered from anything else)."""
    chosen: dict[str, Benchmark] = registry()
    if names:
        chosen = {n: chosen[n] for n in names if n in chosen}
        unknown = sorted(set(names) - set(chosen))
        if unknown:
            raise BenchmarkError(f"unknown benchmarks: {', '.join(unknown)}")
    missing = [n for n in chosen if not (Path(folder) / f"{n}.json").is_file()]
    if missing and names:
        raise BenchmarkError(
            f"no stored result in {folder} for: {', '.join(missing)} "
            "(run `python -m benchmarks run NAME`)"
        )
    chosen = {n: b for n, b in chosen.items() if n not in missing}
    stored = {n: load_result(n, folder) for n in chosen}
    results = {n: s["result"] for n, s in stored.items()}
    if figures:
        for n, b in chosen.items():
            b.figures(results[n], docs)
    body = summary(results)
    for name, b in chosen.items():
        body.append(b.render(results[name]).rstrip("\n") + "\n")
    absent = []
    if missing:
        absent = [
            f"**Not measured** (no stored result): {', '.join(missing)}. Measure with "
            f"`python -m benchmarks run {' '.join(missing)}`, then render this page again.",
            "",
        ]
    return "\n".join(head({n: s["meta"] for n, s in stored.items()}, folder) + absent + body)


def write(
    output: Path = DOCS / "benchmarks.md",
    folder: Path = RESULTS,
    names: list[str] | None = None,
    figures: bool = True,
) -> list[Path]:
    """Render the benchmarks page; then, for the whole page from the committed results, every
    marked figure and section of the other docs (``benchmarks.figures``). The files written."""
    output = Path(output)
    output.write_text(render(folder, output.parent, names, figures))
    written = [output]
    if names or Path(folder).resolve() != RESULTS.resolve():
        return written
    for path in documents(ROOT):
        text = path.read_text()
        new = fill(text, folder)
        if new != text:
            path.write_text(new)
            written.append(path)
    return written


def check(folder: Path = RESULTS, output: Path = DOCS / "benchmarks.md") -> list[str]:
    """What differs from what the stored results render: the benchmarks page, and each marked
    figure or section of README.md and docs/ (one line each); empty when all match. Writes
    nothing (the plots are not compared: they are drawn from the same results)."""
    out = []
    if Path(output).read_text() != render(folder, Path(output).parent, figures=False):
        out.append(f"{rel(output)}: differs from `python -m benchmarks report`")
    return out + stale(documents(ROOT), folder, ROOT)


__all__ = ["check", "render", "summary", "write"]
