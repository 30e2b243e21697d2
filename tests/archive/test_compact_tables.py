"""Format 3 (compressed frame tables and index): archives written by the srcodec before it still
decode and keep their bytes, appends and recovery keep their version, damage and truncation of a
version-3 archive cost only what they touch, the bounds on decompression hold, and a lossy
archive's container costs a few bytes a frame."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard

import srcodec
import srcodec.archive.layout as layout
from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.filewriter import ArchiveWriter
from srcodec.archive.layout import COMPACT_VERSION, TRAILER_SIZE, FrameInfo, GroupRecord, Header
from srcodec.archive.lossywriter import Candidate, encode_lossy
from srcodec.engines.identity import IDENTITY_MODEL
from srcodec.errors import CorruptError
from srcodec.lowres import get_codec
from srcodec.resample import lowres_size

DATA = Path(__file__).resolve().parents[1] / "data"
OLD_V1, OLD_V2 = DATA / "v1_frames.src", DATA / "v2_groups.src"  # tests/data/make_old_archives.py
V2_NAMES = ["solo.png", "rgb_0.png", "rgb_1.png", "rgb_2.png", "grey_0.png", "grey_1.png"]


def low_frames(path: Path) -> dict[str, np.ndarray]:
    """Every frame's low-resolution pixels, decoded through the header's codec (a stream
    codec checks every frame against its pixel CRC)."""
    out = {}
    with ArchiveReader(path) as reader:
        codec = get_codec(reader.header.codec)
        for record in reader:
            width, height = lowres_size(record.width, record.height, reader.header.scale)
            if record.group is None:
                out[record.name] = codec.decode(record.payload, width, height, record.channels)
            else:
                group = codec.decode_group(
                    record.payload, width, height, record.channels, len(record.group)
                )
                out[record.name] = group[record.position]
    return out


def rewrite(source: Path, target: Path, **kwargs) -> None:
    """Write ``source``'s frames again, unit by unit, with today's writer."""
    with ArchiveReader(source) as reader, ArchiveWriter(target, reader.header, **kwargs) as w:
        groups = []
        for record in reader:
            if record.group is None:
                w.add(record)
            elif record.group not in groups:
                groups.append(record.group)
                w.add_group(record.group)


def test_archives_of_the_previous_srcodec_decode(tmp_path):
    with ArchiveReader(OLD_V1) as reader:
        assert reader.format_version == 1 and reader.names == ["v1_0.png", "v1_1.png"]
    with ArchiveReader(OLD_V2) as reader:
        assert reader.format_version == 2 and not reader.index_recovered
        assert reader.names == V2_NAMES
        assert [reader.entry(k).position for k in range(6)] == [0, 0, 1, 2, 0, 1]
    lows = low_frames(OLD_V2)
    assert lows["rgb_1.png"].shape == (24, 32, 3) and lows["grey_1.png"].shape == (24, 32)
    assert low_frames(OLD_V1)["v1_1.png"].shape == (24, 32, 3)
    for path in (OLD_V1, OLD_V2):
        assert srcodec.verify(path).ok


def test_versions_1_and_2_are_written_byte_for_byte_as_before(tmp_path):
    rewrite(OLD_V1, tmp_path / "v1.src")  # the header re-encoded, not copied
    assert (tmp_path / "v1.src").read_bytes() == OLD_V1.read_bytes()
    rewrite(OLD_V2, tmp_path / "v2.src", version=2)
    assert (tmp_path / "v2.src").read_bytes() == OLD_V2.read_bytes()


def test_version_3_round_trip_is_smaller_and_decodes_the_same(tmp_path):
    new = tmp_path / "v3.src"
    rewrite(OLD_V2, new, groups=True)
    raw = new.read_bytes()
    assert struct.unpack_from("<H", raw, 8)[0] == COMPACT_VERSION == 3
    assert b'"codec":{"id":"srcodec.x264"' in raw  # compact header JSON
    assert b"rgb_1.png" not in raw  # names live in compressed tables only
    with ArchiveReader(new) as reader:
        assert reader.names == V2_NAMES and not reader.index_recovered
        assert [reader.entry(k).position for k in range(6)] == [0, 0, 1, 2, 0, 1]
        assert reader.read("grey_1.png").width == 63 and not reader.scan().damaged
    old = low_frames(OLD_V2)
    assert all(np.array_equal(a, old[n]) for n, a in low_frames(new).items())
    assert len(raw) < OLD_V2.stat().st_size and srcodec.verify(new).ok


def test_append_keeps_a_version_2_archive_version_2(tmp_path, photo):
    path = tmp_path / "old.src"
    shutil.copy(OLD_V2, path)
    new = [(f"new_{k}.png", np.ascontiguousarray(photo[:48, 3 * k : 64 + 3 * k])) for k in range(3)]
    srcodec.append(new, path)
    old = OLD_V2.read_bytes()
    frames_end = struct.unpack_from("<Q", old, len(old) - 16)[0]  # where the index starts
    assert path.read_bytes()[:frames_end] == old[:frames_end]  # copied verbatim
    with ArchiveReader(path) as reader:
        assert reader.format_version == 2 and reader.names == V2_NAMES + [n for n, _ in new]
    lows = low_frames(path)
    assert len(lows) == 9 and srcodec.verify(path).ok


@pytest.mark.parametrize("version", [2, 3])
def test_recover_keeps_the_version_and_every_intact_frame(tmp_path, version):
    path = tmp_path / "a.src"
    rewrite(OLD_V2, path, version=version)
    with ArchiveReader(path) as reader:
        grey = reader.entry("grey_0.png")
    cut = tmp_path / "cut.src"
    cut.write_bytes(path.read_bytes()[: grey.offset + grey.chunk_size // 2])
    report = srcodec.recover(cut, tmp_path / "back.src")
    assert report.recovered == V2_NAMES[:4]
    assert sorted(n for n, _ in report.lost) == ["grey_0.png", "grey_1.png"]
    with ArchiveReader(tmp_path / "back.src") as reader:
        assert reader.format_version == version and reader.names == V2_NAMES[:4]
    old = low_frames(OLD_V2)
    assert all(np.array_equal(a, old[n]) for n, a in low_frames(tmp_path / "back.src").items())


@pytest.fixture
def lossy(tmp_path, photo) -> tuple[Path, list[tuple[str, np.ndarray]]]:
    """A version-4 lossy archive (version 3's tables, compact payloads) of 12 frames of a real
    photo panning, in groups of 5, 5, 2."""
    frames = [
        (f"frame_{k:06d}.png", np.ascontiguousarray(photo[200:264, 100 + 4 * k : 196 + 4 * k]))
        for k in range(12)
    ]
    path = tmp_path / "lossy.src"
    base = Candidate("base", 1, IDENTITY_MODEL)
    encode_lossy(frames, path, quality=50, candidates=[base], group=5)
    return path, frames


def test_truncated_version_4_archive_yields_intact_frames_then_names_the_lost(tmp_path, lossy):
    path, frames = lossy
    with ArchiveReader(path) as reader:
        assert reader.format_version == 4
        middle = reader.entry(5)  # the second group: frames 5..9
    cut = tmp_path / "cut.src"
    cut.write_bytes(path.read_bytes()[: middle.offset + middle.chunk_size // 2])
    got = []
    with pytest.raises(srcodec.DamagedArchiveError) as err:
        for name, _frame in srcodec.decode(cut):
            got.append(name)
    assert got == [n for n, _ in frames[:5]]
    lost = {name for name, _ in err.value.lost}
    assert {n for n, _ in frames[5:10]} <= lost and None in lost  # the group, the index


def test_damaged_version_3_group_table_costs_its_group_only(tmp_path, lossy):
    path, frames = lossy
    with ArchiveReader(path) as reader:
        middle = reader.entry(5)
    raw = bytearray(path.read_bytes())
    raw[middle.offset + 8 + 4 + 6] ^= 0x10  # inside the compressed frame table
    bad = tmp_path / "bad.src"
    bad.write_bytes(bytes(raw))
    with ArchiveReader(bad) as reader:
        assert not reader.index_recovered
        with pytest.raises(CorruptError, match="frame_000007.*checksum mismatch"):
            reader.read(7)
    got = []
    with pytest.raises(srcodec.DamagedArchiveError) as err:
        for name, _frame in srcodec.decode(bad):
            got.append(name)
    assert got == [n for k, (n, _) in enumerate(frames) if not 5 <= k < 10]
    assert sorted(name for name, _ in err.value.lost) == [n for n, _ in frames[5:10]]
    report = srcodec.verify(bad)
    assert sorted(report.intact) == sorted(got) and not report.ok


def with_index(path: Path, index: bytes, count: int) -> bytes:
    """``path``'s bytes with its INDX chunk data replaced by ``index`` (CRC and trailer fixed)."""
    raw = path.read_bytes()
    at = struct.unpack_from("<Q", raw, len(raw) - 16)[0]
    chunk = struct.pack("<I4s", len(index), b"INDX") + index
    chunk += struct.pack("<I", zlib.crc32(chunk[4:]))
    tail = struct.pack("<I4sQI", 12, b"TAIL", at, count)
    return raw[:at] + chunk + tail + struct.pack("<I", zlib.crc32(tail[4:]))


def test_decompression_is_bounded_before_anything_is_allocated(tmp_path, lossy, monkeypatch):
    path, frames = lossy
    # An index claiming more than its count of entries can take: refused, frames found by scan.
    bomb = zstandard.ZstdCompressor(write_content_size=True).compress(bytes(4 << 20))
    crafted = tmp_path / "bomb.src"
    crafted.write_bytes(with_index(path, bomb, 12))
    assert len(bomb) < 1000
    with ArchiveReader(crafted) as reader:
        assert reader.index_recovered and "at most" in reader.index_problem
        assert reader.names == [n for n, _ in frames]
    # A group table over the bound: that group is damaged, the others read.
    monkeypatch.setattr(layout, "MAX_GROUP_TABLE_BYTES", 100)
    with ArchiveReader(path) as reader:
        with pytest.raises(CorruptError, match="group frame table claims .* at most 100"):
            reader.read(0)
        assert reader.read(10).name == "frame_000010.png"  # a group of 2: a smaller table


def test_lossy_container_overhead_is_a_few_bytes_a_frame(tmp_path, photo):
    """40 frames of a lossy archive: everything but the stream payloads (the codec's bytes)
    is under 12 bytes a frame plus a fixed budget for the preamble, header and trailer. Format 2
    spent about 50 bytes a frame here (names twice, index offsets)."""
    frames = [
        (
            f"frame_{700 + k:06d}.png",
            np.ascontiguousarray(photo[200:248, 100 + 2 * k : 164 + 2 * k]),
        )
        for k in range(40)
    ]
    path = tmp_path / "lossy.src"
    base = Candidate("base", 1, IDENTITY_MODEL)
    encode_lossy(frames, path, quality=20, candidates=[base])
    with ArchiveReader(path) as reader:
        head = len(reader.raw_header)
        groups = {id(r.group): r.group for r in reader}
        payload = sum(len(g.payload) for g in groups.values())
    overhead = path.stat().st_size - payload
    fixed = 10 + 12 + head + TRAILER_SIZE
    assert head < 300
    assert overhead - fixed < 12 * len(frames), (overhead, fixed)


def test_index_beyond_the_ratio_bound_is_refused_by_the_writer(tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "index_bound", lambda count, size: 8)
    header = Header(IDENTITY_MODEL, 1, {"id": "srcodec.x264"}, "2026-11-27T00:00:00+00:00", "t")
    writer = ArchiveWriter(tmp_path / "w.src", header, groups=True)
    writer.add_group(GroupRecord([FrameInfo("a", 2, 2, "L")], b"x"))
    with pytest.raises(srcodec.SrcodecError, match="beyond the format's bound"):
        writer.close()
    writer.abort()
    assert not list(tmp_path.iterdir())
