"""Speed and memory: encode and decode frames/s of real archives, per low-resolution codec, model,
device and thread count, each measured in a fresh subprocess (torch.set_num_threads, peak RSS by
resource.getrusage), on 400x400 frames and one 1920x1080 frame.

    python -m benchmarks run speed                      # the section
    python -m benchmarks.suite.speed --worker '{...}'   # one measurement, JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import srcodec
from srcodec.inputs import list_frames, read_frame

from .. import Benchmark, benchmark
from ..context import ROOT, Context, md_table, run_module
from .size import default_configs, label, usable_configs

SAMPLE_REPEAT = 2  # 4 sample frames, twice: 8 frames of 400x400


def frame_sets() -> dict[str, list[tuple[str, np.ndarray]]]:
    samples = [read_frame(p) for p in list_frames(ROOT / "samples" / "frames")]
    frames400 = [(f"f{i}", f) for i, f in enumerate(samples * SAMPLE_REPEAT)]
    # Speed does not depend on content; a real CCTV frame resized to 1080p stands in for one.
    cctv = sorted((ROOT / "data" / "cctv" / "val").glob("*.png"))
    src = Image.open(cctv[0]) if cctv else Image.fromarray(samples[0])
    big = np.asarray(src.convert("RGB").resize((1920, 1080), Image.Resampling.LANCZOS))
    return {"400x400": frames400, "1920x1080": [("hd", big)]}


# --- worker: one measurement in a fresh process -------------------------------------------------


def worker(job: dict) -> dict:
    import resource

    import torch

    torch.set_num_threads(job["threads"])
    out: dict = {}
    if job["kind"] == "encode":
        frames = [(f"f{i}", np.load(p)) for i, p in enumerate(job["frames"])]
        t0 = time.perf_counter()
        srcodec.encode(frames, Path(job["archive"]), codec=job["codec"], model=job.get("model"))
        out["seconds"] = time.perf_counter() - t0
        out["frames"] = len(frames)
    else:
        device = job["device"]
        with srcodec.open(job["archive"], device=device, bicubic=job["bicubic"]) as archive:
            t0 = time.perf_counter()
            if not job["bicubic"]:
                restorer = archive.restorer
                # Warm-up on a small crop: first-call costs (allocator, kernels) are not decode.
                restorer.restore(archive.lowres(0)[:32, :32])
                if device == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
            out["load_seconds"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            n = sum(1 for _ in archive.frames())
            if device == "cuda":
                torch.cuda.synchronize()
                out["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
            out["seconds"] = time.perf_counter() - t0
            out["frames"] = n
    out["fps"] = out["frames"] / out["seconds"]
    out["peak_rss_mib"] = peak_rss_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def peak_rss_mib(ru_maxrss_mib: float) -> float:
    """This process's peak RSS. On Linux ``ru_maxrss`` survives ``execve`` and so starts at the
    parent's RSS at ``fork`` time; VmHWM belongs to the new address space, so it is used there."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return ru_maxrss_mib


def measure(job: dict) -> dict:
    proc = run_module(__name__, ["--worker", json.dumps(job)], capture_output=True)
    if proc.returncode:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the suite ----------------------------------------------------------------------------------


