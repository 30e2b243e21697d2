"""The fast family: EDSR's head and residual body with a cheap ESPCN-style output, for restoring
on CPUs at a third of the bundled model's time.

EDSR's x2 output is a conv3x3 f->4f at low resolution, a PixelShuffle and a conv3x3 f->3 at high
resolution: about a quarter of an EDSR 16x64's time under ONNX Runtime, mostly spent on the
four-times-larger high-resolution feature map. Both convolutions are linear with nothing between
them, so together they are one kxk convolution f->3s^2 at low resolution followed by the
PixelShuffle (k = 5 at x2); that is this family's tail. ``adopt`` builds a fast network from a
trained EDSR (a student from its teacher): head and body copied (every block, or evenly spaced
ones), the teacher's upsampler and tail folded into the one convolution, so that the student
starts as the teacher does, up to the frame's outermost output pixels and the dropped blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ModelError
from .family import Family, ModelConfig, register_family

if TYPE_CHECKING:
    from torch import nn

__all__ = ["FastConfig", "adopt"]


@dataclass(frozen=True)
class FastConfig(ModelConfig):
    """Architecture of a fast model: ``blocks`` EDSR residual blocks of ``features`` channels
    and a ``tail``x``tail`` output convolution straight to the PixelShuffle."""

    family: ClassVar[str] = "fast"
    scales: ClassVar[tuple[int, ...]] = (1, 2)

    blocks: int = 6
    features: int = 64
    tail: int = 5
    scale: int = 2
    bicubic_skip: bool = True

    def __post_init__(self) -> None:
        self._check_scale()
        if self.blocks < 0 or self.features < 1 or self.tail < 1 or self.tail % 2 == 0:
            raise ValueError(f"invalid fast config {self} (the tail is an odd kernel size)")

    @property
    def name(self) -> str:
        """Stable architecture name, e.g. ``fast_x2_r6f64k5s`` (``s`` marks the global skip)."""
        skip = "s" if self.bicubic_skip else ""
        return f"fast_x{self.scale}_r{self.blocks}f{self.features}k{self.tail}{skip}"

    @property
    def receptive_radius(self) -> int:
        # head, 2 per block and body conv: 1 px each, the tail tail//2 (all at low resolution;
        # PixelShuffle only rearranges); the bicubic skip's 2 px lie within that.
        return 2 + 2 * self.blocks + self.tail // 2


@cache
def _network() -> type:
    """The torch class, defined on first use: reading configs must not import torch."""
    import torch
    from torch import nn

    from .edsr import network as edsr_network
    from .skip import SkipNetwork

    ResBlock = edsr_network()["ResBlock"]

    class Fast(SkipNetwork):
        """Input and output are float RGB in [0, 255], NCHW."""

        def __init__(self, config: FastConfig | None = None) -> None:
            super().__init__(config or FastConfig())
            c = self.config
            f = c.features
            self.head = nn.Conv2d(3, f, 3, padding=1)
            self.body = nn.Sequential(
                *[ResBlock(f, 1.0) for _ in range(c.blocks)], nn.Conv2d(f, f, 3, padding=1)
            )
            self.tail = nn.Conv2d(f, 3 * c.scale**2, c.tail, padding=c.tail // 2)
            self.shuffle = nn.PixelShuffle(c.scale) if c.scale > 1 else nn.Identity()
            self.start_as_skip(self.tail)

        def residual(self, x: torch.Tensor) -> torch.Tensor:
            h = self.head(x - self.mean)
            return self.shuffle(self.tail(h + self.body(h)))

    Fast.__qualname__ = Fast.__name__  # reprs and pickles name it as the module's attribute
    return Fast


def _build(config: FastConfig) -> nn.Module:
    return _network()(config)


def _folded_tail(teacher: nn.Module, kernel: int) -> tuple[Any, Any]:
    """Weight and bias of the one convolution (f -> 3s^2, ``kernel`` wide, then PixelShuffle)
    equal to the teacher's upsampler and tail inside the frame, measured rather than derived:
    the map is affine, so its response to zero features is the bias and its responses to unit
    impulses, one per channel and offset, are the weights."""
    import torch

    f, s = teacher.config.features, teacher.config.scale
    size = 2 * kernel + 1  # room for every offset, far enough from the zero padding
    centre = kernel
    impulses = torch.zeros(f * kernel * kernel + 1, f, size, size)
    # Unit impulse n (channel k, offset dy, dx) seen by the output at the centre pixel.
    for n in range(f * kernel * kernel):
        k, rest = divmod(n, kernel * kernel)
        dy, dx = divmod(rest, kernel)
        impulses[n, k, centre + dy - kernel // 2, centre + dx - kernel // 2] = 1.0
    with torch.no_grad():
        out = teacher.tail(teacher.upsample(impulses))  # (N, 3, s*size, s*size)
    # The output pixels of the centre low-resolution pixel, in PixelShuffle's channel order.
    centre_out = out[:, :, s * centre : s * centre + s, s * centre : s * centre + s]
    centre_out = centre_out.reshape(out.shape[0], 3 * s * s)
    bias = centre_out[-1]
    weight = (centre_out[:-1] - bias).T.reshape(3 * s * s, f, kernel, kernel)
    return weight.contiguous(), bias.contiguous()


def adopt(teacher: nn.Module, config: FastConfig) -> nn.Module:
    """A fast network of ``config`` that starts from a trained EDSR ``teacher`` of the same
    width and scale: its head, ``config.blocks`` of its blocks (evenly spaced, first and last
    included), its body conv and its upsampler and tail folded into the fast tail."""
    t = teacher.config
    if t.family != "edsr" or (t.features, t.scale) != (config.features, config.scale):
        raise ModelError(
            f"a {config.name} student starts only from an EDSR of {config.features} features "
            f"at x{config.scale}, not from {t.name}"
        )
    if config.blocks > t.blocks or t.res_scale != 1.0 or t.bicubic_skip != config.bicubic_skip:
        raise ModelError(f"{config.name} cannot start from {t.name}")
    if config.scale != 2 or config.tail < 5:
        raise ModelError("only x2 students with a tail of 5 or more start from an EDSR")
    import torch

    student = _build(config)
    student.head.load_state_dict(teacher.head.state_dict())
    last = t.blocks - 1
    keep = [round(i * last / max(1, config.blocks - 1)) for i in range(config.blocks)]
    for mine, theirs in zip(student.body[:-1], (teacher.body[i] for i in keep), strict=True):
        mine.load_state_dict(theirs.state_dict())
    student.body[-1].load_state_dict(teacher.body[-1].state_dict())
    weight, bias = _folded_tail(teacher, config.tail)
    with torch.no_grad():
        student.tail.weight.copy_(weight)
        student.tail.bias.copy_(bias)
    return student


FAMILY = register_family(Family("fast", FastConfig, _build, adopt=adopt))


def __getattr__(name: str) -> Any:
    if name == "Fast":
        return _network()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
