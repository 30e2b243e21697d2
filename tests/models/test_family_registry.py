"""The registry of model families: every family builds, names, scales and tiles its networks
through the registry alone, and weights written before families were recorded load as EDSR."""

import hashlib
import json
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

from srcodec.errors import ModelError
from srcodec.models import config_from_dict, create_model, family_of, get_family, list_families
from srcodec.models.edsr import EDSRConfig
from srcodec.models.plain import PlainConfig
from srcodec.models.store import DEFAULT_MODEL, get_model, inspect_weights, load_weights, save_model

SMALL = {"edsr": EDSRConfig(blocks=2, features=8, bicubic_skip=True), "plain": PlainConfig()}
BUNDLED_SHA = "7b7a0b58267d"


def test_registry_lists_and_finds_families():
    assert {"edsr", "plain"} <= set(list_families())
    assert get_family("plain").config is PlainConfig
    assert family_of(EDSRConfig()).name == "edsr"
    assert family_of({"blocks": 4}).name == "edsr"  # a card without family: EDSR
    assert family_of({"family": "plain"}).name == "plain"
    with pytest.raises(ModelError, match="unknown model family 'resnet'.*edsr, fast, plain"):
        get_family("resnet")


@pytest.mark.parametrize("family", ["edsr", "plain"])
def test_config_round_trips_with_its_family(family):
    config = SMALL[family]
    data = json.loads(json.dumps(config.to_dict()))
    assert data["family"] == family
    assert config_from_dict(data) == config


def test_create_model_by_name_or_config():
    model = create_model("plain", scale=1, blocks=2)
    assert model.config == PlainConfig(scale=1, blocks=2)
    assert type(create_model(EDSRConfig(blocks=1, features=4))).__name__ == "EDSR"
    with pytest.raises(TypeError):
        create_model(EDSRConfig(), blocks=3)


def test_plain_is_small():
    params = sum(p.numel() for p in create_model("plain").parameters())
    assert 50_000 <= params <= 100_000


@pytest.mark.parametrize("family", ["edsr", "plain"])
@pytest.mark.parametrize("scale", [1, 2])
@pytest.mark.parametrize("skip", [False, True])
def test_every_family_at_every_scale(family, scale, skip):
    config = type(SMALL[family])(**{**SMALL[family].__dict__, "scale": scale, "bicubic_skip": skip})
    assert f"_x{scale}_" in config.name
    model = create_model(config).eval()
    x = torch.rand(2, 3, 7, 13) * 255
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 3, 7 * scale, 13 * scale)
    if skip:  # the correction starts at zero: the model is its skip (bicubic, or identity)
        ref = (
            x if scale == 1 else torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic")
        )
        assert torch.allclose(y, ref, atol=1e-3)


def test_unsupported_scale_is_refused_clearly():
    with pytest.raises(ValueError, match="edsr family supports x1 or x2 models, not scale 4"):
        EDSRConfig(scale=4)
    with pytest.raises(ValueError, match="plain family supports x1 or x2"):
        PlainConfig(scale=3)


@pytest.mark.parametrize("family", ["edsr", "plain"])
@pytest.mark.parametrize("scale", [1, 2])
def test_receptive_radius_covers_the_influence(family, scale):
    config = type(SMALL[family])(**{**SMALL[family].__dict__, "scale": scale})
    model = create_model(config).eval()
    for p in model.parameters():  # make every weight matter
        torch.nn.init.normal_(p, std=0.1)
    x = torch.rand(1, 3, 64, 64) * 255
    r = config.receptive_radius
    x2 = x.clone()
    x2[:, :, 32 + r + 1 :, :] = 0  # change only pixels beyond the radius of row 32
    with torch.no_grad():
        a, b = model(x), model(x2)
    rows = slice(32 * scale, 33 * scale)
    assert torch.equal(a[:, :, rows], b[:, :, rows])
    assert not torch.equal(a, b)


def _without_family(path, target):
    """A copy of a weights file whose card's architecture records no family (as files written
    before families did)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    card = json.loads(header["__metadata__"]["srcodec"])
    del card["architecture"]["family"]
    header["__metadata__"]["srcodec"] = json.dumps(card, sort_keys=True)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    target.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])
    return target


def test_weights_without_family_load_as_edsr(tiny_weights, tmp_path):
    current = tmp_path / "new.safetensors"
    save_model(load_weights(tiny_weights)[0], current, "tiny-test-x2")
    assert inspect_weights(current).card["architecture"]["family"] == "edsr"
    old = _without_family(current, tmp_path / "old.safetensors")
    assert "family" not in inspect_weights(old).card["architecture"]
    model, info = load_weights(old)
    new, _ = load_weights(current)
    assert info.family == "edsr" and info.scale == 2
    for (k, a), (_, b) in zip(model.state_dict().items(), new.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_bundled_weights_are_unchanged_and_edsr():
    info = get_model(DEFAULT_MODEL)
    assert info.sha256.startswith(BUNDLED_SHA)
    assert hashlib.sha256(info.path.read_bytes()).hexdigest() == info.sha256
    assert "family" not in info.card["architecture"]  # written before families
    assert info.family == "edsr" and info.scale == 2 and info.config.name == "edsr_x2_r16f64s"


def test_saved_models_record_their_family(tmp_path):
    info = save_model(create_model("plain", blocks=1), tmp_path / "p.safetensors", "p-x2")
    assert info.card["architecture"]["family"] == "plain"
    model, again = load_weights(info.path, info.sha256)
    assert again.family == "plain" and model.config == PlainConfig(blocks=1)


def test_configs_and_registry_need_no_torch():
    code = (
        "import sys; import srcodec.models, srcodec.models.store, srcodec.training.config; "
        "import srcodec.training.adaptconfig, srcodec.cli; "
        "srcodec.models.create_model; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_x1_models_restore_at_the_same_size(tmp_path):
    from srcodec.engines.choose import make_restorer

    info = save_model(create_model("plain", scale=1, blocks=1), tmp_path / "r.safetensors", "r-x1")
    assert info.scale == 1
    frame = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    out = make_restorer(info, "cpu", "torch").restore(frame)
    assert out.shape == frame.shape
    assert np.array_equal(out, frame)  # fresh: the identity skip plus a zero correction
