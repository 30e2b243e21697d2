import hashlib

import pytest
import torch

from srcodec.errors import ModelError
from srcodec.models.edsr import EDSR, EDSRConfig
from srcodec.models.store import get_model, list_models, load_weights, save_model


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(1)
    model = EDSR(EDSRConfig(blocks=2, features=8, bicubic_skip=True))
    torch.nn.init.normal_(model.tail.weight, std=0.01)
    info = save_model(model, tmp_path / "tiny.safetensors", "tiny-x2", {"note": "test"})
    return model, info


def test_save_load_round_trip_with_hash(weights):
    model, info = weights
    data = info.path.read_bytes()
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.id == f"tiny-x2@{info.sha256}"
    assert not data.startswith(b"\x80")  # safetensors, not a pickle
    loaded, info2 = load_weights(info.path, info.sha256)
    assert info2.id == info.id and info2.card["note"] == "test"
    assert info2.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_hash_mismatch_is_refused(weights):
    _, info = weights
    with pytest.raises(ModelError, match="does not match") as exc:
        load_weights(info.path, "0" * 64)
    assert str(info.path) in str(exc.value)


def test_corrupt_weights_name_the_file(weights, tmp_path):
    _, info = weights
    data = bytearray(info.path.read_bytes())
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ModelError, match="truncated.safetensors"):
        load_weights(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not weights at all")
    with pytest.raises(ModelError, match="garbage.safetensors"):
        load_weights(garbage)
    with pytest.raises(ModelError, match="missing.safetensors"):
        load_weights(tmp_path / "missing.safetensors")


def test_resolve_by_id_prefix_and_name(weights, monkeypatch, tmp_path):
    _, info = weights
    monkeypatch.setenv("SRCODEC_MODELS", str(tmp_path / "none"))
    assert get_model(info.id, [info.path]).path == info.path
    assert get_model(f"tiny-x2@{info.sha256[:10]}", [info.path]).sha256 == info.sha256
    assert get_model("tiny-x2", [info.path]).sha256 == info.sha256
    assert info.id in [m.id for m in list_models([info.path])]
    with pytest.raises(ModelError, match="nosuch-x2@abcdef12"):
        get_model("nosuch-x2@abcdef12", [info.path])
    with pytest.raises(ModelError, match="unknown model"):
        get_model(f"tiny-x2@{'1' * 64}", [info.path])


def test_user_directory_is_searched(weights, monkeypatch, tmp_path):
    _, info = weights
    user = tmp_path / "user"
    user.mkdir()
    (user / "copy.safetensors").write_bytes(info.path.read_bytes())
    monkeypatch.setenv("SRCODEC_MODELS", str(user))
    found = get_model(info.id)
    assert found.source == "user" and found.path == user / "copy.safetensors"


def test_install_copies_into_the_user_directory(weights, monkeypatch, tmp_path):
    _, info = weights
    monkeypatch.setenv("SRCODEC_MODELS", str(tmp_path / "user"))
    from srcodec.models.store import register_model

    installed = register_model(info.path)
    assert installed.source == "user" and installed.sha256 == info.sha256
    assert get_model(info.id).path == installed.path
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="bad.safetensors"):
        register_model(bad)
