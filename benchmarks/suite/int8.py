"""int8 against fp32, frame by frame, on held-out frames of every kind: the suite's photos and
CCTV frames, and clean content made from the photos (each shrunk once more, darkened and
brightened, and synthetic gradients with a few hard edges), with the worst frame of each set;
then the speed of torch eager, ONNX Runtime fp32 and int8 on the same input.

    python -m benchmarks run int8                    # the suite's section: every model's exports
    python -m benchmarks.suite.int8 --int8 legacy=a.int8.onnx --json out.json

Quality: PSNR against the original frame (``srcodec.psnr``: RGB and Y, 2 px shaved) of the
fp32 export and of each int8 file restoring the same low-resolution input (the encoder's
``downscale``); per set the mean fp32 PSNR, the mean int8 - fp32 difference and the worst
frame's. ``--int8 LABEL=FILE`` adds int8 files of the first model (another recipe, say).
Speed: ms per 400x400 output frame (a sample frame's 200x200 low-resolution twin), best of the
rounds after a warm-up, engines taking turns. Never calibrate on these frames.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from srcodec.engines.ortengine import OrtRestorer
from srcodec.metrics import psnr
from srcodec.models.store import ModelInfo, find_onnx, load_weights
from srcodec.resample import downscale
from srcodec.training.trainer import Pair

from .. import Benchmark, benchmark
from ..context import DEFAULT_SETS, Context, md_table, run_module, seconds
from .engines import bench_inputs, torch_forward

#: Seeds of the synthetic gradients in the clean set (one in a quick run).
GRADIENTS = (1, 2, 3)
EAGER = "torch eager fp32"


def _pair(name: str, hr: np.ndarray) -> Pair:
    hr = hr[: hr.shape[0] // 2 * 2, : hr.shape[1] // 2 * 2]  # HR and LR pixel-aligned
    return Pair(name, hr, downscale(hr))


def synthetic(seed: int, size: int = 384) -> np.ndarray:
    """Smooth colour gradients with a few hard-edged flat discs: clean camera-like content."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.empty((size, size, 3))
    for c in range(3):
        a, b, d = rng.uniform(-1, 1, 3)
        img[..., c] = 128 + 90 * np.tanh(a * x + b * y + d * (x - 0.5) * (y - 0.5))
    for _ in range(4):
        cy, cx, r = rng.uniform(0.15, 0.85, 2).tolist() + [rng.uniform(0.05, 0.15)]
        img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.uniform(30, 225, 3)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def clean(photos: list[Pair], seeds: tuple[int, ...] = GRADIENTS) -> list[Pair]:
    """High-PSNR content, where int8 loses most: each photo shrunk once more (smooth),
    darkened and brightened, and synthetic gradients."""
    out = []
    for p in photos:
        f, name = p.hr.astype(np.float32), Path(p.name).stem
        out.append(_pair(f"{name}-smooth", p.lr))
        out.append(_pair(f"{name}-dark", np.rint(f * 0.25).astype(np.uint8)))
        out.append(_pair(f"{name}-bright", np.rint(255 - (255 - f) * 0.3).astype(np.uint8)))
    return out + [_pair(f"gradient-{s}", synthetic(s)) for s in seeds]


def scores(restorer: OrtRestorer, pairs: list[Pair]) -> list[tuple[str, float, float]]:
    """Per frame: (name, PSNR RGB, PSNR Y) of ``restorer``'s restoration."""
    rows = []
    for p in pairs:
        sr = restorer.restore(p.lr)
        rows.append((p.name, psnr(p.hr, sr), psnr(p.hr, sr, y=True)))
    return rows


def compare(ref: list[tuple], test: list[tuple]) -> dict:
    """Mean fp32 PSNR, mean and worst-frame test - fp32 difference (RGB and Y)."""
    rgb = [b[1] - a[1] for a, b in zip(ref, test, strict=True)]
    y = [b[2] - a[2] for a, b in zip(ref, test, strict=True)]
    worst = int(np.argmin(rgb))
    return {
        "frames": len(ref),
        "fp32_rgb": float(np.mean([a[1] for a in ref])),
        "delta_rgb": float(np.mean(rgb)),
        "delta_y": float(np.mean(y)),
        "worst_rgb": float(rgb[worst]),
        "worst_y": float(min(y)),
        "worst_frame": ref[worst][0],
    }


def measure_model(
    ctx: Context, info: ModelInfo, int8: dict[str, Path], sets: dict[str, list[Pair]]
) -> dict:
    fp32_file = find_onnx(info, "fp32")
    fp32 = OrtRestorer(fp32_file, info.id, threads=ctx.threads)
    restorers = {k: OrtRestorer(f, info.id, threads=ctx.threads) for k, f in int8.items()}
    quality: dict[str, dict] = {label: {} for label in restorers}
    for set_name, pairs in sets.items():
        ctx.progress(f"int8: {info.short_id} on {set_name} ({len(pairs)} frames)")
        ref = scores(fp32, pairs)
        for label, r in restorers.items():
            quality[label][set_name] = compare(ref, scores(r, pairs))
    ctx.progress(f"int8: {info.short_id} speed")
    torch.set_num_threads(ctx.threads)
    model, _ = load_weights(info.path, info.sha256)
    size, x = next(iter(bench_inputs().items()))
    engines = {EAGER: torch_forward(model, False), "onnxruntime fp32": fp32.forward_float}
    engines.update({f"onnxruntime int8 {k}": r.forward_float for k, r in restorers.items()})
    timed = seconds(engines, x, 2 if ctx.quick else 5)
    return {
        "model": info.short_id,
        "files": {"fp32": fp32_file.name, **{k: Path(f).name for k, f in int8.items()}},
        "quality": quality,
        "input": size,
        "ms": {name: 1000 * s for name, s in timed.items()},
    }


