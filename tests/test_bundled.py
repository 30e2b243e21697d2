"""The model shipped in weights/: present in a wheel, documented, and better than bicubic on
real frames it was never trained on."""

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import srcodec
from srcodec.engine import Restorer
from srcodec.frames import read_frame
from srcodec.metrics import psnr
from srcodec.registry import DEFAULT_MODEL, load_model, resolve
from srcodec.resample import downscale, upscale

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bundled():
    info = resolve(DEFAULT_MODEL)
    model, info = load_model(info.path, info.sha256, info.source)
    return Restorer(model, "cpu"), info


def test_bundled_model_is_installed_with_its_card(bundled):
    _, info = bundled
    assert info.source == "bundled" and info.name == DEFAULT_MODEL
    card = info.card
    assert card["training"]["steps"] > 0 and card["training"]["wall_s"] > 0
    assert card["validation"]["psnr_rgb"] > card["validation"]["bicubic_rgb"]
    assert "coffee.png" not in card["training"]["data"]["train_images"]
    assert info.sha256[:12] in (ROOT / "weights" / "README.md").read_text()


def _gain(restorer, hr):
    h, w = hr.shape[:2]
    lr = downscale(hr)
    sr, bic = restorer.restore(lr, (w, h)), upscale(lr, (w, h))
    return psnr(hr, sr) - psnr(hr, bic), psnr(hr, sr, y=True) - psnr(hr, bic, y=True)


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_beats_bicubic_on_real_photos(bundled, name):
    import skimage.data

    rgb, y = _gain(bundled[0], getattr(skimage.data, name)())
    assert rgb > 0.5 and y > 0.5


def test_beats_bicubic_on_sample_cctv_frames(bundled, sample_frames):
    gains = [_gain(bundled[0], read_frame(p)) for p in sample_frames]
    assert all(rgb > 0.2 and y > 0.2 for rgb, y in gains), gains


def test_tiled_matches_untiled_with_the_bundled_model(bundled, sample_frames):
    restorer, _ = bundled
    model = restorer.model
    hr = read_frame(sample_frames[0])
    lr = downscale(hr)
    whole = Restorer(model, "cpu", tile=512).restore(lr)
    tiled = Restorer(model, "cpu", tile=64).restore(lr)
    assert abs(psnr(hr, whole) - psnr(hr, tiled)) < 0.05
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_wheel_carries_the_bundled_weights(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("srcodec-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("srcodec/weights/")}
    expected = {p.name for p in (ROOT / "weights").glob("*.safetensors")}
    onnx = {p.name for p in (ROOT / "weights").glob("*.onnx")}
    assert expected and onnx and expected | onnx <= shipped


def test_uhd_frame_decodes_in_tiles(tmp_path, photo):
    """A 3840x2160 frame goes through encode and decode (tiled: memory stays bounded)."""
    uhd = np.asarray(Image.fromarray(photo).resize((3840, 2160), Image.Resampling.LANCZOS))
    out = tmp_path / "uhd.src"
    srcodec.encode([("uhd", uhd)], out)
    with srcodec.open(out, device="cpu") as archive:
        restored = archive["uhd"]
        bicubic = upscale(archive.lowres("uhd"), (3840, 2160))
    assert restored.shape == (2160, 3840, 3) and restored.dtype == np.uint8
    assert psnr(uhd, restored) > psnr(uhd, bicubic)


def test_self_ensemble_beats_the_plain_model_on_a_real_photo(bundled):
    import skimage.data

    model, _ = bundled
    ensemble = Restorer(model.model, "cpu", self_ensemble=True)
    hr = skimage.data.chelsea()[:200, :240]
    plain_gain, _ = _gain(model, hr)
    ensemble_gain, _ = _gain(ensemble, hr)
    assert ensemble_gain > plain_gain


# --- the shipped ONNX exports -------------------------------------------------------------------


def test_shipped_onnx_exports_are_of_the_shipped_weights(bundled, sample_frames):
    """Every bundled model has fp32 and int8 exports (scripts/export_onnx.sh) whose embedded id
    is its weights file's, and the fp32 one computes the same function as the weights."""
    from srcodec.ortengine import OrtRestorer
    from srcodec.registry import find_onnx

    restorer, info = bundled
    fp32 = OrtRestorer(find_onnx(info, "fp32"), info.id)
    int8 = OrtRestorer(find_onnx(info, "int8"), info.id)
    assert fp32.model_id == int8.model_id == info.id and int8.precision == "int8"
    hr = read_frame(sample_frames[1])
    lr = downscale(hr)
    x = np.ascontiguousarray(lr.transpose(2, 0, 1)[None], np.float32)
    import torch

    with torch.no_grad():
        ref = restorer.model(torch.from_numpy(x)).numpy()
    assert np.abs(fp32.forward_float(x) - ref).max() < 1e-3
    # int8 stays within a few hundredths of a dB of the exact model on a real frame.
    exact, quantized = restorer.restore(lr), int8.restore(lr)
    assert abs(psnr(hr, quantized) - psnr(hr, exact)) < 0.1


def test_no_stale_onnx_exports_are_shipped():
    """Each ONNX file in weights/ belongs to a bundled weights file (re-run
    scripts/export_onnx.sh after changing the weights)."""
    import onnx

    from srcodec.registry import list_models

    ids = {m.id for m in list_models() if m.source == "bundled"}
    files = sorted((ROOT / "weights").glob("*.onnx"))
    assert files
    for path in files:
        proto = onnx.load(str(path), load_external_data=False)
        meta = {p.key: p.value for p in proto.metadata_props}
        assert meta["srcodec.model_id"] in ids, path.name
