"""Every small family end to end, as adding a family should work: trained by `srcodec train
--family F`, exported to fp32 and int8 ONNX by `srcodec models --export-onnx`, and restoring the
same frames through the torch and onnx engines, tiled by its own receptive radius."""

import numpy as np
import pytest

from srcodec.engines.choose import make_restorer
from srcodec.metrics import psnr
from srcodec.models.store import find_onnx
from srcodec.resample import downscale

#: family -> (its train options, its architecture name, its receptive radius)
FAMILIES = {
    # head, 2 convs, tail: 1 px each
    "plain": (["--blocks", "2", "--features", "16"], "plain_x2_l2f16s", 4),
    # head, 2 per block, body conv: 1 px each; the 5x5 tail: 2 px
    "fast": (["--blocks", "1", "--features", "16"], "fast_x2_r1f16k5s", 6),
}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def trained(request, tmp_path_factory):
    from conftest import train_family

    options = ["--family", request.param, *FAMILIES[request.param][0]]
    return train_family(tmp_path_factory.mktemp(request.param), options)


def test_training_records_the_family(trained):
    _, name, _ = FAMILIES[trained.family]
    assert trained.scale == 2 and trained.config.name == name
    recorded = trained.card["training"]["config"]
    assert recorded["family"] == trained.family and recorded["blocks"] == trained.config.blocks
    assert recorded["res_scale"] is None  # an EDSR option only


def test_exports_exist_in_both_precisions(trained):
    assert find_onnx(trained, "fp32") is not None and find_onnx(trained, "int8") is not None


def test_torch_and_onnx_engines_agree(trained, photo):
    lr = downscale(photo[:300, :340])
    torch_r = make_restorer(trained, "cpu", "torch")
    ort_r = make_restorer(trained, "cpu", "onnx")
    radius = FAMILIES[trained.family][2]
    assert torch_r.margin == ort_r.margin == trained.config.receptive_radius == radius
    a, b = torch_r.restore(lr), ort_r.restore(lr)
    assert a.shape == b.shape == (300, 340, 3)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    int8 = make_restorer(trained, "cpu", "onnx", "int8").restore(lr)
    assert 35 < psnr(b, int8)


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_tiled_equals_untiled(trained, photo, engine):
    lr = downscale(photo[:300, :340])
    whole = make_restorer(trained, "cpu", engine, tile=512).restore(lr)
    tiled = make_restorer(trained, "cpu", engine, tile=32).restore(lr)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1
