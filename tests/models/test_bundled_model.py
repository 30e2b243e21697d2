"""The model shipped in weights/: present in a wheel, documented, and better than bicubic on
real frames it was never trained on."""

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import skimage_photo
from PIL import Image
from quality import Gains, assert_quality, gains, impostor_forward

import srcodec
from srcodec.engines.choose import Restorer
from srcodec.inputs import read_frame
from srcodec.metrics import psnr
from srcodec.models.store import DEFAULT_MODEL, get_model, load_weights
from srcodec.resample import downscale, upscale

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundled():
    info = get_model(DEFAULT_MODEL)
    model, info = load_weights(info.path, info.sha256, info.source)
    return Restorer(model, "cpu"), info


def test_bundled_model_is_installed_with_its_card(bundled):
    _, info = bundled
    assert info.source == "bundled" and info.name == DEFAULT_MODEL
    card = info.card
    assert card["training"]["steps"] > 0 and card["training"]["wall_s"] > 0
    assert card["validation"]["psnr_rgb"] > card["validation"]["bicubic_rgb"]
    assert not {"coffee.png", "chelsea.png"} & set(card["training"]["data"]["train_images"])
    assert info.sha256[:12] in (ROOT / "weights" / "README.md").read_text()


# --- quality: far better than bicubic, and than Lanczos with an unsharp mask ---------------------

#: The engines and precisions a decoder may run the bundled model with on a CPU.
ENGINES = [("torch", "fp32"), ("onnx", "fp32"), ("onnx", "int8")]


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory, sample_frames):
    """Two photos the model was never trained on and the CCTV samples, archived with the bundled
    model (the default), with their originals."""
    originals = {name: skimage_photo(name) for name in ("coffee", "chelsea")}
    originals.update({p.name: read_frame(p) for p in sample_frames})
    path = tmp_path_factory.mktemp("evaluation") / "evaluation.src"
    srcodec.encode(list(originals.items()), path)
    return path, originals


def measure(evaluation, engine: str, precision: str) -> dict[str, Gains]:
    """Gains of every frame of the evaluation archive, decoded as a user would."""
    path, originals = evaluation
    with srcodec.open(path, engine=engine, precision=precision, device="cpu") as archive:
        return {
            name: gains(originals[name], archive.lowres(name), frame)
            for name, frame in archive.frames()
        }


@pytest.mark.parametrize(("engine", "precision"), ENGINES)
def test_restores_far_better_than_bicubic_and_than_lanczos_unsharp(evaluation, engine, precision):
    assert_quality(measure(evaluation, engine, precision))


@pytest.mark.parametrize(("engine", "precision"), ENGINES)
def test_quality_check_fails_when_the_network_is_replaced_by_lanczos_unsharp(
    evaluation, engine, precision, monkeypatch
):
    """The archive, its model id and the decode path unchanged, only the engines' network call
    swapped for the impostor: the quality check must fail, on every frame."""
    from srcodec.engines.ortengine import OrtRestorer

    monkeypatch.setattr(Restorer, "_forward", impostor_forward)
    monkeypatch.setattr(OrtRestorer, "_forward", impostor_forward)
    with pytest.raises(AssertionError) as failed:
        assert_quality(measure(evaluation, engine, precision))
    assert all(name in str(failed.value) for name in evaluation[1])


def test_wheel_carries_the_bundled_weights(tmp_path):
    # Built with the environment's setuptools, never a package index: tests run offline.
    wheel = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-index"]
    subprocess.run(
        [*wheel, "--no-build-isolation", "-q", "-w", str(tmp_path)], check=True, capture_output=True
    )
    (wheel,) = tmp_path.glob("srcodec-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("srcodec/weights/")}
    expected = {p.name for p in (ROOT / "weights").glob("*.safetensors")}
    onnx = {p.name for p in (ROOT / "weights").glob("*.onnx")}
    assert expected and onnx and expected | onnx <= shipped
    # every subpackage travels too (a wheel once lacked lowres/ and models/)
    packages = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "srcodec").rglob("*.py")}
    assert packages <= {str(Path(n).parent) for n in names}


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

    plain, _ = bundled
    ensemble = Restorer(plain.model, "cpu", self_ensemble=True)
    hr = skimage.data.chelsea()[:200, :240]
    lr = downscale(hr)
    assert gains(hr, lr, ensemble.restore(lr)).rgb > gains(hr, lr, plain.restore(lr)).rgb


# --- the shipped ONNX exports -------------------------------------------------------------------


def test_shipped_onnx_exports_are_of_the_shipped_weights(bundled, sample_frames):
    """Every bundled model has fp32 and int8 exports (scripts/export_onnx.sh) whose embedded id
    is its weights file's, and the fp32 one computes the same function as the weights."""
    from srcodec.engines.ortengine import OrtRestorer
    from srcodec.models.store import find_onnx

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

    from srcodec.models.store import list_models

    ids = {m.id for m in list_models() if m.source == "bundled"}
    files = sorted((ROOT / "weights").glob("*.onnx"))
    assert files
    for path in files:
        proto = onnx.load(str(path), load_external_data=False)
        meta = {p.key: p.value for p in proto.metadata_props}
        assert meta["srcodec.model_id"] in ids, path.name
