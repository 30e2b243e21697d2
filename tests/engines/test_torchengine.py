import numpy as np
import pytest
import torch

from srcodec.engines.choose import Restorer, pick_device
from srcodec.errors import SrcodecError
from srcodec.models.edsr import EDSR, EDSRConfig
from srcodec.resample import downscale


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    model = EDSR(EDSRConfig(blocks=3, features=16, bicubic_skip=True))
    for p in model.parameters():  # nonzero everywhere: far from equivariant
        torch.nn.init.normal_(p, std=0.05)
    return model


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


def test_self_ensemble_of_pure_bicubic_is_bicubic(photo):
    # A bicubic-skip model with a zero tail is exactly bicubic, which commutes with flips and
    # quarter turns: the 8-way ensemble must give the same frame.
    model = EDSR(EDSRConfig(blocks=1, features=8, bicubic_skip=True))
    lr = downscale(photo[:120, :90])
    plain = Restorer(model, "cpu").restore(lr)
    both = Restorer(model, "cpu", self_ensemble=True).restore(lr)
    assert both.shape == plain.shape == (120, 90, 3)
    assert np.abs(both.astype(int) - plain.astype(int)).max() <= 1


def test_self_ensemble_averages_the_turned_outputs(random_model, photo):
    lr = downscale(photo[:64, :80])
    r = Restorer(random_model, "cpu")
    x = torch.from_numpy(lr.copy()).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        turned = [
            torch.rot90(random_model(torch.rot90(x.flip(3) if f else x, k, (2, 3))), -k, (2, 3))
            for k in range(4)
            for f in (False, True)
        ]
        turned = [t.flip(3) if i % 2 else t for i, t in enumerate(turned)]
    expected = torch.stack(turned).mean(0).clamp(0, 255).round()[0].permute(1, 2, 0).numpy()
    got = Restorer(random_model, "cpu", self_ensemble=True).restore(lr)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    assert not np.array_equal(got, r.restore(lr))  # the random model is not equivariant


def test_precision_choices():
    model = EDSR(EDSRConfig(blocks=1, features=4))
    with pytest.raises(SrcodecError, match="unknown precision"):
        Restorer(model, "cpu", precision="int4")
    with pytest.raises(SrcodecError, match="needs a CUDA GPU"):
        Restorer(model, "cpu", precision="fp16")
