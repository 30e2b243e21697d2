"""The plain family: a small, fast ESPCN/FSRCNN-like network (conv3x3 3->f, n x (conv3x3 f->f +
ReLU), conv3x3 f->3s^2, PixelShuffle) with a global skip (bicubic at x2, identity at x1); about
60k parameters by default, for fast restoration on CPUs or codec-artefact restoration at x1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from .family import Family, ModelConfig, register_family

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class PlainConfig(ModelConfig):
    """Architecture of a plain model: ``blocks`` conv+ReLU layers of ``features`` channels."""

    family: ClassVar[str] = "plain"
    scales: ClassVar[tuple[int, ...]] = (1, 2)

    blocks: int = 6
    features: int = 32
    scale: int = 2
    bicubic_skip: bool = True

    def __post_init__(self) -> None:
        self._check_scale()
        if self.blocks < 0 or self.features < 1:
            raise ValueError(f"invalid plain config {self}")

    @property
    def name(self) -> str:
        """Stable architecture name, e.g. ``plain_x2_l6f32s`` (``s`` marks the global skip)."""
        skip = "s" if self.bicubic_skip else ""
        return f"plain_x{self.scale}_l{self.blocks}f{self.features}{skip}"

    @property
    def receptive_radius(self) -> int:
        # One pixel per 3x3 conv (head, blocks, tail); PixelShuffle only rearranges, and the
        # bicubic skip's 2 px lie within that.
        return self.blocks + 2


@cache
def _network() -> type:
    """The torch class, defined on first use: reading configs must not import torch."""
    import torch
    from torch import nn

    from .skip import SkipNetwork

    class Plain(SkipNetwork):
        """Input and output are float RGB in [0, 255], NCHW."""

        def __init__(self, config: PlainConfig | None = None) -> None:
            super().__init__(config or PlainConfig())
            c = self.config
            layers: list[nn.Module] = [nn.Conv2d(3, c.features, 3, padding=1)]
            for _ in range(c.blocks):
                layers += [nn.Conv2d(c.features, c.features, 3, padding=1), nn.ReLU(inplace=True)]
            self.body = nn.Sequential(*layers)
            self.tail = nn.Conv2d(c.features, 3 * c.scale**2, 3, padding=1)
            self.shuffle = nn.PixelShuffle(c.scale) if c.scale > 1 else nn.Identity()
            self.start_as_skip(self.tail)

        def residual(self, x: torch.Tensor) -> torch.Tensor:
            return self.shuffle(self.tail(self.body(x - self.mean)))

    Plain.__qualname__ = Plain.__name__  # reprs and pickles name it as the module's attribute
    return Plain


def _build(config: PlainConfig) -> nn.Module:
    return _network()(config)


FAMILY = register_family(Family("plain", PlainConfig, _build))


def __getattr__(name: str) -> Any:
    if name == "Plain":
        return _network()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
