"""How to make a dense update small: tune every tensor of the model on the held-out clip as
``encode --adapt`` samples it (64 frames, ``adapt._run``), then quantise the delta after the fact
in several ways and measure each (PSNR of every 8th frame of the clip, torch engine) against its
bytes: int8 per tensor, steps of c x RMS, a rank-r SVD of each delta, and rules for dividing a
byte budget between tensors (step proportional to each delta's RMS, one step for all, ...).

    python -m benchmarks.studies.update_quantisation clip/ --out runs/uq --precision bf16
    python -m benchmarks.studies.update_quantisation clip/ --out runs/uq --reuse --budget 245000

It also times one training step of the model in fp32 and bf16 (``--step-times``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from srcodec.engines.torchengine import Restorer
from srcodec.inputs import list_frames, read_frame
from srcodec.models.store import DEFAULT_MODEL, get_model, load_weights
from srcodec.models.update import ModelUpdate
from srcodec.training.adapt import AdaptConfig, _run, lowrank_names, sample

from .adapt_tradeoffs import measure


def step_times(info, threads: int = 2, steps: int = 6) -> dict:
    """Seconds per training step (batch 8 of 48 px) in fp32 and under bf16 autocast."""
    torch.set_num_threads(threads)
    model, _ = load_weights(info.path, info.sha256, info.source)
    model.train()
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    x, y = torch.rand(8, 3, 48, 48) * 255, torch.rand(8, 3, 96, 96) * 255
    out = {}
    for name, bf16 in (("fp32", False), ("bf16", True)):
        for k in range(steps + 2):
            if k == 2:
                start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                pred = model(x)
            loss = torch.nn.functional.l1_loss(pred.float(), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        out[name] = (time.perf_counter() - start) / steps
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=540)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--schedule", default="cosine")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--budget", type=int, default=245_000, help="bytes for the allocation rules")
    ap.add_argument("--reuse", action="store_true", help="quantise the tuned model in --out")
    ap.add_argument("--step-times", action="store_true")
    ap.add_argument("--stride", type=int, default=8, help="frames measured: every Nth")
    args = ap.parse_args()
    info = get_model(DEFAULT_MODEL)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: dict = {}
    if args.step_times:
        rows["step_s"] = step_times(info)
        print(rows["step_s"], flush=True)
    files = list_frames(args.clip)
    state_file = args.out / "state.pt"
    if not args.reuse:
        frames = [(files[i].name, read_frame(files[i])) for i in sample(len(files), 64)]
        cfg = AdaptConfig(
            rank=0, seconds=args.seconds, lr=args.lr, schedule=args.schedule,
            precision=args.precision, threads=2, qat=0.0,
        )  # fmt: skip
        run = _run(info, frames, cfg, progress=False)
        rows["steps"] = run.steps
        torch.save({"base": run.base.state_dict(), "tuned": run.tuned.state_dict()}, state_file)
    saved = torch.load(state_file, weights_only=False)
    base = {k: v.numpy() for k, v in saved["base"].items()}
    delta = {k: saved["tuned"][k].numpy() - base[k] for k in base}
    torch.set_num_threads(2)
    model, _ = load_weights(info.path, info.sha256, info.source)
    measured = files[:: args.stride]

    def add(label: str, update: ModelUpdate | None) -> None:
        state = update.apply(base) if update else {k: v.numpy() for k, v in saved["tuned"].items()}
        model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
        rows[label] = measure(Restorer(model, "cpu"), measured)
        rows[label]["bytes"] = len(update.to_bytes()) if update else None
        print(label, rows[label], flush=True)
        (args.out / "rows.json").write_text(json.dumps(rows, indent=1))

    add("float", None)
    add("int8 per tensor", ModelUpdate.quantise(info.id, delta))
    big = [k for k, v in delta.items() if v.size >= 1024]
    rms = {k: float(np.sqrt(np.mean(delta[k].astype(np.float64) ** 2))) for k in big}
    every = np.concatenate([delta[k].ravel() for k in big]).astype(np.float64)
    common = float(np.sqrt(np.mean(every**2)))
    for c in (0.5, 1.0, 2.0):
        add(
            f"step {c} x RMS",
            ModelUpdate.quantise(info.id, delta, None, {k: c * rms[k] for k in big}),
        )
    convs = lowrank_names(model, list(base), 4)
    for r in (8, 16, 32):
        factors, dense = {}, {}
        for k, v in delta.items():
            if k in convs and r * (v.shape[0] + v[0].size) < v.size:
                u, s, vt = np.linalg.svd(v.reshape(v.shape[0], -1), full_matrices=False)
                root = np.sqrt(s[:r])
                factors[k] = ((root[:, None] * vt[:r]).reshape(r, *v.shape[1:]), u[:, :r] * root)
            else:
                dense[k] = v
        add(f"rank-{r} SVD", ModelUpdate.quantise(info.id, dense, factors))
    rules = {
        "step ~ RMS": lambda c: {k: c * rms[k] for k in big},
        "one step": lambda c: {k: c * common for k in big},
        "step ~ sqrt(RMS x common)": lambda c: {k: c * math.sqrt(rms[k] * common) for k in big},
    }
    for rule, steps_for in rules.items():
        lo, hi = math.log(0.2), math.log(8.0)
        for _ in range(8):
            mid = (lo + hi) / 2
            fits = len(
                ModelUpdate.quantise(info.id, delta, None, steps_for(math.exp(mid))).to_bytes()
            )
            lo, hi = (lo, mid) if fits <= args.budget else (mid, hi)
        add(
            f"{rule}, <= {args.budget} B",
            ModelUpdate.quantise(info.id, delta, None, steps_for(math.exp(hi))),
        )


if __name__ == "__main__":
    main()
