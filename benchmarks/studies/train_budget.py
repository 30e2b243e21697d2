"""Train a model within a wall-clock budget on this machine (a GPU session's few minutes, say):
time a few training steps of the configuration, fix the number of steps that fits the budget,
then run ``srcodec train`` for exactly that many steps with a cosine learning-rate schedule, so
the run anneals fully instead of being cut off. The command it ran is printed and recorded in
the model card, so the same training can be repeated step for step on any machine.

    python -m benchmarks.studies.train_budget data/train --val data/val -o runs/big/m.safetensors \
        --budget 300 --blocks 16 --features 64 --batch 32 --patch 64 --device cuda
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np
import torch

from srcodec.cli import main as srcodec_main
from srcodec.engines.choose import pick_device
from srcodec.models.edsr import EDSR, EDSRConfig
from srcodec.training.trainer import PatchSampler, load_pairs


def steps_per_second(args: argparse.Namespace, pairs: list, device: torch.device) -> float:
    """Training speed of the configuration: full steps (sampling, forward, backward, Adam)."""
    torch.manual_seed(0)
    cfg = EDSRConfig(blocks=args.blocks, features=args.features, bicubic_skip=args.bicubic_skip)
    model = EDSR(cfg).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sampler = PatchSampler(pairs, args.patch, np.random.default_rng(0))
    torch.backends.cudnn.benchmark = device.type == "cuda"

    def run(n: int) -> None:
        for _ in range(n):
            lr_b, hr_b = sampler.batch(args.batch)
            loss = torch.nn.functional.l1_loss(model(lr_b.to(device)), hr_b.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        loss.item()  # wait for the device

    run(max(1, args.probe // 4))  # warm-up: kernel selection, allocator
    t0 = time.perf_counter()
    run(args.probe)
    return args.probe / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("hr")
    ap.add_argument("--val", required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--budget", type=float, required=True, help="seconds of training")
    ap.add_argument("--name", default="")
    ap.add_argument("--blocks", type=int, default=16)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--bicubic-skip", action="store_true")
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--validations", type=int, default=10, help="validations over the run")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--probe", type=int, default=40, help="timed steps")
    ap.add_argument("--overhead", type=float, default=0.9, help="share of the budget for steps")
    ap.add_argument("--init", default=None)
    args = ap.parse_args()

    device = pick_device(args.device)
    pairs = load_pairs(args.hr, min_lr=args.patch)
    rate = steps_per_second(args, pairs, device)
    steps = int(rate * args.budget * args.overhead)
    steps = max(args.validations, steps // 100 * 100 if steps >= 1000 else steps)
    print(f"{rate:.1f} steps/s on {device}: {steps} steps fit {args.budget:.0f} s", flush=True)
    argv = [
        "train", args.hr, "--val", args.val, "-o", args.output, "--blocks", str(args.blocks),
        "--features", str(args.features), "--patch", str(args.patch), "--batch", str(args.batch),
        "--lr", str(args.lr), "--schedule", "cosine", "--steps", str(steps),
        "--val-every", str(max(1, steps // args.validations)), "--device", args.device,
        # A safety net only: the steps were sized to end well before it.
        "--time-limit", f"{args.budget * 1.5 / 60:.2f}", "--quiet",
    ]  # fmt: skip
    if args.bicubic_skip:
        argv.append("--bicubic-skip")
    if args.name:
        argv += ["--name", args.name]
    if args.init:
        argv += ["--init", args.init]
    print("srcodec " + shlex.join(argv), flush=True)
    sys.argv = ["srcodec", *argv]  # recorded in the model card as the command that made it
    return srcodec_main(argv, standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main())
