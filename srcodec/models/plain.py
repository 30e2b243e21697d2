"""The plain family: a small, fast ESPCN/FSRCNN-like network (conv3x3 3->f, n x (conv3x3 f->f +
ReLU), conv3x3 f->3s^2, PixelShuffle) with a global skip (bicubic at x2, identity at x1); about
60k parameters by default, for fast restoration on CPUs or codec-artefact restoration at x1.
At x1 a plain network may also see a fixed camera's scene plate (``plate``, engines/plate.py):
its input is then the frame and the plate, 6 channels, and a small branch of its own
(``PLATE_BRANCH``) adds to its output what it makes of the frame and the plate's difference from
it; ``with_plate`` starts such a network from a trained one that does not (the branch's last
layer zero: at first it restores exactly as the network it came from).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from .family import Family, ModelConfig, register_family

if TYPE_CHECKING:
    from torch import nn


#: The plate branch: convolutions of this many channels (the last one's output is RGB), ReLU
#: between them. Chosen on validation vtest frames (docs/profiles.md): a separate branch beat
#: giving the plate to the network's first layer, whose last layers a profile's tuning killed
#: in 3 of 5 runs (the network then changed nothing).
PLATE_BRANCH = (16, 16, 16)
#: The branch's inputs are scaled to about unit size: the frame (centred) by 1/64, its
#: difference from the plate (small where the scene is static) by 1/16.
PLATE_INPUT_SCALES = (1 / 64, 1 / 16)


@dataclass(frozen=True)
class PlainConfig(ModelConfig):
    """Architecture of a plain model: ``blocks`` conv+ReLU layers of ``features`` channels."""

    family: ClassVar[str] = "plain"
    scales: ClassVar[tuple[int, ...]] = (1, 2)

    blocks: int = 6
    features: int = 32
    scale: int = 2
    bicubic_skip: bool = True
    #: The network also sees the scene plate (x1 only): its input is (frame, plate), 6 channels.
    plate: bool = False

    def __post_init__(self) -> None:
        self._check_scale()
        if self.blocks < 0 or self.features < 1:
            raise ValueError(f"invalid plain config {self}")
        if self.plate and self.scale != 1:
            raise ValueError("a plain network sees a scene plate at x1 only")

    @property
    def name(self) -> str:
        """Stable architecture name, e.g. ``plain_x2_l6f32s`` (``s`` marks the global skip,
        ``p`` the scene plate)."""
        skip = "s" if self.bicubic_skip else ""
        plate = "p" if self.plate else ""
        return f"plain_x{self.scale}_l{self.blocks}f{self.features}{skip}{plate}"

    @property
    def receptive_radius(self) -> int:
        # One pixel per 3x3 conv (head, blocks, tail; the plate branch's); PixelShuffle only
        # rearranges, and the bicubic skip's 2 px lie within that.
        return max(self.blocks + 2, len(PLATE_BRANCH) + 1 if self.plate else 0)


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
            if c.plate:
                branch: list[nn.Module] = []
                for a, b in zip((6, *PLATE_BRANCH[:-1]), PLATE_BRANCH, strict=True):
                    branch += [nn.Conv2d(a, b, 3, padding=1), nn.ReLU(inplace=True)]
                self.plate_branch = nn.Sequential(
                    *branch, nn.Conv2d(PLATE_BRANCH[-1], 3, 3, padding=1)
                )
                nn.init.zeros_(self.plate_branch[-1].weight)
                nn.init.zeros_(self.plate_branch[-1].bias)

        def residual(self, x: torch.Tensor) -> torch.Tensor:
            if not self.config.plate:
                return self.shuffle(self.tail(self.body(x - self.mean)))
            frame = x[:, :3] - self.mean  # (frame, plate): the plate follows the frame
            seen = torch.cat(
                [frame * PLATE_INPUT_SCALES[0], (x[:, 3:] - x[:, :3]) * PLATE_INPUT_SCALES[1]], 1
            )
            return self.tail(self.body(frame)) + self.plate_branch(seen)

    Plain.__qualname__ = Plain.__name__  # reprs and pickles name it as the module's attribute
    return Plain


def _build(config: PlainConfig) -> nn.Module:
    return _network()(config)


def with_plate(model: nn.Module) -> nn.Module:
    """A plain x1 network that also sees the scene plate, started from ``model`` (a trained
    plain x1 network that does not): its weights, and a fresh plate branch whose last layer is
    zero, so that it restores exactly as ``model`` until it is tuned."""
    config = model.config
    if config.plate or config.scale != 1:
        raise ValueError(f"{config.name} cannot start a network that sees a scene plate")
    new = _build(replace(config, plate=True))
    missing, unexpected = new.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("plate_branch.") for k in missing)
    return new


FAMILY = register_family(Family("plain", PlainConfig, _build, with_plate=with_plate))


def __getattr__(name: str) -> Any:
    if name == "Plain":
        return _network()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
