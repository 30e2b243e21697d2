import pytest
import torch

from srcodec.models.edsr import EDSR, EDSRConfig


@pytest.mark.parametrize("h,w", [(1, 1), (7, 13), (48, 48), (31, 64)])
@pytest.mark.parametrize("skip", [False, True])
def test_output_is_twice_the_input(h, w, skip):
    model = EDSR(EDSRConfig(blocks=2, features=8, bicubic_skip=skip)).eval()
    with torch.no_grad():
        y = model(torch.rand(2, 3, h, w) * 255)
    assert y.shape == (2, 3, 2 * h, 2 * w)


def test_paper_configurations_build():
    baseline = EDSR(EDSRConfig())  # EDSR-baseline: 16 blocks x 64 features
    assert sum(p.numel() for p in baseline.parameters()) == pytest.approx(1.37e6, rel=0.01)
    assert EDSRConfig(blocks=32, features=256, res_scale=0.1).name == "edsr_x2_r32f256"
    assert EDSRConfig(blocks=8, features=32, bicubic_skip=True).name == "edsr_x2_r8f32s"


def test_bicubic_skip_starts_as_bicubic():
    model = EDSR(EDSRConfig(blocks=2, features=8, bicubic_skip=True)).eval()
    x = torch.rand(1, 3, 10, 12) * 255
    with torch.no_grad():
        ref = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic")
        assert torch.allclose(model(x), ref)


def test_receptive_radius_covers_the_influence():
    model = EDSR(EDSRConfig(blocks=3, features=8, bicubic_skip=True)).eval()
    for p in model.parameters():  # make every weight matter
        torch.nn.init.normal_(p, std=0.1)
    x = torch.rand(1, 3, 64, 64) * 255
    x2 = x.clone()
    r = model.receptive_radius
    x2[:, :, 32 + r + 1 :, :] = 0  # change only pixels beyond the radius of row 32
    with torch.no_grad():
        a, b = model(x), model(x2)
    assert torch.equal(a[:, :, 64:66], b[:, :, 64:66])
    assert not torch.equal(a, b)


def test_invalid_config():
    with pytest.raises(ValueError, match="x2"):
        EDSRConfig(scale=3)
    with pytest.raises(ValueError):
        EDSRConfig(blocks=0)
