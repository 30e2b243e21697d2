"""Evaluate models beside bicubic on folders of real images (never trained on): PSNR RGB and Y
(8-bit, peak 255, 2 px shaved) per image and on average, as a Markdown table.

    python -m benchmarks.writers.evaluate --model weights/srcodec-photo-x2.safetensors \
        --set photos=data/eval --set cctv=data/cctv/val:4
"""

from __future__ import annotations

import argparse
import time

import torch

import srcodec
from srcodec.training.trainer import Pair, evaluate

from ..context import load_set, model_info, parse_set


def load_pairs(spec: str) -> tuple[str, list[Pair]]:
    """``name=folder[:stride]`` -> (name, HR/LR pairs of every stride-th image)."""
    s = load_set(*parse_set(spec))
    return s.name, s.pairs


def table(results: dict, pairs: list[Pair], baseline: str = "bicubic") -> list[str]:
    """Per-image and mean PSNR of each model beside the baseline (``bicubic``; for an x1 model,
    the decoded frames it restores)."""
    models = list(results)
    head = (
        f"| image | {baseline} RGB | {baseline} Y | "
        + " | ".join(f"{m} RGB | {m} Y" for m in models)
        + " |"
    )
    lines = [head, "|---" * (3 + 2 * len(models)) + "|"]
    first = results[models[0]]
    for i, pair in enumerate(pairs):
        row = first["images"][i]
        cells = [f"{row['bicubic_rgb']:.2f}", f"{row['bicubic_y']:.2f}"]
        for m in models:
            r = results[m]["images"][i]
            cells += [f"{r['psnr_rgb']:.2f}", f"{r['psnr_y']:.2f}"]
        lines.append(f"| {pair.name} | " + " | ".join(cells) + " |")
    cells = [f"**{first['bicubic_rgb']:.2f}**", f"**{first['bicubic_y']:.2f}**"]
    for m in models:
        r = results[m]
        gain_rgb, gain_y = r["psnr_rgb"] - first["bicubic_rgb"], r["psnr_y"] - first["bicubic_y"]
        cells += [
            f"**{r['psnr_rgb']:.2f}** ({gain_rgb:+.2f})",
            f"**{r['psnr_y']:.2f}** ({gain_y:+.2f})",
        ]
    lines.append("| mean | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--model", action="append", required=True, help="weights file or model id (repeatable)"
    )
    ap.add_argument(
        "--set",
        dest="sets",
        action="append",
        required=True,
        help="name=folder[:stride] of HR images (repeatable)",
    )
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    restorers = {}
    for spec in args.model:
        info = model_info(spec)
        model, info = srcodec.models.store.load_weights(info.path, info.sha256)
        restorers[f"{info.short_id} ({info.config.name})"] = srcodec.Restorer(model, "cpu")
    for spec in args.sets:
        name, pairs = load_pairs(spec)
        results = {}
        for label, restorer in restorers.items():
            t0 = time.perf_counter()
            results[label] = evaluate(restorer, pairs)
            results[label]["seconds"] = time.perf_counter() - t0
        print(f"### {name}: {len(pairs)} images from {spec.partition('=')[2]}\n")
        print("\n".join(table(results, pairs)))
        for label, r in results.items():
            print(f"\n{label}: {r['seconds']:.1f} s for the whole set on CPU")
        print()


if __name__ == "__main__":
    main()
