"""Tests of what is particular to the webp and jxl low-resolution codecs: JPEG XL's lossless
mode (not distance 0), the registry, size on a real photo, and refusal of foreign images (round
trips and byte flips of every codec: test_lowres_codecs.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from srcodec.errors import CorruptError, FormatError, FrameError
from srcodec.lowres import JxlCodec, WebpCodec, get_codec, list_codecs
from srcodec.resample import downscale


def make_frame(width: int, height: int, channels: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients plus noise, with the extreme values 0 and 255 present."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = 128 + 90 * np.sin(x / 13.0) * np.cos(y / 19.0)
    planes = [base + 30 * c + rng.normal(0, 4, base.shape) for c in range(channels)]
    frame = np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)
    frame.flat[::7] = 255
    frame.flat[3::11] = 0
    return frame[:, :, 0] if channels == 1 else frame


def test_jxl_distance_zero_alone_is_not_lossless_but_the_codec_is(photo):
    import imagecodecs

    small = downscale(photo[:256, :256])
    lossy = imagecodecs.jpegxl_decode(imagecodecs.jpegxl_encode(small, distance=0))
    assert not np.array_equal(lossy, small)  # why the codec passes lossless=True
    codec = JxlCodec()
    np.testing.assert_array_equal(codec.decode(codec.encode(small), 128, 128, 3), small)


@pytest.mark.parametrize("spec", ["webp", "jxl"])
def test_defaults_are_smaller_than_png_on_a_real_photo(spec, photo):
    small = downscale(photo)
    png = get_codec("png").encode(small)
    assert len(get_codec(spec).encode(small)) < 0.85 * len(png)


def test_registry_and_configs():
    assert {f"srcodec.{c}" for c in ("png", "zstd", "webp", "jxl")} <= set(list_codecs())
    assert get_codec("webp").get_config() == {"id": "srcodec.webp", "method": 4, "quality": 100}
    assert get_codec("jxl").get_config() == {"id": "srcodec.jxl", "effort": 7}
    for spec in ({"id": "webp", "method": 6, "quality": 50}, {"id": "jxl", "effort": 3}):
        codec = get_codec(spec)
        assert get_codec(codec.get_config()) == codec


@pytest.mark.parametrize(
    "config",
    [
        {"id": "webp", "method": 7},
        {"id": "webp", "quality": 101},
        {"id": "webp", "quality": True},
        {"id": "webp", "lossless": False},
        {"id": "jxl", "effort": 0},
        {"id": "jxl", "effort": 11},
        {"id": "jxl", "effort": "7"},
        {"id": "jxl", "distance": 1.0},
    ],
)
def test_bad_parameters_are_refused(config):
    with pytest.raises(FormatError):
        get_codec(config)


def test_webp_refuses_frames_beyond_its_size_limit():
    with pytest.raises(FrameError, match="16383"):
        WebpCodec().encode(np.zeros((2, 16384), np.uint8))


def _sealed(bitstream: bytes) -> bytes:
    import struct
    import zlib

    return bitstream + struct.pack("<I", zlib.crc32(bitstream))


def test_webp_refuses_well_sealed_foreign_images():
    frame = make_frame(10, 6, 3)
    rgba = np.dstack([frame, np.full((6, 10), 200, np.uint8)])
    for image, kwargs in (
        (Image.fromarray(frame), {"lossless": False}),  # lossy VP8
        (Image.fromarray(rgba), {"lossless": True}),  # alpha channel
    ):
        buf = io.BytesIO()
        image.save(buf, format="WEBP", **kwargs)
        with pytest.raises(CorruptError):
            WebpCodec().decode(_sealed(buf.getvalue()), 10, 6, 3)
    # A colour frame where a grayscale one is expected.
    with pytest.raises(CorruptError, match="unequal"):
        WebpCodec().decode(WebpCodec().encode(frame), 10, 6, 1)


def test_jxl_refuses_well_sealed_foreign_images_before_decoding():
    import imagecodecs

    frame = make_frame(10, 6, 3)
    rgba = np.dstack([frame, np.full((6, 10), 200, np.uint8)])
    for bad in (
        imagecodecs.jpegxl_encode(rgba, lossless=True, usecontainer=False),
        imagecodecs.jpegxl_encode(frame.astype(np.uint16) * 257, lossless=True),
        imagecodecs.jpegxl_encode(frame, lossless=True, usecontainer=True),
    ):
        with pytest.raises(CorruptError):
            JxlCodec().decode(_sealed(bad), 10, 6, 3)
    # A header claiming a huge frame is refused from its size alone (nothing allocated).
    huge = imagecodecs.jpegxl_encode(np.zeros((1, 40000), np.uint8), lossless=True, effort=1)
    with pytest.raises(CorruptError, match="40000x1"):
        JxlCodec().decode(_sealed(huge), 10, 6, 1)
