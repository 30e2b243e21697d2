"""The plain family: a small, fast ESPCN/FSRCNN-like network (conv3x3 3->f, n x (conv3x3 f->f +
ReLU), conv3x3 f->3s^2, PixelShuffle) with a global skip (bicubic at x2, identity at x1); about
60k parameters by default, for fast restoration on CPUs or codec-artefact restoration at x1.
At x1 a plain network may also see a fixed camera's scene plate (``plate``, engines/plate.py):
its input is then the frame and the plate, 6 channels. The plate enters it one of two ways
(``plate_entry``): ``head``, the plate's difference from the frame as 3 more channels of the
first convolution (no time to speak of), or ``branch``, a small branch of its own
(``plate_layers`` convolutions of ``PLATE_WIDTH`` channels and one to RGB) that adds to the
output what it makes of the frame and the plate's difference from it. ``with_plate`` starts
such a network from a trained one that does not (the new weights zero: at first it restores
exactly as the network it came from).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from .family import Family, ModelConfig, register_family

if TYPE_CHECKING:
    from torch import nn


#: Where the plate enters a network that sees it: beside it, as a branch of its own, or into
#: its first convolution.
PLATE_ENTRIES = ("branch", "head")
#: The entry that files without ``plate_entry`` have (the first plate networks).
FIRST_PLATE_ENTRY = "branch"
#: The entry ``with_plate`` gives a new network: the head, which decodes as fast as the
#: network alone (the branch: about 20 % slower, issue 27 asks for as fast). On validation vtest
#: frames (docs/profiles.md) it scored within 0.02 / 0.12 dB of the branch at CRF 63 / 48
#: after 6 minutes' tuning (0.3 dB above at 32), within 0.03 dB after 1 minute; on the
#: synthetic camera of tests/archive/test_profile.py it learns far more slowly.
PLATE_ENTRY = "head"
#: The head's plate channels: the plate's difference from the frame times this. Tuned with
#: L1, 3 of 5 runs at scales from 1 to 1/16 killed the network's last layers; the three tuned
#: as profiles are now (l2y, cross plates), at 1/4, 1/16 and 1/64, did not.
PLATE_HEAD_SCALE = 1 / 16
#: The plate branch: ``plate_layers`` convolutions of this many channels, ReLU after each, and
#: one to RGB.
PLATE_WIDTH = 16
#: The branch's depth that files without ``plate_layers`` have (the first plate networks).
FIRST_PLATE_LAYERS = 3
#: The depth ``with_plate`` gives a new branch.
PLATE_LAYERS = 3
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
    #: The plate branch's hidden convolutions (0: one convolution from the 6 channels to RGB).
    plate_layers: int = FIRST_PLATE_LAYERS
    #: Where the plate enters (``PLATE_ENTRIES``): a branch of its own or the first layer.
    plate_entry: str = FIRST_PLATE_ENTRY

    def __post_init__(self) -> None:
        self._check_scale()
        if self.blocks < 0 or self.features < 1 or self.plate_layers < 0:
            raise ValueError(f"invalid plain config {self}")
        if self.plate_entry not in PLATE_ENTRIES:
            raise ValueError(f"a scene plate enters a plain network as one of {PLATE_ENTRIES}")
        if self.plate and self.scale != 1:
            raise ValueError("a plain network sees a scene plate at x1 only")

    @property
    def name(self) -> str:
        """Stable architecture name, e.g. ``plain_x2_l6f32s`` (``s`` marks the global skip,
        ``p`` the scene plate, followed by ``h`` when it enters the first layer, else by its
        branch's depth unless the first one's, 3)."""
        skip = "s" if self.bicubic_skip else ""
        depth = "" if self.plate_layers == FIRST_PLATE_LAYERS else str(self.plate_layers)
        plate = f"p{'h' if self._plate_in_head else depth}" if self.plate else ""
        return f"plain_x{self.scale}_l{self.blocks}f{self.features}{skip}{plate}"

    @property
    def receptive_radius(self) -> int:
        # One pixel per 3x3 conv (head, blocks, tail; the plate branch's); PixelShuffle only
        # rearranges, and the bicubic skip's 2 px lie within that.
        branch = self.plate and not self._plate_in_head
        return max(self.blocks + 2, self.plate_layers + 1 if branch else 0)

    @property
    def plate_weights(self) -> tuple[str, ...]:
        if not self.plate:
            return ()
        return ("body.0.",) if self._plate_in_head else ("plate_branch.",)

    @property
    def _plate_in_head(self) -> bool:
        return self.plate and self.plate_entry == "head"


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
            layers: list[nn.Module] = [nn.Conv2d(c.input_channels if c._plate_in_head else 3,
                                                 c.features, 3, padding=1)]  # fmt: skip
            for _ in range(c.blocks):
                layers += [nn.Conv2d(c.features, c.features, 3, padding=1), nn.ReLU(inplace=True)]
            self.body = nn.Sequential(*layers)
            self.tail = nn.Conv2d(c.features, 3 * c.scale**2, 3, padding=1)
            self.shuffle = nn.PixelShuffle(c.scale) if c.scale > 1 else nn.Identity()
            self.start_as_skip(self.tail)
            if c.plate and not c._plate_in_head:
                branch: list[nn.Module] = []
                width = 6
                for _ in range(c.plate_layers):
                    branch += [nn.Conv2d(width, PLATE_WIDTH, 3, padding=1), nn.ReLU(inplace=True)]
                    width = PLATE_WIDTH
                self.plate_branch = nn.Sequential(*branch, nn.Conv2d(width, 3, 3, padding=1))
                nn.init.zeros_(self.plate_branch[-1].weight)
                nn.init.zeros_(self.plate_branch[-1].bias)

        def residual(self, x: torch.Tensor) -> torch.Tensor:
            if not self.config.plate:
                return self.shuffle(self.tail(self.body(x - self.mean)))
            frame = x[:, :3] - self.mean  # (frame, plate): the plate follows the frame
            if self.config._plate_in_head:
                difference = (x[:, 3:] - x[:, :3]) * PLATE_HEAD_SCALE
                return self.tail(self.body(torch.cat([frame, difference], 1)))
            seen = torch.cat(
                [frame * PLATE_INPUT_SCALES[0], (x[:, 3:] - x[:, :3]) * PLATE_INPUT_SCALES[1]], 1
            )
            return self.tail(self.body(frame)) + self.plate_branch(seen)

    Plain.__qualname__ = Plain.__name__  # reprs and pickles name it as the module's attribute
    return Plain


def _build(config: PlainConfig) -> nn.Module:
    return _network()(config)


def with_plate(model: nn.Module, layers: int = PLATE_LAYERS, entry: str = PLATE_ENTRY) -> nn.Module:
    """A plain x1 network that also sees the scene plate, started from ``model`` (a trained
    plain x1 network that does not): its weights, and the plate's new ones zero (the first
    layer's plate channels for the ``head`` entry; for the ``branch``, a fresh branch of
    ``layers`` hidden convolutions whose last layer is zero), so that it restores exactly as
    ``model`` until it is tuned."""
    import torch

    config = model.config
    if config.plate or config.scale != 1:
        raise ValueError(f"{config.name} cannot start a network that sees a scene plate")
    new = _build(replace(config, plate=True, plate_layers=layers, plate_entry=entry))
    state = dict(model.state_dict())
    if entry == "head":
        head = state["body.0.weight"]
        state["body.0.weight"] = torch.cat([head, torch.zeros_like(head)], 1)
    missing, unexpected = new.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("plate_branch.") for k in missing)
    return new


FAMILY = register_family(Family("plain", PlainConfig, _build, with_plate=with_plate))


def __getattr__(name: str) -> Any:
    if name == "Plain":
        return _network()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
