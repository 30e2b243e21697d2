"""A camera profile's network given the scene plate as an input (issue 27), on validation data
only: the AV1 x1 model (srcodec-av1-x1-v3) tuned for a few minutes on vtest frames 0-475 (96
spread over them, each coded by ``srcodec.av1`` in one stream at the 4 CRFs ``srcodec adapt``
codes footage at by default), the plate the median of those 96 frames; scored on frames
476-635 (every 4th, coded the same way) as restored and with the best pair of plate-blend
strengths on top (``engines.plate``), PSNR RGB and Y. Variants:

- ``tuned``: the network tuned on the frames alone (what profiles did before);
- ``first``: the plate's difference from the frame given to the network's first layer as 3 more
  channels (their weights starting at zero), scaled by ``--scale``, every frame given the plate
  of all 96;
- ``first-cross``: the same, each tuning frame given the plate of the other half of the 96, as
  later footage meets a plate that drifted;
- ``branch``: a separate small branch (``models.plain.with_plate``: 3 convolutions of 16
  channels, ``--plate-layers`` to change that, and one to RGB, its last layer starting at
  zero) sees the frame and its difference from the plate and adds to the output; cross
  plates as ``first-cross``.

Every variant's tuning is L1 (``--losses``: any of ``training.config.LOSSES``, each variant
tuned with each), Adam at 5e-4 with a cosine schedule, 64 px patches, 16 a batch,
bf16, 2 threads (``archive.profile.LOSSY_TUNING``), for ``--minutes``.

    python -m benchmarks.studies.plate_input --variants tuned,first,first-cross,branch --out ...
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from srcodec.archive.candidates import X1_MODELS, lossy_codec, quality_setting, rgb_of
from srcodec.engines.plate import CHROMA_STRENGTHS, STRENGTHS, blend, median_plate
from srcodec.lowres.lossy import code_frames
from srcodec.metrics import psnr
from srcodec.models.plain import with_plate
from srcodec.models.store import get_model, load_weights
from srcodec.training.config import LOSSES
from srcodec.training.losses import loss_function

from ..suite._lossy_anchors import read_clip

CODEC = "srcodec.av1"


class _FirstLayer(nn.Module):
    """The plain x1 network whose first layer also sees (plate - frame) * scale."""

    def __init__(self, base: nn.Module, scale: float) -> None:
        super().__init__()
        self.base, self.scale = base, scale
        head = base.body[0]
        new = nn.Conv2d(6, head.out_channels, 3, padding=1)
        with torch.no_grad():
            new.weight.zero_()
            new.weight[:, :3] = head.weight
            new.bias.copy_(head.bias)
        base.body[0] = new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, frame = self.base, x[:, :3]
        seen = torch.cat([frame - b.mean, (x[:, 3:] - frame) * self.scale], 1)
        return b.tail(b.body(seen)) + frame


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float()


def _tune(model, train, plates, minutes: float, loss: str, seed: int = 0) -> int:
    """Tune ``model`` on ``train`` ((original, decoded, plate index) each) for ``minutes``."""
    loss_fn = loss_function(loss)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    size, batch = 64, 16
    hrs = [_tensor(h) for h, _, _ in train]
    lrs = [_tensor(lr) for _, lr, _ in train]
    pls = [_tensor(p) for p in plates]
    h, w = plates[0].shape[:2]
    model.train()
    start, step = time.time(), 0
    while (elapsed := time.time() - start) < minutes * 60:
        for group in opt.param_groups:
            group["lr"] = 5e-4 * 0.5 * (1 + np.cos(np.pi * elapsed / (minutes * 60)))
        ks = rng.integers(len(train), size=batch)
        ys, xs = rng.integers(h - size, size=batch), rng.integers(w - size, size=batch)
        cut = [
            (slice(None), slice(y, y + size), slice(x, x + size))
            for y, x in zip(ys, xs, strict=True)
        ]
        x = torch.stack(
            [torch.cat([lrs[k][c], pls[train[k][2]][c]]) for k, c in zip(ks, cut, strict=True)]
        )
        target = torch.stack([hrs[k][c] for k, c in zip(ks, cut, strict=True)])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        value = loss_fn(out.float(), target)
        opt.zero_grad()
        value.backward()
        opt.step()
        step += 1
    model.eval()
    return step


@torch.no_grad()
def _restore(model, decoded: np.ndarray, plate: np.ndarray) -> np.ndarray:
    out = model(torch.cat([_tensor(decoded), _tensor(plate)])[None])[0]
    return np.clip(np.rint(out.permute(1, 2, 0).numpy()), 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--variants", default="tuned,first,first-cross,branch")
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--scale", type=float, default=1.0, help="first, first-cross: input scale")
    ap.add_argument("--plate-layers", type=int, default=3, help="branch: hidden convolutions")
    ap.add_argument("--losses", default="l1", help=f"comma-separated, of {', '.join(LOSSES)}")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    frames = read_clip(0, 636)
    tuned_idx = sorted({round(k) for k in np.linspace(0, 475, 96)})
    scored = list(range(476, 636, 4))
    settings = [quality_setting(CODEC, q) for q in np.linspace(0, 75, 4)]
    rgb = rgb_of(CODEC, frames[:476])
    half = len(tuned_idx) // 2
    plates = [
        median_plate([frames[k] for k in tuned_idx]),
        median_plate([frames[k] for k in tuned_idx[half:]]),  # for the first half's frames
        median_plate([frames[k] for k in tuned_idx[:half]]),
    ]
    plain, cross, decoded = [], [], {}
    for s in settings:
        _, dec = code_frames(lossy_codec(CODEC, s, rgb), frames[:476])
        for i, k in enumerate(tuned_idx):
            plain.append((frames[k], dec[k], 0))
            cross.append((frames[k], dec[k], 1 if i < half else 2))
        _, dec = code_frames(lossy_codec(CODEC, s, rgb), frames[476:636])
        decoded[s] = [dec[k - 476] for k in scored]
    info = get_model(X1_MODELS[CODEC])
    result: dict = {
        "study": __doc__.split("\n\n")[0],
        "command": "python -m benchmarks.studies.plate_input --variants V --minutes M --out F",
        "data": "validation only: tuned on vtest 0-475, scored on 476-635 (every 4th)",
        "model": info.id,
        "settings": settings,
        "minutes": args.minutes,
        "runs": [],
    }
    for variant, loss in itertools.product(args.variants.split(","), args.losses.split(",")):
        base, _ = load_weights(info.path, info.sha256, info.source)
        model = {
            "tuned": lambda b: _FirstLayer(b, 0.0),  # the plate times 0: the frames alone
            "first": lambda b: _FirstLayer(b, args.scale),
            "first-cross": lambda b: _FirstLayer(b, args.scale),
            "branch": lambda b: with_plate(b, args.plate_layers),
        }[variant](base)
        steps = _tune(model, cross if variant in ("first-cross", "branch") else plain, plates,
                      args.minutes, loss)  # fmt: skip
        scaled = variant.startswith("first")
        name = f"{variant}-s{round(1 / args.scale)}" if scaled else variant
        if variant == "branch" and args.plate_layers != 3:
            name += f"-p{args.plate_layers}"
        run = {
            "name": name if loss == "l1" else f"{name}-{loss}",
            "variant": variant,
            "loss": loss,
            "scale": args.scale if scaled else None,
            "plate_layers": args.plate_layers if variant == "branch" else None,
            "steps": steps,
            "by_crf": {},
        }
        for s in settings:
            hrs = [frames[k] for k in scored]
            outs = [_restore(model, d, plates[0]) for d in decoded[s]]
            best = {}
            for a in STRENGTHS:
                for c in CHROMA_STRENGTHS:
                    mixed = [blend(o, plates[0], a, c) for o in outs]
                    pairs = list(zip(hrs, mixed, strict=True))
                    best[a, c] = [
                        float(np.mean([psnr(h, m, y=y) for h, m in pairs])) for y in (False, True)
                    ]
            pair = max(best, key=lambda p: best[p][0])
            run["by_crf"][str(s)] = {"restored": best[0.0, 0.0], "blended": best[pair],
                                     "pair": list(pair)}  # fmt: skip
            print(variant, s, run["by_crf"][str(s)], flush=True)
        result["runs"].append(run)
    tuned = next((r["by_crf"] for r in result["runs"] if r["variant"] == "tuned"), None)
    for run in result["runs"] if tuned else []:  # each against the frames alone, both blended
        run["blended_minus_tuned_db"] = {
            s: [round(v["blended"][i] - tuned[s]["blended"][i], 3) for i in (0, 1)]
            for s, v in run["by_crf"].items()
        }
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
