"""Shared fixtures: small real photographs (scikit-image's lossless photos) and the sample
CCTV frames shipped in the repo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "frames"
TINY_MODEL = Path(__file__).resolve().parent / "data" / "tiny-test-x2.safetensors"


def skimage_photo(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)()


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real lossless RGB photograph (512x512 astronaut)."""
    return skimage_photo("astronaut")


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A folder of three real photo crops, 160x120 px each."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "coffee", "chelsea"):
        Image.fromarray(skimage_photo(name)[40:160, 60:220]).save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="session")
def sample_frames() -> list[Path]:
    """The real CCTV sample frames shipped in samples/frames."""
    files = sorted(SAMPLES.glob("*.png"))
    assert files, f"no sample frames in {SAMPLES}"
    return files


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A copy of the small trained test model (EDSR 2 blocks x 8, tests/data/make_tiny_model.py):
    its output differs from bicubic by a few grey levels on average, tens at edges, so tests
    can tell that the network was applied."""
    path = tmp_path_factory.mktemp("weights") / TINY_MODEL.name
    path.write_bytes(TINY_MODEL.read_bytes())
    return path


@pytest.fixture(scope="session")
def tiny_exported(tiny_weights, tmp_path_factory):
    """The tiny model's ModelInfo and its fp32 and int8 ONNX exports, beside a copy of its
    weights (where decoders look for them), calibrated on two real photos."""
    from srcodec.engines.export import export_model
    from srcodec.models.store import inspect_weights

    folder = tmp_path_factory.mktemp("exported")
    weights = folder / tiny_weights.name
    weights.write_bytes(tiny_weights.read_bytes())
    info = inspect_weights(weights)
    return info, export_model(info, folder, int8=True, calibration=[calibration_dir(folder)])


def calibration_dir(folder: Path) -> Path:
    """Two real photos (not those the tests measure on) for calibrating int8 exports."""
    calib = folder / "calibration"
    calib.mkdir()
    for name in ("rocket", "cat"):
        Image.fromarray(skimage_photo(name)).save(calib / f"{name}.png")
    return calib


@pytest.fixture(autouse=True)
def _no_user_models(tmp_path_factory, monkeypatch):
    """Tests never see models installed in the developer's own user directory, nor those
    another test installed: each test has an empty one of its own."""
    monkeypatch.setenv("SRCODEC_MODELS", str(tmp_path_factory.mktemp("user-models")))


def train_family(root: Path, family: list[str]):
    """A tiny model of a family (``family``: its ``srcodec train`` options) trained for 30 steps
    on three photo crops by the CLI, exported to fp32 and int8 ONNX, its weights copied beside
    the exports (where decoders look); returns its ModelInfo."""
    from click.testing import CliRunner

    from srcodec.cli import main
    from srcodec.models.store import inspect_weights

    photos = root / "photos"
    photos.mkdir()
    for name in ("astronaut", "coffee", "chelsea"):
        Image.fromarray(skimage_photo(name)[40:200, 60:260]).save(photos / f"{name}.png")
    out = root / "model.safetensors"
    args = ["train", photos, "--val", photos, "-o", out, *family, "--patch", "24", "--batch"]
    args += ["4", "--steps", "30", "--val-every", "30", "--lr", "1e-3", "--device", "cpu", "-q"]
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    onnx_dir = root / "onnx"
    r = CliRunner().invoke(
        main,
        ["models", "--export-onnx", str(out), "--int8", "--calibration", str(photos)]
        + ["--onnx-dir", str(onnx_dir)],
    )
    assert r.exit_code == 0, r.output
    weights = onnx_dir / out.name
    weights.write_bytes(out.read_bytes())
    return inspect_weights(weights)
