"""The EDSR paper's depth study (its Figure 4) on this project's data: models that differ only in
the number of residual blocks, trained for the same number of steps on the same patches, then
PSNR (RGB and Y, shave 2) on the validation photos along the way and on held-out evaluation sets
at the end, beside bicubic.

    # train and measure (one process per depth; on a GPU several can share it)
    python -m benchmarks.studies.depth_study run --blocks 4 --out runs/depth --steps 3000 \
        --device cuda
    # gather every depth's results into docs/ (table + plot)
    python -m benchmarks.studies.depth_study report runs/depth/*.json --md docs/depth_study.md \
        --plot docs/depth_study.png
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from srcodec.engines.choose import Restorer, pick_device
from srcodec.models.edsr import EDSR, EDSRConfig
from srcodec.training.trainer import TrainConfig, evaluate, load_pairs, train


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(args.device)
    for blocks in args.blocks:
        cfg = TrainConfig(
            blocks=blocks,
            features=args.features,
            bicubic_skip=True,
            patch=args.patch,
            batch=args.batch,
            steps=args.steps,
            lr=args.lr,
            decay_every=10**9,  # constant rate: the comparison is about depth, not schedules
            val_every=max(1, args.steps // args.points),
            seed=args.seed,
        )
        weights = out / f"r{blocks}f{args.features}.safetensors"
        t0 = time.monotonic()
        result = train(
            args.train, args.val, weights, config=cfg, device=args.device, progress=False
        )
        seconds = time.monotonic() - t0
        # The model as it stands after exactly `steps` steps (the checkpoint), not the best one.
        model = EDSR(EDSRConfig(blocks=blocks, features=args.features, bicubic_skip=True))
        state = load_file(str(weights) + ".ckpt")
        model.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("model.")})
        restorer = Restorer(model, device)
        evals = {}
        for spec in args.eval:
            name, _, folder = spec.partition("=")
            res = evaluate(restorer, load_pairs(folder, role=name))
            evals[name] = {k: round(v, 4) for k, v in res.items() if k != "images"}
        row = {
            "blocks": blocks,
            "features": args.features,
            "params": sum(p.numel() for p in model.parameters()),
            "config": {k: v for k, v in vars(cfg).items()},
            "device": str(device),
            "train_seconds": round(seconds, 1),
            "history": result.history,
            "eval": evals,
        }
        path = out / f"depth_r{blocks}f{args.features}.json"
        path.write_text(json.dumps(row, indent=1))
        last = result.history[-1]
        print(
            f"{blocks} blocks: val {last['psnr_rgb']:.2f} dB RGB "
            f"(bicubic {last['bicubic_rgb']:.2f})"
            + "".join(f", {n} {e['psnr_rgb']:.2f}" for n, e in evals.items())
            + f", {seconds:.0f} s",
            flush=True,
        )


def report(args: argparse.Namespace) -> None:
    rows = []
    for p in args.results:
        data = json.loads(Path(p).read_text())
        rows.extend(data if isinstance(data, list) else [data])
    rows.sort(key=lambda r: r["blocks"])
    sets = list(rows[0]["eval"])
    cfg = rows[0]["config"]
    steps = [h["step"] for h in rows[0]["history"]]
    lines = [
        f"EDSR x2 with the bicubic skip, {rows[0]['features']} features, every depth trained "
        f"{cfg['steps']} steps (batch {cfg['batch']} of {cfg['patch']} px patches, Adam, "
        f"lr {cfg['lr']:g} constant, seed {cfg['seed']}) on {rows[0]['device']}. PSNR in dB "
        "(8-bit, peak 255, 2 px shaved); gain = PSNR - bicubic on the same frames.",
        "",
        "| blocks | params | "
        + " | ".join(f"val RGB @{s}" for s in steps)
        + " | "
        + " | ".join(f"{n} RGB (gain) | {n} Y" for n in sets)
        + " | train s |",
        "|---" * (3 + len(steps) + 2 * len(sets)) + "|",
    ]
    for r in rows:
        cells = [str(r["blocks"]), f"{r['params']:,}"]
        cells += [f"{h['psnr_rgb']:.2f}" for h in r["history"]]
        for n in sets:
            e = r["eval"][n]
            cells += [
                f"{e['psnr_rgb']:.2f} ({e['psnr_rgb'] - e['bicubic_rgb']:+.2f})",
                f"{e['psnr_y']:.2f}",
            ]
        cells.append(f"{r['train_seconds']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    bic = ", ".join(f"{n} {rows[0]['eval'][n]['bicubic_rgb']:.2f} dB" for n in sets)
    lines += ["", f"Bicubic RGB: validation {rows[0]['history'][-1]['bicubic_rgb']:.2f} dB, {bic}."]
    text = "\n".join(lines) + "\n"
    if args.md:
        Path(args.md).write_text(text)
    print(text)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
        for r in rows:
            xs = [h["step"] for h in r["history"]]
            a.plot(xs, [h["psnr_rgb"] - h["bicubic_rgb"] for h in r["history"]], "o-",
                   label=f"{r['blocks']} blocks")  # fmt: skip
        a.set(xlabel="training step", ylabel="gain over bicubic, dB (RGB)", title="validation")
        a.legend()
        a.grid(alpha=0.3)
        blocks = [r["blocks"] for r in rows]
        for n in sets:
            b.plot(blocks, [r["eval"][n]["psnr_rgb"] - r["eval"][n]["bicubic_rgb"] for r in rows],
                   "o-", label=n)  # fmt: skip
        b.set_xscale("log", base=2)
        b.set_xticks(blocks, [str(x) for x in blocks])
        b.set(xlabel="residual blocks", ylabel="gain over bicubic, dB (RGB)",
              title=f"after {cfg['steps']} steps (held-out)")  # fmt: skip
        b.legend()
        b.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train and measure one or more depths")
    r.add_argument("--blocks", type=int, nargs="+", required=True)
    r.add_argument("--features", type=int, default=64)
    r.add_argument("--steps", type=int, default=3000)
    r.add_argument("--points", type=int, default=4, help="validations over the run")
    r.add_argument("--batch", type=int, default=16)
    r.add_argument("--patch", type=int, default=48)
    r.add_argument("--lr", type=float, default=2e-4)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--train", default="data/train")
    r.add_argument("--val", default="data/val")
    r.add_argument("--eval", action="append", default=[], help="name=folder (repeatable)")
    r.add_argument("--device", default="auto")
    r.add_argument("--threads", type=int, default=None)
    r.add_argument("--out", default="runs/depth")
    p = sub.add_parser("report", help="table and plot from the results")
    p.add_argument("results", nargs="+")
    p.add_argument("--md", default=None)
    p.add_argument("--plot", default=None)
    args = ap.parse_args()
    if args.cmd == "run":
        if args.threads:
            torch.set_num_threads(args.threads)
        run(args)
    else:
        report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
