"""Restoration engines compared in one run, each against plain PyTorch eager fp32 NCHW of the same
model: seconds per frame (200x200 and 400x400 low-resolution inputs, 2 and 1 threads), the
largest float difference from eager, and PSNR on the evaluation sets beside bicubic; then the
share of a real decode (read, lowres decode, restore, PNG write) spent in the network.

    python -m benchmarks run engines                # the suite's section: bundled models only
    python -m benchmarks.suite.engines              # bundled models + a 16x64 EDSR
    python -m benchmarks.suite.engines --json out.json --set photos=data/eval --arch 16x64

Models given by ``--arch RxF`` get random weights: their speed rows are meaningful, their PSNR
is not measured. Calibration frames for their int8 export: ``--calibration`` (default data/train,
else the sample frames). Engines: torch eager NCHW (the baseline, 1.00x), torch channels-last,
torch TorchScript (traced, frozen, optimised for inference), ONNX Runtime fp32 and int8 (the
exports the decoder uses: the shipped files for bundled models, exported here otherwise).
Timings: best of ``--repeat`` rounds after one warm-up, engines taking turns in each round.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from srcodec.engines.choose import make_restorer
from srcodec.engines.export import calibration_patches, export_fp32, quantize_int8
from srcodec.engines.ortengine import OrtRestorer
from srcodec.engines.tiling import to_uint8
from srcodec.inputs import list_frames, read_frame
from srcodec.metrics import psnr
from srcodec.models.edsr import EDSR, EDSRConfig
from srcodec.models.store import ModelInfo, find_onnx, load_weights, onnx_name, save_model
from srcodec.resample import downscale, upscale

from .. import Benchmark, benchmark
from ..context import (
    DEFAULT_SETS,
    ROOT,
    Context,
    Progress,
    find_models,
    load_set,
    machine,
    md_table,
    nchw,
    parse_set,
    run_module,
    seconds,
)

Forward = Callable[[np.ndarray], np.ndarray]  # float32 NCHW -> float32 NCHW


# --- the engines, as float-in float-out functions ---------------------------------------------


def torch_forward(model: EDSR, channels_last: bool) -> Forward:
    model = copy.deepcopy(model).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            t = torch.from_numpy(x)
            if channels_last:
                t = t.contiguous(memory_format=torch.channels_last)
            return model(t).contiguous().numpy()

    return run


def jit_forward(model: EDSR, example: np.ndarray) -> Forward:
    """TorchScript trace, frozen and optimised for inference (MKL-DNN convolutions)."""
    with torch.inference_mode():
        traced = torch.jit.trace(copy.deepcopy(model).eval(), torch.from_numpy(example))
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return frozen(torch.from_numpy(x)).contiguous().numpy()

    return run


def onnx_files(
    info: ModelInfo, folder: Path, calibration: list[str], patches: int, log: Progress
) -> dict:
    """The fp32 and int8 exports the decoder uses; for models without them, made in ``folder``
    (beside the weights, ``engine="auto"`` finds them too)."""
    files = {p: find_onnx(info, p) for p in ("fp32", "int8")}
    if files["fp32"] is None:
        log(f"engines: exporting {info.short_id} to ONNX")
        files["fp32"] = export_fp32(info, folder / onnx_name(info, "fp32"))
    if files["int8"] is None:
        log(f"engines: quantizing {info.short_id} to int8 on {', '.join(calibration)}")
        lows, _ = calibration_patches(calibration, count=patches)
        files["int8"] = quantize_int8(info, files["fp32"], folder / onnx_name(info, "int8"), lows)
    return files


def engines(
    model: EDSR, files: dict, threads: int, example: np.ndarray, jit: bool
) -> dict[str, Forward]:
    out = {
        "torch eager fp32 NCHW": torch_forward(model, False),
        "torch channels_last": torch_forward(model, True),
    }
    if jit:
        out["torch jit frozen"] = jit_forward(model, example)
    for precision in ("fp32", "int8"):
        ort = OrtRestorer(files[precision], threads=threads)
        out[f"onnxruntime {precision}"] = ort.forward_float
    return out


# --- measurements -------------------------------------------------------------------------------


def bench_inputs() -> dict[str, np.ndarray]:
    """Low-resolution inputs of a real frame: a sample frame's 200x200, and it 2x2 (400x400)."""
    lr = downscale(read_frame(list_frames(ROOT / "samples" / "frames")[0]))
    return {f"{lr.shape[1]}x{lr.shape[0]}": nchw(lr), "400x400": nchw(np.tile(lr, (2, 2, 1)))}


