import numpy as np
import pytest
from PIL import Image

import srcodec
from srcodec.archive.layout import FORMAT_VERSION, MAGIC
from srcodec.errors import CorruptError, FormatError, FrameError, ModelError, SrcodecError
from srcodec.resample import downscale


@pytest.fixture
def frames_dir(tmp_path, photo):
    """Real photo crops of odd and even sizes, RGB and grayscale, named to test natural order."""
    folder = tmp_path / "frames"
    folder.mkdir()
    crops = {
        "frame10.png": photo[:301, :401],
        "frame2.png": photo[100:164, 50:114],
        "frame1.jpg": photo[200:333, 10:210],
        "gray3.bmp": photo[:77, :55, 1],
        "frame20.tif": photo[300:420, 300:500],
    }
    for name, crop in crops.items():
        Image.fromarray(np.ascontiguousarray(crop)).save(folder / name)
    return folder


def _originals(folder):
    return {p.name: np.asarray(Image.open(p)) for p in folder.iterdir()}


@pytest.mark.parametrize("codec", ["png", "zstd", "webp", "jxl"])
def test_round_trip_names_sizes_modes_order(frames_dir, tmp_path, tiny_weights, codec):
    out = tmp_path / "a.src"
    s = srcodec.encode(frames_dir, out, weights=[tiny_weights], codec=codec)
    assert s.frames == 5 and s.archive_bytes == out.stat().st_size
    originals = _originals(frames_dir)
    restored = list(srcodec.decode(out, weights=[tiny_weights], device="cpu"))
    assert [n for n, _ in restored] == [
        "frame1.jpg",
        "frame2.png",
        "frame10.png",
        "frame20.tif",
        "gray3.bmp",
    ]
    for name, frame in restored:
        assert frame.shape == originals[name].shape and frame.dtype == np.uint8
    with srcodec.open(out, weights=[tiny_weights]) as a:
        assert a.header.codec["id"] == f"srcodec.{codec}"
        for name, original in originals.items():  # the stored low-res frame is lossless
            assert np.array_equal(a.lowres(name), downscale(original))


def test_odd_size_restores_exactly(tmp_path, photo, tiny_weights):
    out = tmp_path / "odd.src"
    srcodec.encode([("odd", photo[:301, :401])], out, weights=[tiny_weights])
    with srcodec.open(out, weights=[tiny_weights], device="cpu") as a:
        assert a["odd"].shape == (301, 401, 3)
        assert a.lowres(0).shape == (151, 201, 3)


def test_random_access(frames_dir, tmp_path, tiny_weights):
    out = tmp_path / "a.src"
    srcodec.encode(frames_dir, out, weights=[tiny_weights])
    all_frames = dict(srcodec.decode(out, weights=[tiny_weights], device="cpu"))
    with srcodec.open(out, weights=[tiny_weights], device="cpu") as a:
        assert len(a) == 5
        assert np.array_equal(a[2], all_frames["frame10.png"])  # batching changes nothing
        assert np.array_equal(a["gray3.bmp"], a[-1])
        with pytest.raises(SrcodecError, match="no frame named 'nope'"):
            a["nope"]


def test_bicubic_preview_needs_no_model(frames_dir, tmp_path, tiny_weights):
    out = tmp_path / "a.src"
    srcodec.encode(frames_dir, out, weights=[tiny_weights])
    frames = dict(srcodec.decode(out, bicubic=True))  # the tiny model is not installed
    assert frames["frame10.png"].shape == (301, 401, 3)


def test_arrays_from_python(tmp_path, photo, tiny_weights):
    out = tmp_path / "arr.src"
    srcodec.encode([photo[:64, :64], photo[64:128, :64]], out, weights=[tiny_weights])
    assert [n for n, _ in srcodec.decode(out, bicubic=True)] == ["frame_000000", "frame_000001"]
    with pytest.raises(FrameError, match="uint8"):
        srcodec.encode([photo.astype(np.uint16)], tmp_path / "b.src", weights=[tiny_weights])
    with pytest.raises(FrameError, match="HxW"):
        srcodec.encode([np.zeros((4, 4, 4), np.uint8)], tmp_path / "c.src", weights=[tiny_weights])
    assert not (tmp_path / "b.src").exists() and not (tmp_path / "c.src").exists()


def test_archive_is_smaller_than_pngs_of_the_originals(sample_frames, tmp_path, tiny_weights):
    out = tmp_path / "s.src"
    s = srcodec.encode(sample_frames, out, weights=[tiny_weights])
    png_bytes = sum(p.stat().st_size for p in sample_frames)
    assert out.stat().st_size < png_bytes / 3  # a quarter of the pixels, stored losslessly
    assert s.input_bytes == png_bytes and s.ratio > 3


