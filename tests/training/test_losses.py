"""The training losses: each name of LOSSES has its function, and l2y weighs the luma's error
as the Y PSNR does (BT.601, srcodec.metrics)."""

import numpy as np
import pytest
import torch

from srcodec.metrics import rgb_to_y
from srcodec.training.adaptconfig import AdaptConfig
from srcodec.training.config import LOSSES, TrainConfig
from srcodec.training.losses import Y_WEIGHT, loss_function


def test_every_named_loss_has_its_function_and_unknown_names_are_refused():
    for name in LOSSES:
        assert callable(loss_function(name))
    for make in (loss_function, lambda n: AdaptConfig(loss=n), lambda n: TrainConfig(loss=n)):
        with pytest.raises(ValueError, match="unknown loss 'huber'"):
            make("huber")


def test_l2y_is_the_rgb_mse_plus_the_luma_mse_as_the_y_psnr_measures_it():
    rng = np.random.default_rng(0)
    a = rng.integers(20, 230, (16, 16, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-9, 10, a.shape), 0, 255).astype(np.uint8)
    t = [torch.from_numpy(x).permute(2, 0, 1)[None].float() for x in (a, b)]
    mse_rgb = np.mean((a.astype(float) - b) ** 2)
    mse_y = np.mean((rgb_to_y(a) - rgb_to_y(b)) ** 2)
    assert float(loss_function("l2")(*t)) == pytest.approx(mse_rgb, rel=1e-5)
    assert float(loss_function("l2y")(*t)) == pytest.approx(mse_rgb + Y_WEIGHT * mse_y, rel=1e-5)


def test_l2y_prefers_an_error_in_chroma_to_one_in_luma_where_l2_does_not_tell_them_apart():
    frame = torch.full((1, 3, 8, 8), 128.0)
    grey = frame + 4.0  # R, G and B up alike: all of it in Y
    tint = frame + torch.tensor([4.0, -4.0, 4.0]).view(1, 3, 1, 1)  # Y moves by 0.6 only
    l2, l2y = loss_function("l2"), loss_function("l2y")
    assert float(l2(grey, frame)) == float(l2(tint, frame))
    assert float(l2y(grey, frame)) > 1.5 * float(l2y(tint, frame))
