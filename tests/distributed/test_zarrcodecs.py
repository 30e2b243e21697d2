"""srcodec's numcodecs and Zarr v3 codecs: exact round trips of frame chunks, configs that
numcodecs rebuilds, the entry points declared, and Zarr arrays written and read with them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

numcodecs = pytest.importorskip("numcodecs")
zarr = pytest.importorskip("zarr")

from srcodec.distributed.zarrcodecs import CODEC_CLASSES, frames_codec, zarr_codec  # noqa: E402
from srcodec.errors import CorruptError, FormatError, FrameError  # noqa: E402
from srcodec.lowres import get_codec  # noqa: E402

IDS = ["srcodec.jxl", "srcodec.webp", "srcodec.png", "srcodec.zstd"]


@pytest.fixture(scope="module")
def chunk(photo) -> np.ndarray:
    """Three real 48x64 RGB crops, frames x H x W x C."""
    return np.stack([photo[y : y + 48, 100:164] for y in (0, 150, 300)])


@pytest.mark.parametrize("codec_id", IDS)
def test_round_trip_and_config(codec_id, chunk):
    codec = numcodecs.get_codec({"id": codec_id})
    data = codec.encode(chunk)
    assert isinstance(data, bytes) and len(data) < chunk.nbytes
    np.testing.assert_array_equal(codec.decode(data), chunk)
    rebuilt = numcodecs.get_codec(codec.get_config())
    assert type(rebuilt) is type(codec) and rebuilt.get_config() == codec.get_config()
    out = np.zeros_like(chunk)
    codec.decode(data, out=out)
    np.testing.assert_array_equal(out, chunk)


def test_config_carries_the_lowres_parameters(chunk):
    codec = numcodecs.get_codec({"id": "srcodec.zstd", "level": 3, "filter": "up"})
    config = {"id": "srcodec.zstd", "level": 3, "filter": "up", "decorrelate": True}
    assert codec.get_config() == config
    assert codec.lowres == get_codec({"id": "zstd", "level": 3, "filter": "up"})
    # From an archive header's codec config, short or namespaced id alike.
    assert frames_codec({"id": "png", "level": 1}).get_config() == {"id": "srcodec.png", "level": 1}
    assert frames_codec(get_codec("jxl")).codec_id == "srcodec.jxl"
    with pytest.raises(FormatError, match="no numcodecs codec"):
        frames_codec("bogus")
    with pytest.raises(FormatError):
        numcodecs.get_codec({"id": "srcodec.png", "level": 42})


def test_grayscale_and_single_frames(chunk):
    codec = frames_codec("png")
    gray = np.ascontiguousarray(chunk[..., :1])
    np.testing.assert_array_equal(codec.decode(codec.encode(gray)), gray)
    frame = chunk[0, :, :, 0]  # a 2-D array is one grayscale frame
    np.testing.assert_array_equal(codec.decode(codec.encode(frame)), frame)
    with pytest.raises(FrameError, match="uint8"):
        codec.encode(chunk.astype(np.uint16))
    with pytest.raises(FrameError, match="C 1 or 3"):
        codec.encode(np.zeros((2, 8, 8, 4), np.uint8))


def test_damaged_chunks_are_refused(chunk):
    codec = frames_codec("zstd")
    data = codec.encode(chunk)
    with pytest.raises(CorruptError, match="truncated"):
        codec.decode(data[:-10])
    with pytest.raises(CorruptError, match="not an srcodec chunk"):
        codec.decode(b"XXXX" + data[4:])
    with pytest.raises(CorruptError, match="unexpected bytes"):
        codec.decode(data + b"\0")


def test_entry_points_name_the_codecs():
    from importlib import import_module

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    entry = tomllib.loads(pyproject.read_text())["project"]["entry-points"]
    for group in ("numcodecs.codecs", "zarr.codecs"):
        assert sorted(entry[group]) == sorted(IDS)
        for target in entry[group].values():
            module, _, name = target.partition(":")
            assert getattr(import_module(module), name)
    assert {k: v.split(":")[1] for k, v in entry["numcodecs.codecs"].items()} == {
        k: cls.__name__ for k, cls in CODEC_CLASSES.items()
    }


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("zarr_format", [3, 2])
def test_zarr_array_round_trip(tmp_path, chunk, zarr_format):
    frames = np.concatenate([chunk, chunk[::-1]])  # 6 frames, the last chunk partial
    kwargs = (
        {"serializer": zarr_codec({"id": "png", "level": 1}), "compressors": None}
        if zarr_format == 3
        else {"compressors": frames_codec("jxl"), "filters": None}
    )
    store = tmp_path / "frames.zarr"
    array = zarr.create_array(
        store, shape=frames.shape, chunks=(4, 48, 64, 3), dtype="uint8",
        zarr_format=zarr_format, **kwargs,
    )  # fmt: skip
    array[:] = frames
    reread = zarr.open_array(store, mode="r")
    np.testing.assert_array_equal(reread[:], frames)
    np.testing.assert_array_equal(reread[5], frames[5])
    if zarr_format == 3:
        assert reread.metadata.to_dict()["codecs"][0] == {
            "name": "srcodec.png",
            "configuration": {"level": 1},
        }


def test_zarr_refuses_arrays_it_cannot_store(tmp_path):
    with pytest.raises(FrameError, match="C 1 or 3"):
        zarr.create_array(
            tmp_path / "x.zarr", shape=(2, 8, 8, 4), dtype="uint8",
            serializer=zarr_codec("png"), compressors=None,
        )  # fmt: skip
    assert "srcodec.distributed.zarrcodecs" in sys.modules
