"""Tests of srcodec.lowres: bit-exact round trips, the registry, and refusal of bad payloads."""

from __future__ import annotations

import numpy as np
import pytest

from srcodec import lowres
from srcodec.errors import CorruptError, FormatError, FrameError
from srcodec.lowres import (
    LowresCodec,
    PngCodec,
    ZstdCodec,
    get_codec,
    list_codecs,
    register_codec,
)

CODEC_SPECS = [
    "png",
    {"id": "png", "level": 1},
    "zstd",
    *(
        {"id": "zstd", "level": 3, "filter": f, "decorrelate": d}
        for f in ("none", "sub", "up", "grad")
        for d in (True, False)
    ),
    "webp",
    {"id": "webp", "method": 0, "quality": 0},
    "jxl",
    {"id": "jxl", "effort": 1},
]
SIZES = [(1, 1), (3, 5), (5, 3), (201, 133)]


def make_frame(width: int, height: int, channels: int, noise: float = 3.0, seed: int = 0):
    """A camera-like frame: smooth gradients plus sensor noise, uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = 128 + 60 * np.sin(x / 17.0) * np.cos(y / 23.0) + 0.3 * x - 0.2 * y
    planes = [base + 25 * c + rng.normal(0, noise, base.shape) for c in range(channels)]
    frame = np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)
    return frame[:, :, 0] if channels == 1 else frame


def spec_id(spec) -> str:
    return spec if isinstance(spec, str) else "-".join(str(v) for v in spec.values())


@pytest.mark.parametrize("spec", CODEC_SPECS, ids=spec_id)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_round_trip_is_bit_exact(spec, channels, size):
    width, height = size
    frame = make_frame(width, height, channels)
    codec = get_codec(spec)
    out = codec.decode(codec.encode(frame), width, height, channels)
    assert out.dtype == np.uint8
    assert out.shape == frame.shape
    np.testing.assert_array_equal(out, frame)
    out[...] = 0  # the caller owns a writable array


@pytest.mark.parametrize("spec", ["png", "zstd", "webp", "jxl"])
def test_extreme_values_and_non_contiguous_input(spec):
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    frame[::2, ::3] = 255
    frame[1::4, :, 1] = 0
    view = frame[::-1, 1::2]  # negative and non-unit strides
    assert not view.flags.c_contiguous
    codec = get_codec(spec)
    out = codec.decode(codec.encode(view), view.shape[1], view.shape[0], 3)
    np.testing.assert_array_equal(out, view)
    gray = frame[:, :, 1].T
    np.testing.assert_array_equal(codec.decode(codec.encode(gray), 40, 60, 1), gray)


def test_grad_filter_beats_no_filter_on_smooth_frames():
    frame = make_frame(160, 120, 3, noise=0.0)
    plain = ZstdCodec(level=9, filter="none").encode(frame)
    grad = ZstdCodec(level=9, filter="grad").encode(frame)
    assert len(grad) < 0.6 * len(plain)


def test_config_round_trip_and_registry():
    assert {"srcodec.png", "srcodec.zstd"} <= set(list_codecs())
    for spec in CODEC_SPECS:
        codec = get_codec(spec)
        config = codec.get_config()
        assert config["id"] == codec.codec_id
        again = get_codec(dict(config))
        assert type(again) is type(codec) and again.get_config() == config
    assert get_codec("zstd").get_config() == {
        "id": "srcodec.zstd",
        "level": 19,
        "filter": "grad",
        "decorrelate": True,
    }
    assert get_codec("png").get_config() == {"id": "srcodec.png", "level": 9}
    assert ZstdCodec.from_config({"level": 5}).level == 5


def test_unknown_codec_id_is_named():
    with pytest.raises(FormatError, match="'jpegxl'") as info:
        get_codec("jpegxl")
    assert "png" in str(info.value) and "zstd" in str(info.value)
    with pytest.raises(FormatError, match="'heif'"):
        get_codec({"id": "heif", "quality": 100})
    with pytest.raises(FormatError):
        get_codec({"level": 3})


@pytest.mark.parametrize(
    "config",
    [
        {"id": "png", "level": 10},
        {"id": "png", "level": -1},
        {"id": "png", "level": "9"},
        {"id": "zstd", "level": 0},
        {"id": "zstd", "level": 23},
        {"id": "zstd", "level": True},
        {"id": "zstd", "filter": "paeth"},
        {"id": "zstd", "decorrelate": "yes"},
        {"id": "zstd", "colour": "rgb"},
    ],
)
def test_bad_parameters_are_refused(config):
    with pytest.raises(FormatError):
        get_codec(config)


def test_custom_codec_can_be_registered():
    @register_codec
    class RawCodec(LowresCodec):
        codec_id = "test-raw"

        def encode(self, frame):
            return np.ascontiguousarray(frame).tobytes()

        def decode(self, data, width, height, channels):
            shape = (height, width) if channels == 1 else (height, width, channels)
            return np.frombuffer(data, np.uint8).reshape(shape).copy()

        def get_config(self):
            return {"id": self.codec_id}

    try:
        assert "test-raw" in list_codecs()
        assert isinstance(get_codec("test-raw"), RawCodec)
    finally:
        lowres._REGISTRY.pop("test-raw", None)
    assert "test-raw" not in list_codecs()


@pytest.mark.parametrize("codec_id", ["png", "zstd", "webp", "jxl"])
def test_bad_frames_are_refused(codec_id):
    codec = get_codec(codec_id)
    for bad in (
        np.zeros((4, 4), np.uint16),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((0, 4), np.uint8),
        [[1, 2], [3, 4]],
    ):
        with pytest.raises(FrameError):
            codec.encode(bad)


@pytest.mark.parametrize(
    "spec", ["png", "zstd", {"id": "zstd", "filter": "none"}, "webp", "jxl"], ids=str
)
def test_corrupt_payloads_raise_corrupt_error(spec):
    codec = get_codec(spec)
    frame = make_frame(31, 17, 3)
    good = codec.encode(frame)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x5A
    bad_payloads = [
        b"",
        b"abc",
        b"garbage" * 10,
        good[: len(good) // 2],
        good[:-1],
        good + b"\0",
        bytes(flipped),
    ]
    for bad in bad_payloads:
        with pytest.raises(CorruptError):
            codec.decode(bad, 31, 17, 3)
    # Right payload, wrong expectations: size, channel count, absurd dimensions.
    for args in [(32, 17, 3), (31, 16, 3), (31, 17, 1), (31, 17, 4), (0, 17, 3)]:
        with pytest.raises(CorruptError):
            codec.decode(good, *args)
    with pytest.raises(CorruptError):
        codec.decode(good, 60000, 60000, 3)


def test_zstd_refuses_trailing_bytes():
    codec = ZstdCodec()
    frame = make_frame(8, 8, 1)
    with pytest.raises(CorruptError, match="unexpected bytes"):
        codec.decode(codec.encode(frame) + b"\0", 8, 8, 1)
    # Streams without a declared size and bombs: test_reliability.py (bombs).


def test_png_refuses_other_formats_and_modes():
    import io

    from PIL import Image

    frame = make_frame(10, 6, 3)
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="BMP")
    with pytest.raises(CorruptError):
        PngCodec().decode(buf.getvalue(), 10, 6, 3)
    rgba = np.dstack([frame, np.full((6, 10), 255, np.uint8)])
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    with pytest.raises(CorruptError, match="RGBA"):
        PngCodec().decode(buf.getvalue(), 10, 6, 3)


@pytest.mark.parametrize(
    "spec",
    [
        "png",
        "zstd",
        "webp",
        {"id": "webp", "method": 0, "quality": 0},
        "jxl",
        {"id": "jxl", "effort": 1},
    ],
    ids=spec_id,
)
def test_every_single_byte_flip_is_detected(spec):
    codec = get_codec(spec)
    frame = make_frame(6, 5, 3)
    good = codec.encode(frame)
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x01
        with pytest.raises(CorruptError):
            codec.decode(bytes(bad), 6, 5, 3)


@pytest.mark.parametrize("short", ["png", "zstd", "webp", "jxl"])
def test_short_names_and_canonical_ids_give_equal_codecs(short):
    canonical = f"srcodec.{short}"
    assert canonical in list_codecs() and short not in list_codecs()
    assert lowres.canonical_id(short) == canonical
    assert get_codec(short) == get_codec(canonical)
    assert lowres.codec_class(short) is lowres.codec_class(canonical)
    # An older archive's config, with the short id, rebuilds the same codec, recorded canonically.
    old = {**get_codec(short).get_config(), "id": short}
    assert get_codec(old) == get_codec(canonical)
    assert get_codec(old).get_config()["id"] == canonical


def test_unknown_codec_is_refused_with_the_known_ids_and_aliases():
    with pytest.raises(FormatError, match=r"'srcodec\.heif'.*srcodec\.jxl \(jxl\)"):
        get_codec("srcodec.heif")
    with pytest.raises(FormatError, match="given to codec 'srcodec.png'"):
        PngCodec.from_config({"id": "zstd"})


def test_an_alias_cannot_be_taken_by_another_codec():
    class Impostor(PngCodec):
        codec_id = "test-impostor"
        aliases = ("zstd",)

    with pytest.raises(ValueError, match="'zstd' already names codec 'srcodec.zstd'"):
        register_codec(Impostor)
    assert "test-impostor" not in list_codecs()
    assert isinstance(get_codec("zstd"), ZstdCodec)