def quality(fns: dict[str, Forward], sets: list, log: Progress) -> dict:
    """PSNR (RGB and Y, 2 px shaved) per engine and set, and the largest float difference from
    eager over every frame; bicubic beside them."""
    out: dict = {"bicubic": {}}
    for name in fns:
        out[name] = {"max_abs_diff": 0.0}
    for s in sets:
        log(f"engines: quality on {s.name} ({len(s.pairs)} frames)")
        scores: dict[str, list] = {k: [] for k in out}
        for pair in s.pairs:
            h, w = pair.hr.shape[:2]
            bic = upscale(pair.lr, (w, h))
            scores["bicubic"].append((psnr(pair.hr, bic), psnr(pair.hr, bic, y=True)))
            ref = None
            for name, fn in fns.items():
                sr = fn(nchw(pair.lr))
                if ref is None:
                    ref = sr
                else:
                    diff = float(np.abs(sr - ref).max())
                    out[name]["max_abs_diff"] = max(out[name]["max_abs_diff"], diff)
                img = to_uint8(sr)[0, :h, :w]
                scores[name].append((psnr(pair.hr, img), psnr(pair.hr, img, y=True)))
        for name, vals in scores.items():
            rgb, y = np.mean(vals, axis=0)
            out[name][s.name] = {"psnr_rgb": float(rgb), "psnr_y": float(y)}
    return out