def test_bad_frames_are_named_and_skippable(frames_dir, tmp_path, tiny_weights):
    (frames_dir / "frame5.png").write_bytes(b"this is not a png")
    out = tmp_path / "a.src"
    with pytest.raises(FrameError, match="frame5.png"):
        srcodec.encode(frames_dir, out, weights=[tiny_weights])
    assert not out.exists() and list(tmp_path.glob(".*tmp")) == []
    s = srcodec.encode(frames_dir, out, weights=[tiny_weights], skip_bad=True)
    assert s.frames == 5 and [n for n, _ in s.skipped] == ["frame5.png"]


def test_unsupported_modes_are_refused_not_converted(tmp_path, tiny_weights, photo):
    rgba = np.dstack([photo[:32, :32], np.full((32, 32), 128, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    Image.fromarray(photo[:32, :32, 0].astype(np.uint16) * 200).save(tmp_path / "deep.png")
    with pytest.raises(FrameError, match="alpha.png: has transparency"):
        srcodec.encode([tmp_path / "alpha.png"], tmp_path / "a.src", weights=[tiny_weights])
    with pytest.raises(FrameError, match="deep.png: unsupported image mode"):
        srcodec.encode([tmp_path / "deep.png"], tmp_path / "a.src", weights=[tiny_weights])
    opaque = np.dstack([photo[:32, :32], np.full((32, 32), 255, np.uint8)])
    Image.fromarray(opaque).save(tmp_path / "opaque.png")  # nothing lost: stored as RGB
    srcodec.encode([tmp_path / "opaque.png"], tmp_path / "b.src", weights=[tiny_weights])
    with srcodec.open(tmp_path / "b.src") as a:
        assert np.array_equal(a.lowres(0), downscale(photo[:32, :32]))


def test_empty_folder_and_existing_output(tmp_path, frames_dir, tiny_weights):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FrameError, match="empty: no frames"):
        srcodec.encode(empty, tmp_path / "a.src", weights=[tiny_weights])
    out = tmp_path / "a.src"
    out.write_bytes(b"precious")
    with pytest.raises(SrcodecError, match="exists"):
        srcodec.encode(frames_dir, out, weights=[tiny_weights])
    assert out.read_bytes() == b"precious"
    srcodec.encode(frames_dir, out, weights=[tiny_weights], force=True)
    assert out.read_bytes().startswith(MAGIC)


def test_not_an_archive_and_newer_version(tmp_path, frames_dir, tiny_weights):
    junk = tmp_path / "junk.src"
    junk.write_bytes(b"hello world, not an archive")
    with pytest.raises(FormatError, match="junk.src"):
        srcodec.open(junk)
    out = tmp_path / "a.src"
    srcodec.encode(frames_dir, out, weights=[tiny_weights])
    data = bytearray(out.read_bytes())
    data[8:10] = (FORMAT_VERSION + 1).to_bytes(2, "little")
    newer = tmp_path / "newer.src"
    newer.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="version"):
        srcodec.open(newer)


def test_unknown_model_and_hash_mismatch(tmp_path, frames_dir, tiny_weights):
    out = tmp_path / "a.src"
    srcodec.encode(frames_dir, out, weights=[tiny_weights])
    with pytest.raises(ModelError, match="needs model tiny-test-x2@"):
        next(srcodec.decode(out))
    other = tmp_path / "other.safetensors"
    import torch

    from srcodec.models.edsr import EDSR, EDSRConfig
    from srcodec.models.store import save_model

    torch.manual_seed(5)
    save_model(EDSR(EDSRConfig(blocks=2, features=8)), other, "tiny-test-x2")
    with pytest.raises(ModelError, match="other.safetensors is tiny-test-x2@"):
        next(srcodec.decode(out, weights=[other]))
    with pytest.raises(ModelError, match="unknown model 'nosuch"):
        srcodec.encode(frames_dir, tmp_path / "b.src", model="nosuch-x2")


def test_damaged_frame_is_named_and_the_rest_decode(tmp_path, frames_dir, tiny_weights):
    out = tmp_path / "a.src"
    srcodec.encode(frames_dir, out, weights=[tiny_weights])
    with srcodec.open(out) as a:
        entry = a.reader.entry("frame10.png")
    data = bytearray(out.read_bytes())
    data[entry.offset + entry.length // 2] ^= 0x40
    out.write_bytes(bytes(data))
    damaged = []
    frames = dict(srcodec.decode(out, bicubic=True, on_damage=lambda n, e: damaged.append(n)))
    assert damaged == ["frame10.png"] and len(frames) == 4
    with pytest.raises(CorruptError, match="frame10.png"):
        dict(srcodec.decode(out, bicubic=True))


def test_truncated_archive_keeps_the_frames_before(tmp_path, frames_dir, tiny_weights):
    out = tmp_path / "a.src"
    srcodec.encode(frames_dir, out, weights=[tiny_weights])
    with srcodec.open(out) as a:
        cut = a.reader.entry(3).offset + 10  # inside the fourth frame
    data = out.read_bytes()
    out.write_bytes(data[:cut])
    names = [n for n, _ in srcodec.decode(out, bicubic=True, on_damage=lambda n, e: None)]
    assert names == ["frame1.jpg", "frame2.png", "frame10.png"]


def test_random_access_while_iterating_and_stopping_early(tmp_path, frames_dir, tiny_weights):
    """Frames are decoded ahead in a thread: reading others meanwhile, or stopping early, is
    safe, and the frames are those of one-by-one access."""
    import threading

    out = tmp_path / "a.src"
    srcodec.encode(frames_dir, out, weights=[tiny_weights], codec="zstd")
    with srcodec.open(out, weights=[tiny_weights], device="cpu") as a:
        one_by_one = {name: a[name] for name in a.names}
        for name, frame in a.frames():
            other = a.names[(a.names.index(name) + 2) % len(a)]
            assert np.array_equal(a[other], one_by_one[other])
            assert np.array_equal(frame, one_by_one[name])
        frames = a.frames()
        next(frames)
        frames.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("srcodec-read")]


def test_decode_uses_a_given_restorer(tmp_path, frames_dir, tiny_weights):
    from srcodec.engines.choose import make_restorer
    from srcodec.models.store import inspect_weights

    out = tmp_path / "a.src"
    srcodec.encode(frames_dir, out, weights=[tiny_weights])
    restorer = make_restorer(inspect_weights(tiny_weights), "cpu")
    calls = []
    forward = restorer._forward
    restorer._forward = lambda batch: calls.append(batch.shape) or forward(batch)
    summary = srcodec.decode_to_folder(out, tmp_path / "out", restorer=restorer)
    assert len(summary.written) == 5 and calls  # no --weights needed: the model is given
    with srcodec.open(out, weights=[tiny_weights], device="cpu") as a:
        expected = a["frame2.png"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "frame2.png")), expected)


