"""A network that sees a fixed camera's scene plate beside each frame (the plain family's
``plate``, ``with_plate``): it starts as the network it came from, the restorers give it the
right part of the plate (whole frames and crops), its export runs in ONNX Runtime, and a file
without its plate is refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from srcodec.engines.choose import make_restorer  # noqa: E402
from srcodec.engines.export import export_model  # noqa: E402
from srcodec.engines.plate import PlateRestorer, set_plate  # noqa: E402
from srcodec.engines.torchengine import Restorer  # noqa: E402
from srcodec.errors import ModelError  # noqa: E402
from srcodec.models import create_model, get_family  # noqa: E402
from srcodec.models.plain import PLATE_ENTRY  # noqa: E402
from srcodec.models.store import inspect_weights, save_model  # noqa: E402


@pytest.fixture(scope="module")
def scene(photo) -> np.ndarray:
    return np.ascontiguousarray(photo[100:196, 100:228])


def _net(seed: int = 0, entry: str = PLATE_ENTRY):
    torch.manual_seed(seed)
    base = create_model("plain", scale=1, blocks=2, features=8)
    for p in base.parameters():  # a network that does something: not the zero-started tail
        torch.nn.init.normal_(p, std=0.05)
    return base, get_family("plain").with_plate(base, entry=entry)


def _plate_weights(seeing) -> torch.Tensor:
    """The weights that start at zero so that the network first ignores the plate."""
    if seeing.config.plate_entry == "head":
        return seeing.body[0].weight[:, 3:]
    return seeing.plate_branch[-1].weight


def _make_plate_matter(seeing, std: float = 0.05) -> None:
    with torch.no_grad():
        _plate_weights(seeing).normal_(std=std)


def _seen(net, frame: np.ndarray, plate: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        x = torch.from_numpy(np.concatenate([frame, plate], 2)).permute(2, 0, 1)[None].float()
        y = net(x)[0].clamp(0, 255).round().to(torch.uint8)
    return y.permute(1, 2, 0).numpy()


@pytest.mark.parametrize(("entry", "name"), [("head", "sph"), ("branch", "sp")])
def test_a_network_that_starts_to_see_the_plate_restores_as_before(scene, entry, name):
    base, seeing = _net(entry=entry)
    assert seeing.config.plate and seeing.config.input_channels == 6
    assert seeing.config.name == f"plain_x1_l2f8{name}"
    assert not _plate_weights(seeing).any()
    assert get_family("plain").with_plate(base).config.plate_entry == "head"  # the default
    assert not np.array_equal(Restorer(base, "cpu").restore(scene), scene)
    assert np.array_equal(
        _seen(seeing, scene, scene[::-1].copy()), Restorer(base, "cpu").restore(scene)
    )
    with pytest.raises(ValueError, match="scene plate"):
        get_family("plain").with_plate(seeing)
    with pytest.raises(ValueError, match="x1 only"):
        create_model("plain", scale=2, plate=True)


@pytest.mark.parametrize("layers", [0, 1])
def test_a_shallower_plate_branch_starts_as_its_base_too_and_says_its_depth(scene, layers):
    base, _ = _net()
    seeing = get_family("plain").with_plate(base, layers=layers, entry="branch")
    assert seeing.config.name == f"plain_x1_l2f8sp{layers}"
    assert len([m for m in seeing.plate_branch if isinstance(m, torch.nn.Conv2d)]) == layers + 1
    assert np.array_equal(
        _seen(seeing, scene, scene[::-1].copy()), Restorer(base, "cpu").restore(scene)
    )


def test_a_plate_network_stored_before_the_branch_depth_was_recorded_loads_as_3_layers(tmp_path):
    _, seeing = _net(entry="branch")
    info = save_model(seeing, tmp_path / "old.safetensors", "old")
    config = inspect_weights(info.path).config
    assert config.plate_layers == 3 and config.name == "plain_x1_l2f8sp"
    data = config.to_dict()
    del data["plate_layers"], data["plate_entry"]  # as the first plate networks' cards wrote it
    assert type(config).from_dict(data) == config
    with pytest.raises(ValueError, match="enters"):
        type(config).from_dict({**data, "plate_entry": "tail"})


@pytest.mark.parametrize("entry", ["head", "branch"])
def test_the_restorer_gives_each_frame_and_crop_its_part_of_the_plate(scene, entry):
    _, seeing = _net(entry=entry)
    _make_plate_matter(seeing)
    plate = scene[:, ::-1].copy()
    restorer = PlateRestorer(Restorer(seeing, "cpu"), plate, 0.0, feed=True)
    h, w = scene.shape[:2]
    whole = restorer.restore_batch([scene], [(w, h)])[0]
    assert np.array_equal(whole, _seen(seeing, scene, plate))
    assert not np.array_equal(whole, _seen(seeing, scene, scene))
    crop = restorer.restore_batch([scene[30:90, 40:120]], [(80, 60)], [(30, 40)])[0]
    # The network reaches 4 pixels: inside that, the crop is the whole frame's restoration.
    assert np.array_equal(crop[4:-4, 4:-4], whole[34:86, 44:116])
    # A frame the plate does not cover is given itself for a plate; grey stays grey.
    small = scene[:20, :20]
    assert np.array_equal(restorer.restore(small), _seen(seeing, small, small))
    grey = np.ascontiguousarray(scene[..., 1])
    assert restorer.restore(grey).shape == grey.shape


@pytest.mark.parametrize("entry", ["head", "branch"])
def test_its_file_needs_its_plate_and_its_onnx_export_restores_as_torch(tmp_path, scene, entry):
    pytest.importorskip("onnxruntime")
    _, seeing = _net(entry=entry)
    _make_plate_matter(seeing)
    path = tmp_path / "cam.safetensors"
    info = save_model(seeing, path, "cam")
    with pytest.raises(ModelError, match="carries none"):
        make_restorer(info, engine="torch")
    plate = scene[:, ::-1].copy()
    set_plate(path, plate, {"strength": 0.0})
    info = inspect_weights(path)
    export_model(info, tmp_path)
    on_torch = make_restorer(info, engine="torch").restore(scene)
    restorer = make_restorer(info, engine="onnx")
    assert isinstance(restorer, PlateRestorer) and restorer.feed
    assert np.abs(restorer.restore(scene).astype(int) - on_torch).max() <= 1
    assert np.array_equal(on_torch, _seen(seeing, scene, plate))


def test_a_profile_that_sees_its_plate_has_an_int8_export_calibrated_with_it(tmp_path, photo):
    """Before, its int8 export was refused (calibration patches were frames alone). Now the
    patches are its camera's frames beside the plate's same place, and int8 restores as
    fp32 does to within quantization noise, the plate's part included."""
    pytest.importorskip("onnxruntime")
    from srcodec.engines.export import calibration_patches
    from srcodec.errors import DataError
    from srcodec.metrics import psnr
    from srcodec.models.store import get_model, load_weights

    base_info = get_model("srcodec-av1-x1-v3")
    base, _ = load_weights(base_info.path, base_info.sha256, base_info.source)
    torch.manual_seed(0)
    seeing = get_family("plain").with_plate(base)
    _make_plate_matter(seeing, std=1.0)  # the plate changes the frames
    path = tmp_path / "cam.safetensors"
    save_model(seeing, path, "cam")
    camera = np.ascontiguousarray(photo[40:232, 60:316])  # the camera's scene, 256x192
    plate = camera.copy()  # the scene without what passes through it: another place's pixels
    plate[20:180, 40:220] = photo[250:410, 200:380]
    set_plate(path, plate, {"strength": 0.0})
    info = inspect_weights(path)
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):  # the camera's frames: its scene, noisy as a codec leaves it
        noisy = camera.astype(int) + rng.normal(0, 4, camera.shape).round().astype(int)
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(frames / f"{k}.png")
    patches, _ = calibration_patches([frames], count=4, patch=48, plate=plate)
    assert [p.shape for p in patches] == [(48, 48, 6)] * 4
    with pytest.raises(DataError, match="256x192"):
        calibration_patches([frames], count=4, patch=48, plate=plate[:-2])

    files = export_model(info, tmp_path, int8=True, calibration=[frames])
    assert [f.name.endswith(".int8.onnx") for f in files] == [False, True]
    frame = np.asarray(Image.open(frames / "1.png"))
    fp32 = make_restorer(info, engine="onnx").restore(frame)
    int8 = make_restorer(info, engine="onnx", precision="int8").restore(frame)
    seen_fp32 = _seen(seeing, frame, plate)
    assert np.abs(fp32.astype(int) - seen_fp32).max() <= 1
    without = get_family("plain").with_plate(base)  # the plate's part is what int8 must keep
    assert psnr(seen_fp32, _seen(without, frame, plate)) < 45  # int8 without it would sit there
    assert psnr(fp32, int8) > 50
    assert abs(psnr(camera, int8) - psnr(camera, fp32)) < 0.1
