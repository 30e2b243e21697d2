"""The PyTorch restoration engine: a model of any family run by torch on the CPU (channels-last)
or a CUDA GPU, with the batching and tiling of tiling.py.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import SrcodecError
from .tiling import CPU_BATCH_PIXELS, DEFAULT_TILE, TiledRestorer

#: Arithmetic the torch engine may run in; half precisions are for CUDA GPUs (slower on CPUs).
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` takes a CUDA GPU when there is one; ``cuda`` without one is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SrcodecError("--device cuda asked for, but no CUDA GPU is available")
    try:
        return torch.device(device)
    except RuntimeError:
        raise SrcodecError(f"unknown device {device!r} (use auto, cpu or cuda)") from None


class Restorer(TiledRestorer):
    """A model loaded once, ready to restore batches of low-resolution frames."""

    engine = "torch"

    def __init__(
        self,
        model: nn.Module,
        device: str | torch.device = "auto",
        tile: int = DEFAULT_TILE,
        channels_last: bool | None = None,
        precision: str = "fp32",
        self_ensemble: bool = False,
    ) -> None:
        super().__init__(model.config.scale, model.config.receptive_radius, tile)
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        if precision not in DTYPES:
            raise SrcodecError(f"unknown precision {precision!r} (use {', '.join(DTYPES)})")
        if precision != "fp32" and self.device.type != "cuda":
            raise SrcodecError(f"precision {precision} needs a CUDA GPU; CPUs restore in fp32")
        self.dtype = DTYPES[precision]
        self.self_ensemble = self_ensemble
        self.model = model.eval().to(self.device, self.dtype)
        if self.device.type == "cpu":
            self.batch_pixels = CPU_BATCH_PIXELS
        # NHWC convolutions are about 25 % faster on x86 CPUs, with the same results.
        self.channels_last = self.device.type == "cpu" if channels_last is None else channels_last
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """uint8 NxHxWx3 -> uint8 Nx(sH)x(sW)x3 (s: the scale)."""
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
            x = x.permute(0, 3, 1, 2).to(self.dtype)
            y = self._ensemble(x) if self.self_ensemble else self._run(x)
            y = y.clamp_(0, 255).round_().to(torch.uint8)
            return y.permute(0, 2, 3, 1).cpu().numpy()

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x).float()

    def _ensemble(self, x: torch.Tensor) -> torch.Tensor:
        """EDSR+'s self-ensemble: the mean of the outputs for the 8 flips and rotations of the
        input, each turned back; about 8 times the work for a little more PSNR."""
        total = None
        for k in range(4):
            for flip in (False, True):
                t = torch.rot90(x, k, (2, 3))
                t = t.flip(3) if flip else t
                y = self._run(t)
                y = y.flip(3) if flip else y
                y = torch.rot90(y, -k, (2, 3))
                total = y if total is None else total.add_(y)
        return total / 8