@pytest.mark.parametrize("short", ["jxl", "png"])
def test_archive_with_a_short_codec_id_still_decodes_verifies_recovers_and_appends(
    photo, tmp_path, tiny_weights, short
):
    """Archives written before the codec ids were namespaced record ``{"id": "jxl", ...}``."""
    from srcodec.archive.filereader import ArchiveReader
    from srcodec.archive.filewriter import ArchiveWriter
    from srcodec.archive.layout import FrameRecord, Header
    from srcodec.models.store import inspect_weights

    codec = srcodec.get_codec(short)
    config = {**codec.get_config(), "id": short}
    header = Header(inspect_weights(tiny_weights).id, 2, config, "2024-05-01T12:00:00+00:00", "0")
    frames = {"a": photo[:64, :80], "b": photo[64:128, :80, 1]}
    path = tmp_path / "old.src"
    with ArchiveWriter(path, header) as writer:
        for name, frame in frames.items():
            h, w = frame.shape[:2]
            mode = "L" if frame.ndim == 2 else "RGB"
            writer.add(FrameRecord(name, w, h, mode, codec.encode(downscale(frame))))

    with srcodec.open(path) as archive:
        assert archive.codec == codec and archive.info()["codec"] == config
        for name, frame in frames.items():
            np.testing.assert_array_equal(archive.lowres(name), downscale(frame))
    assert [n for n, _ in srcodec.decode(path, bicubic=True)] == ["a", "b"]
    assert srcodec.verify(path).ok
    assert srcodec.recover(path, tmp_path / "copy.src").recovered == ["a", "b"]

    srcodec.append([("c", photo[:32, :32])], path, codec=short)
    srcodec.append([("d", photo[:32, :32])], path, codec=f"srcodec.{short}")
    with ArchiveReader(path) as reader:
        assert reader.header.codec == config  # the archive's own config, kept verbatim
        assert reader.names == ["a", "b", "c", "d"]
    with pytest.raises(SrcodecError, match="cannot append"):
        srcodec.append([("e", photo[:32, :32])], path, codec="zstd")
