"""The EDSR x2 super-resolution network (Lim et al., 2017), with depth, width and residual
scaling configurable, and an optional bicubic global skip that lets a small model learn only
the detail bicubic misses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

# DIV2K's RGB mean, as in the EDSR paper: inputs are centred on it in [0, 255] units.
RGB_MEAN = (0.4488, 0.4371, 0.4040)


@dataclass(frozen=True)
class EDSRConfig:
    """Architecture of an EDSR model; stored beside its weights so a file rebuilds its model."""

    blocks: int = 16
    features: int = 64
    res_scale: float = 1.0
    scale: int = 2
    bicubic_skip: bool = False

    def __post_init__(self) -> None:
        if self.scale != 2:
            raise ValueError(f"only x2 models are supported, got scale {self.scale}")
        if self.blocks < 1 or self.features < 1 or self.res_scale <= 0:
            raise ValueError(f"invalid EDSR config {self}")

    @property
    def name(self) -> str:
        """Stable architecture name, e.g. ``edsr_x2_r16f64`` (``s`` marks the bicubic skip)."""
        skip = "s" if self.bicubic_skip else ""
        return f"edsr_x{self.scale}_r{self.blocks}f{self.features}{skip}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EDSRConfig:
        known = {
            k: data[k]
            for k in ("blocks", "features", "res_scale", "scale", "bicubic_skip")
            if k in data
        }
        return cls(**known)


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
        return x + self.body(x) * self.res_scale


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
        # head + 2 per block + body conv + upsampler conv, + tail conv at high res (1/2 px)
        # + bicubic support (2 px); rounded up.
        return self.config.blocks * 2 + 3 + 1 + (2 if self.config.bicubic_skip else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x - self.mean)
        h = h + self.body(h)
        out = self.tail(self.upsample(h))
        if self.config.bicubic_skip:
            return out + F.interpolate(
                x, scale_factor=self.config.scale, mode="bicubic", align_corners=False
            )
        return out + self.mean
