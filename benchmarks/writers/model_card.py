"""Write weights/README.md, the bundled model's card, from the card inside its weights file and
a fresh evaluation beside bicubic on the evaluation photos and the held-out CCTV frames. A model
trained with a codec in the loop (``--degrade``) is evaluated on frames coded the same way,
beside the decoded frames.

    python -m benchmarks.writers.model_card weights/srcodec-photo-x2.safetensors \
        --set photos=data/eval --set cctv=data/cctv/val:4 --notes notes.md
    python -m benchmarks.writers.model_card weights/srcodec-hevc-x1.safetensors \
        --set photos=data/eval --set cctv=data/cctv/val:4 -o weights/srcodec-hevc-x1.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import srcodec
from srcodec.training.degrade import parse_degradation
from srcodec.training.trainer import ARCH_FIELDS, evaluate
from srcodec.training.trainer import load_pairs as coded_pairs

from ..context import parse_set
from .evaluate import load_pairs, table


def _architecture(info: srcodec.ModelInfo, params: int) -> str:
    c = info.config
    if info.family == "edsr":
        what = (
            f"EDSR x2, {c.blocks} residual blocks x {c.features} features, res_scale "
            f"{c.res_scale}, bicubic global skip {'on' if c.bicubic_skip else 'off'}"
        )
    else:
        what = f"{info.family} x{info.scale}, {json.dumps(c.to_dict())}"
    return f"- architecture: {what} (`{c.name}`), {params:,} parameters"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("weights")
    ap.add_argument(
        "--set",
        dest="sets",
        action="append",
        required=True,
        help="name=folder[:stride] of evaluation images (repeatable)",
    )
    ap.add_argument("--notes", help="Markdown file with the training commands and history")
    ap.add_argument("-o", "--output", default="weights/README.md")
    args = ap.parse_args()
    model, info = srcodec.models.store.load_weights(args.weights)
    card, training = info.card, info.card["training"]
    val = card["validation"]
    hyper = training["config"]
    degrade = hyper.get("degrade")
    base = "decoded" if degrade else "bicubic"  # what an x1 restoration model starts from
    data = training["data"]
    # Coded pairs are named image@quality: the images are the names before the '@'.
    train_images = sorted({n.split("@")[0] for n in data["train_images"]})
    val_images = sorted({n.split("@")[0] for n in data["val_images"]})
    coded = (
        f", each coded {len(data['train_images']) // len(train_images)} times" if degrade else ""
    )
    if training["init"]:  # a fine-tune keeps its init model's architecture (the line above)
        hyper = {k: v for k, v in hyper.items() if k not in ARCH_FIELDS}
    lines = [
        f"# Model card: {info.name}",
        "",
        f"- id: `{info.id}`",
        f"- file: `{Path(args.weights).name}` ({Path(args.weights).stat().st_size:,} bytes, "
        "safetensors; the JSON card is in its metadata)",
        _architecture(info, sum(p.numel() for p in model.parameters())),
        f"- trained: {training['steps']:,} steps in {training['wall_s'] / 60:.0f} min on "
        f"{training['machine']} (torch {training['torch']})",
        "- initialised from: "
        + (training["init"] or f"random (zero-initialised tail: starts as {base})"),
        f"- training data: {len(train_images)} images in `{data['train']}`{coded}, validation "
        f"(checkpoint choice): {', '.join(val_images)}; the files and their sources are listed in "
        "`benchmarks/datasets/manifest.json`, made by `python -m benchmarks.datasets.prepare`",
        f"- hyper-parameters: `{json.dumps(hyper)}`",
        f"- validation at the kept step: {val['psnr_rgb']:.2f} dB RGB / {val['psnr_y']:.2f} dB Y "
        f"({base} {val['bicubic_rgb']:.2f} / {val['bicubic_y']:.2f})",
        "",
    ]
    if args.notes:
        lines += [Path(args.notes).read_text().rstrip(), ""]
    lines += [
        "## Evaluation (never trained on)",
        "",
        "PSNR in dB, 8-bit, peak 255, 2 px shaved, RGB and BT.601 Y, from the same "
        "low-resolution inputs (the project's one downscale) for bicubic and the model. "
        "Regenerate with the command at the top of `benchmarks/writers/model_card.py`.",
        "",
    ]
    restorer = srcodec.Restorer(model, "cpu")
    degrade = training["config"].get("degrade")
    for spec in args.sets:
        if degrade:  # coded as in training (the validation seed), every stride-th pair kept
            name, folder, stride = parse_set(spec)
            degradation = parse_degradation(degrade)
            pairs = coded_pairs(folder, 0, "evaluation", info.scale, degradation)[::stride]
        else:
            name, pairs = load_pairs(spec)
        result = evaluate(restorer, pairs)
        lines += [
            f"### {name}: {len(pairs)} images from `{spec.partition('=')[2]}`"
            + (f", coded by `{degrade}`" if degrade else ""),
            "",
            *table({info.short_id: result}, pairs, "decoded" if degrade else "bicubic"),
            "",
        ]
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
