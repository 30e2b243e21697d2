"""Shared fixtures: small real photographs (scikit-image's lossless photos) and the sample
CCTV frames shipped in the repo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "frames"


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
    """A small EDSR (2 blocks x 8) with nonzero weights, saved as a weights file."""
    import torch

    from srcodec.models.edsr import EDSR, EDSRConfig
    from srcodec.registry import save_model

    torch.manual_seed(0)
    model = EDSR(EDSRConfig(blocks=2, features=8, bicubic_skip=True))
    torch.nn.init.normal_(model.tail.weight, std=1e-3)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_model(model, path, "tiny-test-x2")
    return path


@pytest.fixture(autouse=True)
def _no_user_models(tmp_path_factory, monkeypatch):
    """Tests never see models installed in the developer's own user directory."""
    monkeypatch.setenv("SRCODEC_MODELS", str(tmp_path_factory.getbasetemp() / "no-user-models"))