@benchmark("speed", section=4)
class Speed(Benchmark):
    reported_on = "timings only: the sample crops (400x400) and one 1920x1080 frame"

    def run(self, ctx: Context) -> dict:
        import torch

        _, notes = usable_configs()
        threads = (1, 2)
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        encode, decode = [], []
        sets = frame_sets()
        if ctx.quick:
            sets = {size: frames[: ctx.limit] for size, frames in sets.items()}
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for size, frames in sets.items():
                paths = []
                for i, (_, f) in enumerate(frames):
                    paths.append(str(tmp / f"{size}_{i}.npy"))
                    np.save(paths[-1], f)
                for cfg in default_configs():
                    ctx.progress(f"speed: encode {size} {label(cfg)}")
                    job = {
                        "kind": "encode",
                        "threads": 1,
                        "frames": paths,
                        "codec": cfg,
                        "archive": str(tmp / f"enc_{size}_{cfg['id']}.src"),
                    }
                    encode.append({"frames": size, "codec": label(cfg), **measure(job)})
                archive = tmp / f"dec_{size}.src"
                decoders = [
                    (info.short_id, info, device) for info in ctx.models for device in devices
                ]
                decoders.append(("bicubic (`--bicubic`)", None, "cpu"))
                for name, info, device in decoders:
                    if info is not None:
                        srcodec.encode(frames, archive, weights=[info.path], force=True)
                    counts = (1,) if info is None else threads if device == "cpu" else threads[-1:]
                    for n in counts:
                        ctx.progress(f"speed: decode {size} {name} {device} {n} thread(s)")
                        job = {
                            "kind": "decode",
                            "threads": n,
                            "device": device,
                            "bicubic": info is None,
                            "archive": str(archive),
                        }
                        row = {"frames": size, "model": name, "device": device, "threads": n}
                        decode.append({**row, **measure(job)})
        return {"devices": devices, "notes": notes, "encode": encode, "decode": decode}

    def render(self, result: dict) -> str:
        lines = [
            "## Speed and memory",
            "",
            "Each figure is one fresh Python process (`python -m benchmarks.suite.speed "
            "--worker`), so",
            "`peak RSS` is that measurement's own peak, interpreter, torch and model included (on",
            "Linux VmHWM: `ru_maxrss` would carry over the parent's RSS through fork and exec).",
            "Frames: the 4 sample frames (400x400) twice,",
            "and one 1920x1080 frame (a CCTV frame resized; speed does not depend on content).",
            "Encode: `srcodec.encode` of in-memory frames to a real archive (downscale, codec,",
            "write), one thread. Decode: `srcodec.open(...).frames()` on an archive of the default",
            "codec (decode + restore); the model is loaded and warmed up on a 32x32 crop first",
            "(`load s`). torch threads set by `torch.set_num_threads` in the subprocess.",
            "",
        ]
        if "cuda" not in result["devices"]:
            lines += [
                "No GPU here; `python -m benchmarks.gpu.gpu_check` measures GPU decode in one "
                "short run.",
                "",
            ]
        notes = result["notes"]
        lines += [f"- {n}" for n in notes] + ([""] if notes else [])
        enc_rows = [
            [r["frames"], r["codec"], *_cells(r, "fps", ".2f"), _mib(r)] for r in result["encode"]
        ]
        lines += ["### Encode", ""]
        lines += md_table(["frames", "codec", "frames/s", "peak RSS MiB"], enc_rows, "llrr")
        lines += ["", "### Decode (restore)", ""]
        head = ["frames", "model", "device", "threads", "frames/s", "load s", "peak RSS MiB"]
        lines += md_table([*head, "GPU MiB"], [_dec_row(r) for r in result["decode"]], "lllrrrrr")
        lines.append("")
        return "\n".join(lines)


def _cells(r: dict, key: str, fmt: str) -> list[str]:
    return [f"error: {r['error']}"] if "error" in r else [format(r[key], fmt)]


def _mib(r: dict) -> str:
    return "" if "error" in r else f"{r['peak_rss_mib']:.0f}"


def _dec_row(r: dict) -> list[str]:
    size, model, device, n = r["frames"], r["model"], r["device"], r["threads"]
    if "error" in r:
        return [size, model, device, str(n), f"error: {r['error']}", "", "", ""]
    gpu = f"{r['gpu_peak_mib']:.0f}" if "gpu_peak_mib" in r else ""
    return [
        size,
        model,
        device,
        str(n),
        f"{r['fps']:.3f}",
        f"{r['load_seconds']:.2f}",
        _mib(r),
        gpu,
    ]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--worker", required=True, help="one measurement, as JSON")
    args = ap.parse_args()
    print(json.dumps(worker(json.loads(args.worker))))


if __name__ == "__main__":
    main()
