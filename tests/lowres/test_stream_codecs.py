"""Inter-frame stream codecs: bit-exact groups (RGB and grey, odd sizes), configs, and damaged
payloads refused rather than decoded to wrong pixels."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from srcodec.errors import CorruptError, FormatError, FrameError
from srcodec.lowres import get_codec
from srcodec.lowres.stream import (
    Ffv1StreamCodec,
    StreamCodec,
    X264StreamCodec,
    X265StreamCodec,
)
from srcodec.resample import downscale

CODECS = [
    X264StreamCodec("ultrafast"),
    X264StreamCodec(),
    X265StreamCodec("ultrafast"),
    Ffv1StreamCodec(),
]


@pytest.fixture(scope="module")
def group(photo) -> list[np.ndarray]:
    """Six odd-sized (47x61) low-resolution frames of a real photo panning: inter-frame work."""
    return [
        downscale(np.ascontiguousarray(photo[200:294, 100 + 4 * k : 222 + 4 * k])) for k in range(6)
    ]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("codec", CODECS, ids=repr)
def test_rgb_and_grey_groups_are_bit_exact(codec, group):
    height, width = group[0].shape[:2]
    assert (width, height) == (61, 47)
    data = codec.encode_group(group)
    assert same(codec.decode_group(data, width, height, 3, len(group)), group)
    grey = [f[:, :, 0] for f in group]
    data = codec.encode_group(grey)
    decoded = codec.decode_group(data, width, height, 1, len(grey))
    assert same(decoded, grey) and decoded[0].ndim == 2


def test_inter_frame_coding_pays(group):
    """A group codes smaller than its frames coded alone (the reason for the stream codec)."""
    codec = X264StreamCodec()
    together = len(codec.encode_group(group))
    alone = sum(len(codec.encode(f)) for f in group)
    assert together < 0.8 * alone


def test_one_frame_lowres_api_and_configs(group):
    codec = get_codec({"id": "x264", "preset": "veryslow"})
    assert isinstance(codec, StreamCodec) and codec == X264StreamCodec("veryslow")
    assert get_codec(codec.get_config()) == codec
    assert get_codec("x264").get_config() == {"id": "srcodec.x264", "preset": "fast"}
    assert get_codec("ffv1").get_config() == {"id": "srcodec.ffv1", "context": 1}
    assert np.array_equal(codec.decode(codec.encode(group[2]), 61, 47, 3), group[2])
    with pytest.raises(FormatError, match="preset"):
        get_codec({"id": "x265", "preset": "ludicrous"})


def test_encoder_refusals(group):
    codec = X264StreamCodec("ultrafast")
    with pytest.raises(FrameError, match="frame #1"):
        codec.encode_group([group[0], group[1][:-1]])
    with pytest.raises(FrameError, match="1..4096"):
        codec.encode_group([])
    with pytest.raises(FrameError, match="uint8"):
        codec.encode_group([group[0].astype(np.float32)])


def test_damage_is_refused_never_decoded(group):
    codec = X264StreamCodec("ultrafast")
    data = codec.encode_group(group)
    with pytest.raises(CorruptError, match="holds 6 frames, not 5"):
        codec.decode_group(data, 61, 47, 3, 5)
    with pytest.raises(CorruptError, match="decodes to 61x47, not 60x47"):
        codec.decode_group(data, 60, 47, 3, 6)
    with pytest.raises(CorruptError):
        codec.decode_group(data[: len(data) // 2], 61, 47, 3, 6)
    # A wrong pixel CRC: the stream decodes, but not to what was stored.
    forged = bytearray(data)
    forged[5:9] = (zlib.crc32(b"other") & 0xFFFFFFFF).to_bytes(4, "little")
    with pytest.raises(CorruptError, match="frame #0 fails its pixel checksum"):
        codec.decode_group(bytes(forged), 61, 47, 3, 6)
    # Flipped bytes anywhere in the stream: an error, or (a byte the decoder ignores, such as
    # x264's settings text) the very same pixels; never other pixels.
    rng = np.random.default_rng(7)
    start = 5 + 4 * len(group)
    refused = 0
    for pos in rng.integers(start, len(data), 40):
        broken = bytearray(data)
        broken[pos] ^= 0x5A
        try:
            assert same(codec.decode_group(bytes(broken), 61, 47, 3, 6), group)
        except CorruptError:
            refused += 1
    assert refused >= 30