def measure(ctx: Context, extra: dict[str, Path]) -> dict:
    photos = ctx.sets["photos"].pairs
    sets = {n: s.pairs for n, s in ctx.sets.items()}
    sets["clean"] = clean(photos, GRADIENTS[:1] if ctx.quick else GRADIENTS)
    described = {n: s.describe() for n, s in ctx.sets.items()}
    described["clean"] = (
        f"{len(sets['clean'])} frames: the photos shrunk once more, darkened and brightened; "
        f"and {len(sets['clean']) - 3 * len(photos)} synthetic gradient(s)"
    )
    result: dict = {"threads": ctx.threads, "sets": described, "models": [], "notes": []}
    for i, info in enumerate(ctx.models):
        files = {"shipped": find_onnx(info, "int8")} if find_onnx(info, "int8") else {}
        files.update(extra if i == 0 else {})
        if not files or find_onnx(info, "fp32") is None:
            result["notes"].append(
                f"{info.short_id} has no fp32 and int8 export (srcodec models --export-onnx "
                f"{info.short_id} --int8): left out."
            )
            continue
        result["models"].append(measure_model(ctx, info, files, sets))
    return result


@benchmark("int8", section=6.1)
class Int8(Benchmark):
    chosen_on = (
        "the int8 recipe (calibration frames, layers kept fp32) was chosen on this benchmark's "
        "clean set, which it also reports: read the clean-set figures as tuned"
    )

    def run(self, ctx: Context) -> dict:
        """Measured in a fresh process, as the engines are: no thread pool of this one (torch's,
        waifu2x's) spins beside the timings."""
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "int8.json"
            args = ["--json", str(out), f"--threads={ctx.threads}"]
            args += [f"--cctv-stride={ctx.cctv_stride}", *(f"--model={m}" for m in ctx.model_specs)]
            args += ["--quick"] if ctx.quick else []
            ctx.progress("int8: in a fresh process")
            run_module(__name__, args, check=True, stdout=subprocess.DEVNULL)
            return json.loads(out.read_text())

    def render(self, result: dict) -> str:
        lines = [
            "### int8 against fp32, frame by frame",
            "",
            "`python -m benchmarks run int8`: PSNR (2 px shaved) of each model's ONNX Runtime "
            "int8 export minus its fp32 export's, on the same low-resolution input, per frame; "
            "the mean over each set and the worst frame. Clean content (smooth, dark, bright, "
            "synthetic gradients) is where int8 loses most. Never calibrated on these frames.",
            "",
        ]
        lines += [f"- {n}" for n in result["notes"]] + ([""] if result["notes"] else [])
        head = ["model", "int8", "set", "frames", "fp32 dB", "d RGB", "d Y", "worst d RGB"]
        head.append("worst d Y")
        rows = [
            [
                m["model"],
                label,
                set_name,
                q["frames"],
                f"{q['fp32_rgb']:.2f}",
                f"{q['delta_rgb']:+.3f}",
                f"{q['delta_y']:+.3f}",
                f"{q['worst_rgb']:+.3f} ({q['worst_frame']})",
                f"{q['worst_y']:+.3f}",
            ]
            for m in result["models"]
            for label, per_set in m["quality"].items()
            for set_name, q in per_set.items()
        ]
        lines += md_table(head, rows, "lllrrrrrr") + [""]
        for m in result["models"]:
            eager = m["ms"][EAGER]
            lines += [
                f"Speed of {m['model']}, ms per {m['input']} low-resolution input "
                f"({result['threads']} threads, best of the rounds, engines taking turns):",
                "",
            ]
            rows = [[name, f"{ms:.1f}", f"{eager / ms:.2f}"] for name, ms in m["ms"].items()]
            lines += md_table(["engine", "ms", "x eager"], rows, "lrr") + [""]
        lines.append("Sets: " + "; ".join(f"{k}: {v}" for k, v in result["sets"].items()))
        lines.append("")
        return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--int8", action="append", default=[], metavar="LABEL=FILE")
    ap.add_argument("--model", action="append", default=[], help="extra weights file or id")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cctv-stride", type=int, default=DEFAULT_SETS["cctv"][1])
    ap.add_argument("--quick", action="store_true", help="a few frames per set (smoke test)")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    extra = {label: Path(f) for label, f in (s.split("=", 1) for s in args.int8)}
    ctx = Context(args.model, args.quick, args.threads, args.cctv_stride)
    result = measure(ctx, extra)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(Int8().render(result))


if __name__ == "__main__":
    main()
