"""The training losses, by the names ``training.config.LOSSES`` lists: what ``train`` and the
tuning of ``adapt`` minimise between a network's output and the original, both (N, 3, H, W)
RGB on the 0-255 scale."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from ..metrics import LUMA
from .config import LOSSES

__all__ = ["Y_WEIGHT", "loss_function"]

#: ``l2y``'s weight on the luma's squared error. At the rates archives use the luma's error is
#: about half the RGB error (PSNR on Y ~3 dB above RGB on vtest), so twice its MSE makes a
#: dB on Y weigh about as much as a dB on RGB.
Y_WEIGHT = 2.0


def _l2y(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    luma = out.new_tensor(LUMA).view(1, 3, 1, 1) / 255.0
    error = out - target
    return F.mse_loss(out, target) + Y_WEIGHT * error.mul(luma).sum(1).square().mean()


_FUNCTIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": F.l1_loss,
    "l2": F.mse_loss,
    "l2y": _l2y,
}


def loss_function(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss called ``name`` (one of ``LOSSES``)."""
    if name not in _FUNCTIONS:
        raise ValueError(f"unknown loss {name!r} (use {' or '.join(LOSSES)})")
    return _FUNCTIONS[name]
