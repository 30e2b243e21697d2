"""The EDSR family (Lim et al., 2017): residual blocks without batch norm, depth, width and
residual scaling configurable, x2 (PixelShuffle upsampler) or x1 (none), with an optional global
skip (bicubic at x2, identity at x1) that lets a small model learn only the detail it misses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from .family import Family, ModelConfig, register_family

if TYPE_CHECKING:
    from torch import nn

__all__ = ["EDSRConfig"]


@dataclass(frozen=True)
class EDSRConfig(ModelConfig):
    """Architecture of an EDSR model; stored beside its weights so a file rebuilds its model."""

    family: ClassVar[str] = "edsr"
    scales: ClassVar[tuple[int, ...]] = (1, 2)

    blocks: int = 16
    features: int = 64
    res_scale: float = 1.0
    scale: int = 2
    bicubic_skip: bool = False

    def __post_init__(self) -> None:
        self._check_scale()
        if self.blocks < 1 or self.features < 1 or self.res_scale <= 0:
            raise ValueError(f"invalid EDSR config {self}")

    @property
    def name(self) -> str:
        """Stable architecture name, e.g. ``edsr_x2_r16f64`` (``s`` marks the global skip)."""
        skip = "s" if self.bicubic_skip else ""
        return f"edsr_x{self.scale}_r{self.blocks}f{self.features}{skip}"

    @property
    def receptive_radius(self) -> int:
        """Low-resolution pixels on each side that influence one output pixel (for tiling)."""
        if self.scale == 1:  # head + 2 per block + body conv + tail conv; the skip adds none
            return self.blocks * 2 + 3
        # head + 2 per block + body conv + upsampler conv, + tail conv at high res (1/2 px)
        # + bicubic support (2 px); rounded up.
        return self.blocks * 2 + 3 + 1 + (2 if self.bicubic_skip else 0)


@cache
def network() -> dict[str, type]:
    """The torch classes, defined on first use: reading configs must not import torch."""
    import torch
    from torch import nn

    from .skip import SkipNetwork

    def conv(in_ch: int, out_ch: int) -> nn.Conv2d:
        return nn.Conv2d(in_ch, out_ch, 3, padding=1)

    class ResBlock(nn.Module):
        """conv3x3 - ReLU - conv3x3, scaled by ``res_scale``, plus the identity (no batch norm)."""

        def __init__(self, features: int, res_scale: float) -> None:
            super().__init__()
            self.body = nn.Sequential(
                conv(features, features), nn.ReLU(inplace=True), conv(features, features)
            )
            self.res_scale = res_scale

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            body = self.body(x)
            # A scale of 1 is left out rather than multiplied: exported graphs carry no no-op Mul.
            return x + (body if self.res_scale == 1.0 else body * self.res_scale)

    class EDSR(SkipNetwork):
        """EDSR: mean shift, head conv, residual blocks, body conv, global skip, PixelShuffle
        upsampler (x2 only), tail conv. Input and output are float RGB in [0, 255], NCHW."""

        def __init__(self, config: EDSRConfig | None = None) -> None:
            super().__init__(config or EDSRConfig())
            c = self.config
            self.head = conv(3, c.features)
            self.body = nn.Sequential(
                *[ResBlock(c.features, c.res_scale) for _ in range(c.blocks)],
                conv(c.features, c.features),
            )
            self.upsample = (
                nn.Sequential(conv(c.features, c.features * c.scale**2), nn.PixelShuffle(c.scale))
                if c.scale > 1
                else nn.Identity()
            )
            self.tail = conv(c.features, 3)
            self.start_as_skip(self.tail)

        def residual(self, x: torch.Tensor) -> torch.Tensor:
            h = self.head(x - self.mean)
            h = h + self.body(h)
            return self.tail(self.upsample(h))

    for cls in (EDSR, ResBlock):
        cls.__qualname__ = cls.__name__  # reprs and pickles name it as the module's attribute
    return {"EDSR": EDSR, "ResBlock": ResBlock}


def _build(config: EDSRConfig) -> nn.Module:
    return network()["EDSR"](config)


FAMILY = register_family(Family("edsr", EDSRConfig, _build))


def __getattr__(name: str) -> Any:
    # ``EDSR`` and ``ResBlock`` exist once torch is asked for.
    if name in ("EDSR", "ResBlock"):
        return network()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
