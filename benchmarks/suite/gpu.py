"""GPU speed for docs/benchmarks.md (after Speed and memory). The suite's machine has no GPU, so the
figures are the ones a GPU session measured with ``python -m benchmarks.gpu.gpu_check`` (phase 2
of ``benchmarks/gpu/gpu_session.sh``), kept in docs/gpu_check.json with the date, GPU and
command; this benchmark takes that record as its result.
"""

from __future__ import annotations

import json

from .. import Benchmark, benchmark
from ..context import DOCS, Context, md_table

RECORD = DOCS / "gpu_check.json"


@benchmark("gpu", section=4.1)
class Gpu(Benchmark):
    def run(self, ctx: Context) -> dict:
        if not RECORD.exists():
            return {}
        return {"file": RECORD.name, **json.loads(RECORD.read_text())}

    def render(self, result: dict) -> str:
        return "\n".join(render_lines(result))


def render_lines(r: dict) -> list[str]:
    lines = ["### GPU", ""]
    if not r:
        return lines + [
            "No GPU measurement is on file: run `python -m benchmarks.gpu.gpu_check --json "
            "docs/gpu_check.json` in a session that has a CUDA GPU.",
            "",
        ]
    lines += [
        f"Measured on {r['measured'][:10]} on one {r['gpu']} (torch {r['torch']}) by "
        f"`{r['command']}`, not in this run (this machine has no GPU); kept in "
        f"`docs/{r['file']}`.",
        "",
        "Whole archives (read, low-resolution PNG decode, restore on the GPU, fp32), and how far "
        "the GPU's frames are from the CPU's:",
        "",
    ]
    rows = [
        [
            a["model"].split("@")[0] + "@" + a["model"].split("@")[1][:12],
            a["frames"],
            f"{a['fps']:.1f}",
            str(a["gpu_peak_mib"]),
            f"{a['max_abs_diff_vs_cpu']} ({a['pixels_differing_vs_cpu']:.2%} of values)",
        ]
        for a in r["archives"]
    ]
    lines += md_table(["model", "frames", "frames/s", "GPU peak MiB", "max diff vs CPU"], rows)
    lines += [
        "",
        "The network alone on 400x400 frames, by precision and batch (`srcodec decode "
        "--precision`; fp32 convolutions use TF32 tensor cores by default); the largest "
        "difference from fp32 in grey levels, and PSNR (RGB) against the original frames:",
        "",
    ]
    rows = [
        [
            n["model"],
            n["precision"],
            str(n["batch"]),
            f"{n['fps_400x400']:.0f}",
            str(n["gpu_peak_mib"]),
            str(n["max_abs_diff_vs_fp32"]),
            f"{n['psnr_rgb']:.3f}",
        ]
        for n in r["network"]
    ]
    lines += md_table(
        ["model", "precision", "batch", "frames/s", "GPU peak MiB", "max diff vs fp32", "PSNR"],
        rows,
    )
    lines += [
        "",
        "Half precision changes frames by 1 (fp16) or 2 (bf16) grey levels and PSNR by at most "
        "0.01 dB; batching helps up to about 8 frames. At these sizes the GPU is far from busy: "
        "the per-frame work around the network (copies to and from the GPU, rounding, the "
        "low-resolution decode on the CPU) sets the pace, which is why fp16 gains only about "
        "20 %.",
        "",
    ]
    return lines
