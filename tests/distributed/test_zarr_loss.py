"""Zarr without silent loss (issue 24): archives coded in groups (footage, lossy) export, a failed
export leaves nothing behind, and a store with a missing, truncated or damaged chunk is an error
naming its frames, never black frames read as whole."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("zarr")

import srcodec  # noqa: E402
from srcodec.archive.reader import Archive  # noqa: E402
from srcodec.cli import main  # noqa: E402
from srcodec.distributed.zarrstore import archive_to_zarr, open_zarr, zarr_to_archive  # noqa: E402
from srcodec.errors import CorruptError, SrcodecError  # noqa: E402

COUNT = 10


@pytest.fixture(scope="module")
def clip(photo) -> list[np.ndarray]:
    """Ten 72x96 crops of a real photo sliding right: footage with motion."""
    return [np.ascontiguousarray(photo[100:172, 40 + 4 * k : 136 + 4 * k]) for k in range(COUNT)]


@pytest.fixture
def grouped(tmp_path, clip, tiny_weights):
    """Footage as encode writes it: x264 groups (of 4: 4 + 4 + 2 frames)."""
    path = tmp_path / "g.src"
    srcodec.encode(clip, path, weights=[tiny_weights], codec="x264", group=4)
    return path


def lowres(path) -> tuple[list[str], np.ndarray]:
    with Archive(path, bicubic=True) as a:
        return a.names, np.stack([a.lowres(i) for i in range(len(a))])


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def test_grouped_archive_exports_and_comes_back_bit_exact(grouped, tmp_path):
    """It failed: "no numcodecs codec for 'srcodec.x264'"; and with --codec jxl it failed
    midway ("payload holds 4 frames, not 1"), leaving zarr.json behind."""
    names, frames = lowres(grouped)
    store = tmp_path / "g.zarr"
    r = cli("export-zarr", grouped, store, "--chunk-frames", 3)
    assert r.exit_code == 0, r.output
    array = open_zarr(store)
    assert array.metadata.codecs[0].to_dict()["name"] == "srcodec.jxl"  # lossless, per frame
    np.testing.assert_array_equal(array[:], frames)
    back = zarr_to_archive(store, tmp_path / "back.src")
    with Archive(grouped) as a, Archive(back) as b:
        assert b.header == a.header and b.info()["groups"]  # x264 groups again
    assert lowres(back)[0] == names
    np.testing.assert_array_equal(lowres(back)[1], frames)
    assert srcodec.verify(back).ok
    # Any per-frame chunk codec can be asked for.
    other = archive_to_zarr(grouped, tmp_path / "zstd.zarr", codec="zstd", chunk_frames=4)
    np.testing.assert_array_equal(other[:], frames)


def test_lossy_archive_exports_its_decoded_pixels_losslessly(tmp_path, clip):
    """A lossy archive's frames go to Zarr as they decode, and come back without being coded
    lossily a second time (the restored footage is the same)."""
    from srcodec.archive.lossywriter import IDENTITY_MODEL, Candidate, encode_lossy

    path = tmp_path / "lossy.src"
    encode_lossy(clip, path, quality=50, candidates=[Candidate("base", 1, IDENTITY_MODEL)])
    names, frames = lowres(path)
    store = tmp_path / "lossy.zarr"
    r = cli("export-zarr", path, store)
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(open_zarr(store)[:], frames)
    r = cli("import-zarr", store, tmp_path / "back.src")
    assert r.exit_code == 0, r.output
    assert "not coded lossily again" in r.output
    np.testing.assert_array_equal(lowres(tmp_path / "back.src")[1], frames)
    with srcodec.open(path) as a, srcodec.open(tmp_path / "back.src") as b:
        assert all(np.array_equal(a[i], b[i]) for i in range(len(a)))


def test_a_failed_export_leaves_nothing_behind(grouped, tmp_path, monkeypatch):
    store = tmp_path / "cut.zarr"
    calls = []

    def failing(self, key):
        calls.append(key)
        if len(calls) == 6:
            raise CorruptError("cannot decode (test)")
        return original(self, key)

    original = Archive.lowres
    monkeypatch.setattr(Archive, "lowres", failing)
    with pytest.raises(CorruptError, match="frame_000005"):
        archive_to_zarr(grouped, store, chunk_frames=2)
    assert list(tmp_path.iterdir()) == [grouped]  # no store, no temporary folder
    # An existing store is not touched by a failed overwrite either.
    monkeypatch.setattr(Archive, "lowres", original)
    archive_to_zarr(grouped, store, chunk_frames=2)
    monkeypatch.setattr(Archive, "lowres", failing)
    calls.clear()
    with pytest.raises(CorruptError):
        archive_to_zarr(grouped, store, chunk_frames=2, overwrite=True)
    monkeypatch.setattr(Archive, "lowres", original)
    np.testing.assert_array_equal(open_zarr(store)[:], lowres(grouped)[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.zarr", "g.src"]


def test_a_folder_that_is_not_zarr_is_never_overwritten(grouped, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    for force in (False, True):
        with pytest.raises(SrcodecError, match="not a Zarr array"):
            archive_to_zarr(grouped, folder, overwrite=force)
    assert (folder / "notes.txt").read_text() == "keep"


def test_damaged_archive_is_refused_before_anything_is_written(grouped, tmp_path):
    from srcodec.archive.filereader import ArchiveReader

    with ArchiveReader(grouped) as reader:
        second = reader.entry(4)  # the first frame of the second group
    raw = bytearray(grouped.read_bytes())
    raw[second.offset + second.chunk_size - 20] ^= 0x40
    grouped.write_bytes(bytes(raw))
    with pytest.raises(CorruptError, match="frame_00000"):
        archive_to_zarr(grouped, tmp_path / "d.zarr")
    assert not (tmp_path / "d.zarr").exists()


# --- fuzzing a store: every kind of damage is an error naming the frames ---------------------


def chunk_file(store, k: int):
    return store / "c" / str(k) / "0" / "0" / "0"


def _delete(path):
    path.unlink()


def _truncate(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _zero_head(path):
    raw = bytearray(path.read_bytes())
    raw[:16] = bytes(16)
    path.write_bytes(bytes(raw))


def _zero_middle(path):
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(raw))


def _zero_tail(path):
    raw = bytearray(path.read_bytes())
    raw[-8:] = bytes(8)
    path.write_bytes(bytes(raw))


def _empty(path):
    path.write_bytes(b"")


DAMAGE = {
    "deleted": _delete,
    "truncated": _truncate,
    "zeroed head": _zero_head,
    "zeroed middle": _zero_middle,
    "zeroed tail": _zero_tail,
    "emptied": _empty,
}


@pytest.mark.parametrize("codec_id", ["jxl", "png", "zstd", "webp"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_store_is_an_error_naming_its_frames(grouped, tmp_path, damage, codec_id):
    """Deleting chunk c/1/0/0/0 of a store of 4-frame chunks: import-zarr wrote frames 4-7
    black, exit 0, and verify called the archive intact."""
    store = tmp_path / "s.zarr"
    archive_to_zarr(grouped, store, chunk_frames=4, codec=codec_id)
    DAMAGE[damage](chunk_file(store, 1))
    out = tmp_path / "back.src"
    r = cli("import-zarr", store, out)
    assert r.exit_code == 1, r.output
    assert "frame_000004" in r.output and "frame_000007" in r.output
    assert not out.exists()
    with pytest.raises(CorruptError, match="frame_000004"):
        zarr_to_archive(store, out)
    assert not out.exists()


def test_missing_chunks_are_refused_when_the_store_is_opened(grouped, tmp_path):
    """``open_zarr`` (what ``srcodec.dask.restore`` reads, docs/parallel.md) names the frames
    whose chunks are missing instead of letting Zarr read them as black."""
    store = tmp_path / "s.zarr"
    archive_to_zarr(grouped, store, chunk_frames=4)
    chunk_file(store, 2).unlink()
    with pytest.raises(CorruptError, match=r"2 of 10 frames have no data: frames 8-9"):
        open_zarr(store)
    assert open_zarr(store, check_chunks=False).shape[0] == COUNT  # asked for, explicitly


def test_a_store_cut_short_by_an_interrupted_writer_is_refused(tmp_path, photo):
    """A store whose writer stopped early (its zarr.json written, chunks only for the first
    frames): a plain array without srcodec attributes is named by frame numbers."""
    import zarr

    store = tmp_path / "plain.zarr"
    array = zarr.create_array(store, shape=(6, 40, 50, 3), chunks=(1, 40, 50, 3), dtype="uint8")
    array[:2] = np.stack([photo[:40, :50], photo[40:80, :50]])
    with pytest.raises(CorruptError, match=r"4 of 6 frames have no data: frames 2-5"):
        zarr_to_archive(store, tmp_path / "plain.src")
