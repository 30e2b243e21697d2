"""ONNX export: the fp32 graph computes the torch model's function, the int8 one stays close to
it, both carry the source model's id, and decoders find them by that id."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from srcodec.engines.export import calibration_patches, export_fp32, export_model
from srcodec.engines.ortengine import FORMAT, OrtRestorer
from srcodec.metrics import psnr
from srcodec.models.skip import bicubic_x2_kernel
from srcodec.models.store import find_onnx, inspect_weights, load_weights, onnx_name
from srcodec.resample import downscale, upscale

ROOT = Path(__file__).resolve().parents[2]

#: dB the shipped int8 export may lose against fp32 on the very clean frame below (fp32 58.6 dB):
#: measured -2.07 dB (the int8 of before issue 15: -5.43); 8-bit activations have a noise floor.
INT8_CLEAN_LOSS_DB = 2.5


@pytest.fixture(scope="module")
def exported(tiny_exported):
    return tiny_exported


def test_bicubic_kernel_is_torch_bicubic():
    x = torch.rand(2, 3, 9, 14) * 255
    ref = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    w = torch.from_numpy(np.concatenate([bicubic_x2_kernel()] * 3))
    conv = F.pixel_shuffle(F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), w, groups=3), 2)
    assert conv.shape == ref.shape == (2, 3, 18, 28)
    assert (conv - ref).abs().max() < 1e-3


def test_export_names_carry_id_and_precision(exported):
    info, files = exported
    assert [f.name for f in files] == [onnx_name(info, "fp32"), onnx_name(info, "int8")]
    assert files[0].name == f"tiny-test-x2-{info.sha256[:12]}.onnx"
    assert find_onnx(info, "fp32") == files[0] and find_onnx(info, "int8") == files[1]
    for path, precision in zip(files, ("fp32", "int8"), strict=True):
        meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert meta["srcodec.format"] == FORMAT and meta["srcodec.model_id"] == info.id
        assert meta["srcodec.precision"] == precision
        assert json.loads(meta["srcodec.architecture"]) == info.config.to_dict()
    calib = json.loads(
        {p.key: p.value for p in onnx.load(str(files[1])).metadata_props}["srcodec.calibration"]
    )
    assert calib["frames"] == 2 and calib["sources"] == ["cat.png", "rocket.png"]


@pytest.mark.parametrize("shape", [(1, 3, 13, 21), (2, 3, 32, 17)])
def test_fp32_export_matches_torch(exported, shape):
    info, files = exported
    model, _ = load_weights(info.path)
    x = torch.from_numpy(np.random.default_rng(1).integers(0, 256, shape).astype(np.float32))
    with torch.no_grad():
        ref = model(x).numpy()
    out = OrtRestorer(files[0], info.id).forward_float(x.numpy())
    assert out.shape == ref.shape == (shape[0], 3, 2 * shape[2], 2 * shape[3])
    assert np.abs(out - ref).max() < 1e-3


def _gain(hr: np.ndarray, lr: np.ndarray, sr: np.ndarray) -> float:
    return psnr(hr, sr) - psnr(hr, upscale(lr, (hr.shape[1], hr.shape[0])))


def assert_int8_is_faithful(hr: np.ndarray, fp32: np.ndarray, int8: np.ndarray) -> None:
    """The int8 restore of ``downscale(hr)`` is the fp32 one to within quantization noise:
    nearly the same frame, and the same gain over bicubic to 0.1 dB."""
    lr = downscale(hr)
    assert int8.shape == fp32.shape == hr.shape
    assert 48 < psnr(fp32, int8) < float("inf")
    assert abs(_gain(hr, lr, int8) - _gain(hr, lr, fp32)) < 0.1


def _int8_restore(path, lr, model_id=None):
    restorer = OrtRestorer(path, model_id)
    assert restorer.precision == "int8"
    return restorer.restore(lr)


def test_int8_export_is_close_to_fp32(exported, photo):
    info, files = exported
    hr = photo[100:260, 120:300]
    lr = downscale(hr)
    fp32 = OrtRestorer(files[0], info.id).restore(lr)
    assert _gain(hr, lr, fp32) > 0.8  # the network does something: int8 has it to keep
    assert_int8_is_faithful(hr, fp32, _int8_restore(files[1], lr, info.id))


def test_int8_check_fails_for_an_export_without_the_residual_body(exported, photo, tmp_path):
    """The int8 assertions see a broken export: one of the model with its body zeroed."""
    from conftest import calibration_dir

    from srcodec.models.store import save_model

    info, files = exported
    model, _ = load_weights(info.path)
    with torch.no_grad():
        for p in model.body.parameters():
            p.zero_()
    broken = save_model(model, tmp_path / "broken.safetensors", info.name)
    (_, int8_path) = export_model(
        broken, tmp_path, int8=True, calibration=[calibration_dir(tmp_path)]
    )
    hr = photo[100:260, 120:300]
    lr = downscale(hr)
    fp32 = OrtRestorer(files[0], info.id).restore(lr)
    with pytest.raises(AssertionError):
        assert_int8_is_faithful(hr, fp32, _int8_restore(int8_path, lr))


def test_calibration_patches_are_downscaled_real_frames(photo_dir):
    patches, names = calibration_patches([photo_dir], count=5, patch=32, seed=3)
    assert names == ["astronaut.png", "chelsea.png", "coffee.png"]
    assert [p.shape for p in patches] == [(32, 32, 3)] * 5
    from srcodec.inputs import read_frame

    low = downscale(read_frame(photo_dir / "astronaut.png"))  # 80x60: patches are crops of it
    p = patches[0]
    hits = [
        (y, x)
        for y in range(low.shape[0] - 31)
        for x in range(low.shape[1] - 31)
        if np.array_equal(low[y : y + 32, x : x + 32], p)
    ]
    assert hits
    again, _ = calibration_patches([photo_dir], count=5, patch=32, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(patches, again, strict=True))


def test_export_fp32_refuses_swapped_weights(tiny_weights, tmp_path):
    from srcodec.errors import ModelError
    from srcodec.models.edsr import EDSR, EDSRConfig
    from srcodec.models.store import save_model

    weights = tmp_path / "w.safetensors"
    weights.write_bytes(tiny_weights.read_bytes())
    info = inspect_weights(weights)
    save_model(EDSR(EDSRConfig(blocks=1, features=4)), weights, "other-x2")
    with pytest.raises(ModelError, match="does not match"):
        export_fp32(info, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_bundled_int8_keeps_its_quality_on_a_clean_smooth_frame():
    """Clean content, which fp32 restores above 45 dB, is where int8 loses most: on a bright
    smooth gradient with one soft-edged disc the shipped int8 export stays within a bound of the
    fp32 one that the int8 of before missed (`python -m benchmarks run int8` measures whole
    sets)."""
    from srcodec.models.store import DEFAULT_MODEL, list_models

    info = next(m for m in list_models() if m.source == "bundled" and m.name == DEFAULT_MODEL)
    y, x = np.mgrid[0:192, 0:256] / 256.0
    hr = np.stack([60 + 150 * x, 200 - 120 * y, 90 + 80 * x * y], axis=2) * 0.3 + 160
    disc = np.sqrt((y - 0.4) ** 2 + (x - 0.6) ** 2)
    hr += 60 * np.clip((0.15 - disc) * 40, 0, 1)[..., None]
    hr = np.rint(np.clip(hr, 0, 255)).astype(np.uint8)
    lr = downscale(hr)
    # This checkout's exports (an editable install may resolve the bundled ones elsewhere).
    fp32 = OrtRestorer(ROOT / "weights" / onnx_name(info, "fp32"), info.id).restore(lr)
    int8 = OrtRestorer(ROOT / "weights" / onnx_name(info, "int8"), info.id).restore(lr)
    exact = psnr(hr, fp32)
    assert exact > 55
    assert psnr(hr, int8) > exact - INT8_CLEAN_LOSS_DB
