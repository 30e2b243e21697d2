"""The plain family end to end, as adding a family should work: trained by `srcodec train
--family plain`, exported to fp32 and int8 ONNX by `srcodec models --export-onnx`, and restoring
the same frames through the torch and onnx engines, tiled by its own receptive radius."""

import numpy as np
import pytest
from click.testing import CliRunner

from srcodec.cli import main
from srcodec.engine import make_restorer
from srcodec.metrics import psnr
from srcodec.registry import find_onnx
from srcodec.resample import downscale


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import train_family

    return train_family(
        tmp_path_factory.mktemp("plain"), ["--family", "plain", "--blocks", "2", "--features", "16"]
    )


def test_training_records_the_family(trained):
    assert trained.family == "plain" and trained.scale == 2
    assert trained.config.name == "plain_x2_l2f16s"
    recorded = trained.card["training"]["config"]
    assert recorded["family"] == "plain" and recorded["blocks"] == 2
    assert recorded["res_scale"] is None  # not a plain option


def test_exports_exist_in_both_precisions(trained):
    assert find_onnx(trained, "fp32") is not None and find_onnx(trained, "int8") is not None


def test_torch_and_onnx_engines_agree(trained, photo):
    lr = downscale(photo[:300, :340])
    torch_r = make_restorer(trained, "cpu", "torch")
    ort_r = make_restorer(trained, "cpu", "onnx")
    assert torch_r.margin == ort_r.margin == trained.config.receptive_radius == 4
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


def test_unknown_option_of_the_family_is_a_usage_error(tmp_path, photo_dir):
    args = ["train", photo_dir, "--val", photo_dir, "-o", tmp_path / "m.safetensors"]
    r = CliRunner().invoke(
        main, [str(a) for a in [*args, "--family", "plain", "--res-scale", "0.1"]]
    )
    assert r.exit_code == 2 and "plain family has no res_scale option" in r.output
    r = CliRunner().invoke(main, [str(a) for a in [*args, "--family", "vdsr"]])
    assert r.exit_code == 2 and "vdsr" in r.output
