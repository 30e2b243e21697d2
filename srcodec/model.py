"""The EDSR x2 super-resolution network (Lim et al., 2017), with depth, width and residual
scaling configurable, and an optional bicubic global skip that lets a small model learn only
the detail bicubic misses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .arch import RGB_MEAN, EDSRConfig

__all__ = ["EDSR", "RGB_MEAN", "EDSRConfig", "ResBlock"]


def _conv(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1)


class ResBlock(nn.Module):
    """conv3x3 - ReLU - conv3x3, scaled by ``res_scale``, plus the identity (no batch norm)."""

    def __init__(self, features: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(features, features), nn.ReLU(inplace=True), _conv(features, features)
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        body = self.body(x)
        # A scale of 1 is left out rather than multiplied: exported graphs carry no no-op Mul.
        return x + (body if self.res_scale == 1.0 else body * self.res_scale)


class EDSR(nn.Module):
    """EDSR: mean shift, head conv, residual blocks, body conv, global skip, PixelShuffle
    upsampler, tail conv. Input and output are float RGB in [0, 255], NCHW."""

    def __init__(self, config: EDSRConfig | None = None) -> None:
        super().__init__()
        self.config = config or EDSRConfig()
        c = self.config
        self.register_buffer(
            "mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1) * 255.0, persistent=False
        )
        self.head = _conv(3, c.features)
        self.body = nn.Sequential(
            *[ResBlock(c.features, c.res_scale) for _ in range(c.blocks)],
            _conv(c.features, c.features),
        )
        self.upsample = nn.Sequential(
            _conv(c.features, c.features * c.scale**2), nn.PixelShuffle(c.scale)
        )
        self.tail = _conv(c.features, 3)
        if c.bicubic_skip:
            # Start as plain bicubic: the network's correction begins at zero.
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    @property
    def receptive_radius(self) -> int:
        """Low-resolution pixels on each side that influence one output pixel (for tiling)."""
        return self.config.receptive_radius

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x - self.mean)
        h = h + self.body(h)
        out = self.tail(self.upsample(h))
        if self.config.bicubic_skip:
            return out + F.interpolate(
                x, scale_factor=self.config.scale, mode="bicubic", align_corners=False
            )
        return out + self.mean
