"""What a profile's plate branch costs at decode (issue 27: a profile should decode as fast as
the model it was tuned from), and what cheaper branches would cost: the AV1 x1 network
(``plain_x1_l6f32s``) with fresh weights, exported to ONNX as srcodec exports it and run by ONNX
Runtime on one 768x576 frame, 2 threads, the median of ``--runs`` runs per network, the networks
taken in turn ``--rounds`` times. No data: only time is measured.

- ``none``: the network alone (what the bundled model and a profile without a plate run);
- ``built``: the network with the plate branch profiles used first (``models.plain.with_plate``,
  entry ``branch``: 3 convolutions of 16 channels and one to RGB);
- ``branch_8x3``, ``branch_16x1``: a branch of that many convolutions of that width and one
  to RGB, beside the network;
- ``half_16x3``: the built branch's shape at half resolution (pixel unshuffle in, shuffle out);
- ``linear``: one convolution from the frame and plate to RGB;
- ``head``: no branch: the network's first convolution takes the plate's difference from the
  frame as 3 more channels (``with_plate``, entry ``head``, the profiles' default now).

    python -m benchmarks.studies.plate_branch_speed --out benchmarks/results/plate_branch_speed.json
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from srcodec.engines.export import OPSET
from srcodec.models import create_model
from srcodec.models.plain import with_plate


class _Beside(nn.Module):
    """``base`` on the frame (the first 3 of 6 channels) plus ``branch`` on all 6."""

    def __init__(self, base: nn.Module, branch: nn.Module) -> None:
        super().__init__()
        self.base, self.branch = base, branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x[:, :3]) + self.branch(x)


def _branch(widths: tuple[int, ...], half: bool = False) -> nn.Module:
    k = 4 if half else 1  # channels grow 4x with a 2x2 pixel unshuffle
    layers: list[nn.Module] = [nn.PixelUnshuffle(2)] if half else []
    for a, b in zip((6 * k, *widths), widths, strict=False):
        layers += [nn.Conv2d(a, b, 3, padding=1), nn.ReLU()]
    layers.append(nn.Conv2d(widths[-1] if widths else 6 * k, 3 * k, 3, padding=1))
    return nn.Sequential(*layers, *([nn.PixelShuffle(2)] if half else []))


def _session(model: nn.Module, channels: int) -> ort.InferenceSession:
    buf = io.BytesIO()
    torch.onnx.export(model.eval(), (torch.zeros(1, channels, 48, 48),), buf, dynamo=False,
                      opset_version=OPSET, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {2: "h", 3: "w"}})  # fmt: skip
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    base = create_model("plain", scale=1, blocks=6, features=32, bicubic_skip=True).eval()
    nets = {
        "none": (base, 3),
        "built": (with_plate(base, entry="branch"), 6),
        "branch_8x3": (_Beside(base, _branch((8, 8, 8))), 6),
        "branch_16x1": (_Beside(base, _branch((16,))), 6),
        "half_16x3": (_Beside(base, _branch((16, 16, 16), half=True)), 6),
        "linear": (_Beside(base, _branch(())), 6),
        "head": (with_plate(base, entry="head"), 6),
    }  # fmt: skip
    sessions = {name: (_session(m, c), c) for name, (m, c) in nets.items()}
    rng = np.random.default_rng(0)
    times: dict[str, list[float]] = {name: [] for name in nets}
    for _ in range(args.rounds):
        for name, (sess, c) in sessions.items():
            x = (rng.random((1, c, 576, 768)) * 255).astype(np.float32)
            sess.run(None, {"x": x})  # warm
            for _ in range(args.runs):
                t0 = time.perf_counter()
                sess.run(None, {"x": x})
                times[name].append(time.perf_counter() - t0)
    median = {name: float(np.median(t)) for name, t in times.items()}
    result = {
        "study": __doc__.split("\n\n")[0],
        "command": "python -m benchmarks.studies.plate_branch_speed --out F",
        "data": "none (random frames; time only)",
        "frame": [576, 768],
        "threads": 2,
        "seconds": median,
        "over_none_pct": {n: round(100 * (t / median["none"] - 1), 1) for n, t in median.items()},
    }
    print(json.dumps(result, indent=1))
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
