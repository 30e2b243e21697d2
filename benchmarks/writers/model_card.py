"""Write weights/README.md, the bundled model's card, from the card inside its weights file and
a fresh evaluation beside bicubic on the evaluation photos and the held-out CCTV frames.

    python -m benchmarks.writers.model_card weights/srcodec-photo-x2.safetensors \
        --set photos=data/eval --set cctv=data/cctv/val:4 --notes notes.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import srcodec
from srcodec.training import ARCH_FIELDS, evaluate

from .evaluate import load_pairs, table


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
    model, info = srcodec.load_model(args.weights)
    card, training = info.card, info.card["training"]
    val = card["validation"]
    hyper = training["config"]
    if training["init"]:  # a fine-tune keeps its init model's architecture (the line above)
        hyper = {k: v for k, v in hyper.items() if k not in ARCH_FIELDS}
    lines = [
        f"# Model card: {info.name}",
        "",
        f"- id: `{info.id}`",
        f"- file: `{Path(args.weights).name}` ({Path(args.weights).stat().st_size:,} bytes, "
        "safetensors; the JSON card is in its metadata)",
        f"- architecture: EDSR x2, {info.config.blocks} residual blocks x {info.config.features} "
        f"features, res_scale {info.config.res_scale}, bicubic global skip "
        f"{'on' if info.config.bicubic_skip else 'off'} (`{info.config.name}`), "
        f"{sum(p.numel() for p in model.parameters()):,} parameters",
        f"- trained: {training['steps']:,} steps in {training['wall_s'] / 60:.0f} min on "
        f"{training['machine']} (torch {training['torch']})",
        "- initialised from: "
        + (training["init"] or "random (zero-initialised tail: starts as bicubic)"),
        f"- training data: {len(training['data']['train_images'])} photographs in "
        f"`{training['data']['train']}`, validation (checkpoint choice): "
        f"{', '.join(training['data']['val_images'])}; the files and their sources are listed in "
        "`benchmarks/datasets/manifest.json`, made by `python -m benchmarks.datasets.prepare`",
        f"- hyper-parameters: `{json.dumps(hyper)}`",
        f"- validation at the kept step: {val['psnr_rgb']:.2f} dB RGB / {val['psnr_y']:.2f} dB Y "
        f"(bicubic {val['bicubic_rgb']:.2f} / {val['bicubic_y']:.2f})",
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
    for spec in args.sets:
        name, pairs = load_pairs(spec)
        result = evaluate(restorer, pairs)
        lines += [
            f"### {name}: {len(pairs)} images from `{spec.partition('=')[2]}`",
            "",
            *table({info.short_id: result}, pairs),
            "",
        ]
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
