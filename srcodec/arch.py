"""The EDSR architecture as data, without torch: the configuration stored beside the weights and
what follows from it alone (its name, the receptive radius that tiling needs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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

    @property
    def receptive_radius(self) -> int:
        """Low-resolution pixels on each side that influence one output pixel (for tiling)."""
        # head + 2 per block + body conv + upsampler conv, + tail conv at high res (1/2 px)
        # + bicubic support (2 px); rounded up.
        return self.blocks * 2 + 3 + 1 + (2 if self.bicubic_skip else 0)

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
