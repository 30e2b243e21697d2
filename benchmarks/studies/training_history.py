"""Print the validation history kept in training checkpoints (<output>.ckpt) as a table, and
optionally plot PSNR gain over bicubic against steps and wall time for several runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors import safe_open

from srcodec.training.trainer import CKPT_KEY


def history(ckpt: str | Path) -> list[dict]:
    with safe_open(str(ckpt), "pt") as f:
        return json.loads(f.metadata()[CKPT_KEY])["history"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--plot", help="write a PNG plot here")
    args = ap.parse_args()
    runs = {Path(c).parent.name or c: history(c) for c in args.checkpoints}
    for name, rows in runs.items():
        print(f"## {name}\n\n| step | wall min | L1 | PSNR RGB | bicubic RGB | gain | PSNR Y |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for h in rows:
            print(
                f"| {h['step']} | {h['wall_s'] / 60:.1f} | {h['loss']:.3f} | "
                f"{h['psnr_rgb']:.3f} | {h['bicubic_rgb']:.3f} | "
                f"{h['psnr_rgb'] - h['bicubic_rgb']:+.3f} | {h['psnr_y']:.3f} |"
            )
        print()
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for name, rows in runs.items():
            gain = [h["psnr_rgb"] - h["bicubic_rgb"] for h in rows]
            axes[0].plot([h["step"] for h in rows], gain, label=name)
            axes[1].plot([h["wall_s"] / 60 for h in rows], gain, label=name)
        axes[0].set_xlabel("training steps")
        axes[1].set_xlabel("wall time (minutes, 2-core CPU)")
        for ax in axes:
            ax.set_ylabel("validation PSNR gain over bicubic (dB, RGB)")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)


if __name__ == "__main__":
    main()