def pipeline_share(info: ModelInfo, threads: int) -> dict:
    """The decode's share spent in the network, measured in a fresh process (_pipeline_share)
    as ``srcodec decode`` runs: no torch thread pool of this process beside it."""
    args = [str(info.path), "--threads", str(threads)]
    out = run_module(f"{__package__}._pipeline_share", args, capture_output=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the run -------------------------------------------------------------------------------------


def random_model(arch: str, tmp: Path) -> ModelInfo:
    blocks, features = (int(v) for v in arch.lower().split("x"))
    torch.manual_seed(0)
    model = EDSR(EDSRConfig(blocks=blocks, features=features, bicubic_skip=True))
    torch.nn.init.normal_(model.tail.weight, std=1e-3)  # not the all-zero start: a real tail
    return save_model(model, tmp / f"random-{arch}.safetensors", f"random-r{blocks}f{features}s")


def measure(args: argparse.Namespace, log: Progress) -> dict:
    specs = [parse_set(s) for s in args.set] or [
        (name, folder, 2 * stride)  # half the suite's frames: this run is about the engines
        for name, (folder, stride) in DEFAULT_SETS.items()
        if folder.is_dir()
    ]
    sets = [load_set(name, folder, stride, args.limit) for name, folder, stride in specs]
    calibration = (
        args.calibration
        or [str(p) for p in (ROOT / "data" / "train",) if p.is_dir()]
        or [str(ROOT / "samples" / "frames")]
    )
    inputs = bench_inputs()
    if args.quick:
        inputs = dict(list(inputs.items())[:1])
    result: dict = {"machine": measured_on(), "calibration": calibration, "models": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = [(m, True) for m in find_models(args.model)]
        models += [(random_model(a, tmp), False) for a in args.arch]
        for info, measured_quality in models:
            model, _ = load_weights(info.path, info.sha256)
            # Random weights need no careful calibration: 16 patches keep the run short.
            patches = 48 if measured_quality else 16
            files = onnx_files(info, tmp, calibration, patches, log)
            entry: dict = {
                "model": info.short_id,
                "architecture": info.config.name,
                "weights": "trained" if measured_quality else "random (speed only)",
                "auto_engine": make_restorer(info, "cpu").engine,
                "onnx": {k: Path(v).name for k, v in files.items()},
                "speed": [],
            }
            for n in args.threads:
                torch.set_num_threads(n)
                fns = engines(model, files, n, inputs[next(iter(inputs))], args.jit)
                for size, x in inputs.items():
                    log(f"engines: {info.short_id} {size}, {n} thread(s)")
                    timed = seconds(fns, x, args.repeat)
                    base = timed["torch eager fp32 NCHW"]
                    for name, s in timed.items():
                        entry["speed"].append(
                            {"engine": name, "threads": n, "input": size, "s": s, "x": base / s}
                        )
                if n == max(args.threads) and measured_quality and sets:
                    entry["quality"] = quality(fns, sets, log)
            if measured_quality:
                log(f"engines: pipeline share, {info.short_id}")
                entry["pipeline"] = pipeline_share(info, max(args.threads))
            result["models"].append(entry)
    result["sets"] = {s.name: s.describe() for s in sets}
    return result


def measured_on() -> dict:
    """The machine and the torch version the figures are measured with (``machine()`` records
    the hardware only; the run's own record holds every version)."""
    return {**machine(), "torch": torch.__version__}


def markdown(result: dict, title: str = "## Restoration engines") -> list[str]:
    m = result["machine"]
    lines = [
        title,
        "",
        f"{m['cpu']}, {m['cpus']} CPUs; torch {m['torch']}; `python -m benchmarks.suite.engines`.",
        "Seconds per frame: best of the rounds, the engines taking turns in each round. Ratios are",
        "against torch eager fp32 NCHW of the same model, threads and input, in the same run;",
        "`max abs diff` is the largest difference of the float output from eager over",
        "every evaluation frame (before rounding).",
        "",
    ]
    for e in result["models"]:
        lines += [f"### {e['model']} ({e['architecture']}, {e['weights']})", ""]
        lines += [f'`engine="auto"` on the CPU picks: **{e["auto_engine"]}**.', ""]
        sizes = list(dict.fromkeys(r["input"] for r in e["speed"]))
        head = ["engine", "threads"] + [h for s in sizes for h in (f"s/frame {s}", "x eager")]
        rows = []
        for n in dict.fromkeys(r["threads"] for r in e["speed"]):
            for name in dict.fromkeys(r["engine"] for r in e["speed"]):
                row = [name, str(n)]
                for s in sizes:
                    r = next(
                        r
                        for r in e["speed"]
                        if (r["engine"], r["threads"], r["input"]) == (name, n, s)
                    )
                    row += [f"{r['s']:.3f}", f"{r['x']:.2f}"]
                rows.append(row)
        lines += md_table(head, rows, "ll" + "r" * (len(head) - 2)) + [""]
        q = e.get("quality")
        if q:
            sets = [k for k in q["bicubic"]]
            head = ["engine", *[f"{s} {c}" for s in sets for c in ("RGB", "Y")], "max abs diff"]
            base = next(iter(k for k in q if k != "bicubic"))
            rows = []
            for name, r in q.items():
                cells = []
                for s in sets:
                    for key in ("psnr_rgb", "psnr_y"):
                        d = r[s][key] - q[base][s][key]
                        delta = f" ({d:+.3f})" if name not in (base, "bicubic") else ""
                        cells.append(f"{r[s][key]:.3f}{delta}")
                diff = "" if name in (base, "bicubic") else f"{r['max_abs_diff']:.2g}"
                rows.append([name, *cells, diff])
            lines += ["PSNR in dB (difference from eager in brackets):", ""]
            lines += md_table(head, rows) + [""]
        p = e.get("pipeline")
        if p:
            lines += [
                f"Decode pipeline ({p['frames']} frames of 400x400, {p['engine']} engine, "
                f"{p['threads']} threads, read + lowres decode + restore + PNG write, "
                "`srcodec.decode_to_folder` in a fresh process, "
                f"`benchmarks/suite/_pipeline_share.py`): "
                f"{p['wall_s']:.2f} s; the network alone restores the same frames in "
                f"{p['network_alone_s']:.2f} s: **{100 * p['share']:.0f} %** of the decode's "
                "wall time (best of 3 each).",
                "",
            ]
    lines += ["Evaluation sets: " + "; ".join(f"{k}: {v}" for k, v in result["sets"].items())]
    return lines


@benchmark("engines", section=6)
class Engines(Benchmark):
    def run(self, ctx: Context) -> dict:
        """Measured in a fresh process: the thread pools this one has started (torch's,
        waifu2x's) would otherwise keep spinning beside the engines being timed."""
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "engines.json"
            args = ["--arch", "", "--json", str(out)] + [f"--model={m}" for m in ctx.model_specs]
            args += ["--quick", "--repeat", "2", f"--limit={ctx.limit}"] if ctx.quick else []
            ctx.progress("engines: in a fresh process")
            run_module(__name__, args, check=True, stdout=subprocess.DEVNULL)
            return json.loads(out.read_text())

    def render(self, result: dict) -> str:
        return "\n".join(markdown(result, "## Restoration engines on the CPU"))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", action="append", default=[], help="extra weights file or id")
    ap.add_argument(
        "--arch", action="append", default=None, help="random-weight EDSR RxF (default 16x64)"
    )
    ap.add_argument("--set", action="append", default=[], help="evaluation set name=folder[:n]")
    ap.add_argument("--calibration", action="append", default=[], help="int8 calibration frames")
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-jit", dest="jit", action="store_false", help="skip TorchScript frozen")
    ap.add_argument("--quick", action="store_true", help="the 200x200 input only")
    ap.add_argument("--limit", type=int, default=None, help="frames per evaluation set")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    args.arch = ["16x64"] if args.arch is None else [a for a in args.arch if a]
    result = measure(args, Progress())
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print("\n".join(markdown(result)))


if __name__ == "__main__":
    sys.exit(main())
