"""The global skip families share, in torch: the input upscaled bicubically (x2) or as it is
(x1), added to the network's output so that a model learns only what the skip misses; and its
ONNX form, a grouped convolution that ONNX Runtime runs several times faster than cubic Resize.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: DIV2K's RGB mean, as in the EDSR paper: networks centre their inputs on it in [0, 255] units.
RGB_MEAN = (0.4488, 0.4371, 0.4040)


def _cubic(x: float, a: float = -0.75) -> float:
    """Keys' cubic convolution kernel, with PyTorch's and ONNX Resize's a = -0.75."""
    x = abs(x)
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    return (((x - 5) * x + 8) * x - 4) * a if x < 2 else 0.0


def bicubic_x2_kernel() -> np.ndarray:
    """The x2 bicubic upscale (half-pixel centres, edges repeated: ``F.interpolate(...,
    mode="bicubic", align_corners=False)``) as one 5x5 convolution per output phase.

    Output pixel 2y + i samples the input at y + i/2 - 1/4, so phase 0 weighs rows y-2..y+1 and
    phase 1 rows y-1..y+2: both fit taps -2..2. Shape (4, 1, 5, 5), phase index 2i + j. The
    weights are dyadic fractions, exact in float32.
    """
    taps = np.zeros((2, 5))
    for i, t in enumerate((0.75, 0.25)):  # fractional source offset of phase i
        first = 0 if i == 0 else 1  # tap index of source row floor(pos) - 1
        for k in range(4):
            taps[i, first + k] = _cubic(t + 1 - k)
    kernel = np.einsum("iy,jx->ijyx", taps, taps).reshape(4, 1, 5, 5)
    return kernel.astype(np.float32)


#: Low-resolution pixels the bicubic skip reaches on each side.
BICUBIC_RADIUS = 2


class Bicubic(nn.Module):
    """x2 bicubic upscale, as ``F.interpolate`` (what training and the torch engine run)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)


class BicubicConv(nn.Module):
    """The same function as ``Bicubic`` (to float rounding): edge padding, a grouped 5x5
    convolution and a depth-to-space; traced into ONNX graphs."""

    def __init__(self) -> None:
        super().__init__()
        weight = torch.from_numpy(np.concatenate([bicubic_x2_kernel()] * 3))  # (12, 1, 5, 5)
        self.register_buffer("weight", weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (2, 2, 2, 2), mode="replicate")
        return F.pixel_shuffle(F.conv2d(x, self.weight, groups=3), 2)


def global_skip(scale: int) -> nn.Module:
    """The skip of a ``scale`` model: bicubic at x2, the identity at x1."""
    return Bicubic() if scale == 2 else nn.Identity()


class SkipNetwork(nn.Module):
    """Base of the families' networks: output = ``residual(x)`` + the global skip of ``x`` (or
    the mean colour, without a skip); float RGB in [0, 255], NCHW, in and out."""

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        self.register_buffer(
            "mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1) * 255.0, persistent=False
        )
        self.skip = global_skip(config.scale) if config.bicubic_skip else None

    def start_as_skip(self, last: nn.Conv2d) -> None:
        """With a skip, zero the last layer: the network's correction begins at zero."""
        if self.skip is not None:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    @property
    def receptive_radius(self) -> int:
        """Low-resolution pixels on each side that influence one output pixel."""
        return self.config.receptive_radius

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """What the network adds to its skip (to the mean colour when it has none)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)  # a scene plate's channels, if any, follow the frame's three
        return out + (self.mean if self.skip is None else self.skip(x[:, :3]))


class _Exported(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        # The names matter: export's int8 plan keeps the nodes under /bicubic/ in float.
        self.net, self.bicubic = net, BicubicConv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.residual(x) + self.bicubic(x)


def exportable(model: nn.Module) -> nn.Module:
    """``model`` (a network whose output is ``residual(x) + skip(x)``) with its bicubic skip in
    its ONNX form; a model with another skip or none is exported as it is."""
    if not isinstance(getattr(model, "skip", None), Bicubic):
        return model
    return _Exported(model).eval()
