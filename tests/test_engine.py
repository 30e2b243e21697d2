import numpy as np
import pytest
import torch

from srcodec.engine import Restorer, pick_device
from srcodec.errors import SrcodecError
from srcodec.metrics import psnr
from srcodec.model import EDSR, EDSRConfig
from srcodec.resample import downscale


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    model = EDSR(EDSRConfig(blocks=3, features=16, bicubic_skip=True))
    for p in model.parameters():  # nonzero everywhere, so tiling errors would show
        torch.nn.init.normal_(p, std=0.05)
    return model


def test_tiled_equals_untiled(random_model, photo):
    lr = downscale(photo[:300, :340])  # 170x150 low-res
    whole = Restorer(random_model, "cpu", tile=512).restore(lr)
    tiled = Restorer(random_model, "cpu", tile=48).restore(lr)
    assert whole.shape == tiled.shape == (300, 340, 3)
    # the margin covers the receptive field: at most float-rounding differences
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1
    assert psnr(whole, tiled) > 60


def test_batches_and_sizes(random_model, photo):
    r = Restorer(random_model, "cpu")
    a, b = downscale(photo[:101, :77]), downscale(photo[:64, :64])
    gray = downscale(photo[:50, :60, 1])
    outs = r.restore_batch([a, b, a, gray], [(77, 101), (64, 64), (77, 101), (60, 50)])
    assert [o.shape for o in outs] == [(101, 77, 3), (64, 64, 3), (101, 77, 3), (50, 60)]
    assert all(o.dtype == np.uint8 for o in outs)
    assert np.array_equal(outs[0], outs[2])
    assert np.array_equal(outs[0], r.restore(a, (77, 101)))  # batching changes nothing


def test_output_is_clamped_not_wrapped():
    model = EDSR(EDSRConfig(blocks=1, features=4, bicubic_skip=True))
    torch.nn.init.constant_(model.tail.bias, 400.0)  # drive every output above 255
    out = Restorer(model, "cpu").restore(np.full((8, 8, 3), 250, np.uint8))
    assert out.min() == 255


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(SrcodecError, match="no CUDA GPU"):
            pick_device("cuda")
