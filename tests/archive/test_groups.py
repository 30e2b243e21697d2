"""Groups in archives (GRUP chunks: format 2, and format 3 with compressed tables): random access
to a frame of a group, version refusal by older readers, writer checks, and damage or truncation
costing one group only, in both versions."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import srcodec.archive.filereader as filereader
from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.filewriter import ArchiveWriter
from srcodec.archive.layout import (
    COMPACT_VERSION,
    GROUPS_VERSION,
    FrameInfo,
    FrameRecord,
    GroupRecord,
    Header,
)
from srcodec.errors import CorruptError, FormatError, FrameError, SrcodecError
from srcodec.lowres.stream import X264StreamCodec
from srcodec.resample import downscale, lowres_size

CODEC = X264StreamCodec("ultrafast")


def header() -> Header:
    return Header("m@" + "0" * 64, 2, CODEC.get_config(), "2024-05-01T12:00:00+00:00", "0.1")


def make_group(photo, first: int, count: int, mode: str = "RGB") -> tuple[GroupRecord, list]:
    """``count`` 61x45 frames of a real photo panning (named by number), and their low-res."""
    width, height = 61, 45
    frames = [photo[150:195, 90 + 3 * k : 151 + 3 * k] for k in range(first, first + count)]
    if mode == "L":
        frames = [f[:, :, 1] for f in frames]
    lows = [downscale(np.ascontiguousarray(f)) for f in frames]
    infos = [FrameInfo(f"frame_{k:06d}", width, height, mode) for k in range(first, first + count)]
    return GroupRecord(infos, CODEC.encode_group(lows)), lows


@pytest.fixture(params=[GROUPS_VERSION, COMPACT_VERSION], ids=["v2", "v3"])
def grouped(request, tmp_path, photo):
    """An archive of a FRAM frame then two groups (RGB of 5, grey of 3), written as format 2 and
    as format 3; its low-res frames."""
    path = tmp_path / "g.src"
    rgb, rgb_lows = make_group(photo, 1, 5)
    grey, grey_lows = make_group(photo, 6, 3, "L")
    with ArchiveWriter(path, header(), groups=True, version=request.param) as writer:
        writer.add(FrameRecord("frame_000000", 61, 45, "RGB", CODEC.encode(rgb_lows[0])))
        entries = writer.add_group(rgb)
        writer.add_group(grey)
    assert [e.position for e in entries] == [0, 1, 2, 3, 4]
    assert len({(e.offset, e.length) for e in entries}) == 1
    return path, [rgb_lows[0], *rgb_lows, *grey_lows]


def decode(record: FrameRecord) -> np.ndarray:
    width, height = lowres_size(record.width, record.height)
    if record.group is None:
        return CODEC.decode(record.payload, width, height, record.channels)
    count = len(record.group)
    return CODEC.decode_group(record.payload, width, height, record.channels, count)[
        record.position
    ]


def test_random_access_to_group_frames(grouped):
    path, lows = grouped
    with ArchiveReader(path) as reader:
        assert reader.format_version >= GROUPS_VERSION and not reader.index_recovered
        assert reader.names == [f"frame_{k:06d}" for k in range(9)]
        assert [reader.entry(k).position for k in range(9)] == [0, 0, 1, 2, 3, 4, 0, 1, 2]
        for k in (7, 0, 3, 8):
            assert np.array_equal(decode(reader.read(k)), lows[k])
        three, four = reader.read(3), reader.read("frame_000004")
        assert (three.position, four.position, three.mode) == (2, 3, "RGB")
        assert three.group is four.group and len(three.group) == 5  # one group read, kept
        assert reader.read(0).group is None and reader.read(8).mode == "L"
        assert [decode(r).shape for r in reader][-1] == (23, 31)


def test_a_version_1_reader_refuses_a_grouped_archive_by_name(grouped, monkeypatch):
    path, _ = grouped
    version = struct.unpack_from("<H", path.read_bytes(), 8)[0]
    monkeypatch.setattr(filereader, "FORMAT_VERSION", 1)
    with pytest.raises(
        FormatError, match=f"version {version}; this srcodec reads versions up to 1"
    ):
        ArchiveReader(path)


def test_grouped_archives_are_written_as_version_3_which_version_2_readers_refuse(
    tmp_path, photo, monkeypatch
):
    path = tmp_path / "new.src"
    with ArchiveWriter(path, header(), groups=True) as writer:
        writer.add_group(make_group(photo, 0, 2)[0])
    assert struct.unpack_from("<H", path.read_bytes(), 8)[0] == COMPACT_VERSION == 3
    monkeypatch.setattr(filereader, "FORMAT_VERSION", 2)
    with pytest.raises(FormatError, match="version 3; this srcodec reads versions up to 2"):
        ArchiveReader(path)
    with pytest.raises(SrcodecError, match="as format version 1"):
        ArchiveWriter(tmp_path / "no.src", header(), groups=True, version=1)


def test_archives_without_groups_stay_version_1(tmp_path, photo):
    path = tmp_path / "plain.src"
    _, lows = make_group(photo, 0, 1)
    with ArchiveWriter(path, header()) as writer:
        writer.add(FrameRecord("a", 61, 45, "RGB", CODEC.encode(lows[0])))
        with pytest.raises(SrcodecError, match="groups=True"):
            writer.add_group(make_group(photo, 1, 2)[0])
    assert struct.unpack_from("<H", path.read_bytes(), 8)[0] == 1


def test_writer_refuses_groups_that_cannot_share_a_stream(tmp_path, photo):
    group, _ = make_group(photo, 0, 2)
    bad = [
        ([], "1..4096 frames, not 0"),
        ([group.frames[0], FrameInfo("x", 61, 45, "L")], "'x' is L, the group RGB"),
        ([group.frames[0], FrameInfo("x", 59, 45, "RGB")], "another low-res size"),
        ([group.frames[0], group.frames[0]], "twice"),
    ]
    with ArchiveWriter(tmp_path / "w.src", header(), groups=True) as writer:
        for frames, message in bad:
            with pytest.raises(FrameError, match=message):
                writer.add_group(GroupRecord(frames, group.payload))
        # 61x45 and 62x46 frames share a low-res size (31x23), so they may share a stream.
        writer.add_group(GroupRecord([*group.frames, FrameInfo("y", 62, 46, "RGB")], b"x"))
        with pytest.raises(FrameError, match="duplicate frame name 'frame_000001'"):
            writer.add_group(make_group(photo, 1, 2)[0])
        assert len(writer) == 3


def test_truncation_inside_a_group_loses_that_group_only(grouped, tmp_path):
    path, lows = grouped
    with ArchiveReader(path) as reader:
        grey = reader.entry(6)
    cut = tmp_path / "cut.src"
    cut.write_bytes(path.read_bytes()[: grey.offset + 200])
    with ArchiveReader(cut) as reader:
        assert reader.index_recovered and len(reader) == 6
        assert np.array_equal(decode(reader.read(5)), lows[5])
        (region,) = reader.scan().damaged
        assert region.names == ("frame_000006", "frame_000007", "frame_000008")


def test_damaged_group_payload_names_its_frames(grouped, tmp_path):
    path, lows = grouped
    with ArchiveReader(path) as reader:
        rgb = reader.entry(1)
    raw = bytearray(path.read_bytes())
    raw[rgb.offset + rgb.length] ^= 0xFF  # the last payload byte of the RGB group
    bad = tmp_path / "bad.src"
    bad.write_bytes(bytes(raw))
    with ArchiveReader(bad) as reader:
        assert not reader.index_recovered
        for k in range(1, 6):
            with pytest.raises(CorruptError, match=f"frame_00000{k}.*checksum mismatch"):
                reader.read(k)
        assert np.array_equal(decode(reader.read(0)), lows[0])
        assert np.array_equal(decode(reader.read(7)), lows[7])
        found = reader.scan()
        assert [e.name for e in found.frames] == [
            "frame_000000",
            *(f"frame_00000{k}" for k in (6, 7, 8)),
        ]
        (region,) = found.damaged
        assert region.name == "frame_000001"
        assert region.names == tuple(f"frame_00000{k}" for k in range(1, 6))


def test_a_damaged_group_length_is_salvaged_whole(grouped, tmp_path):
    path, lows = grouped
    with ArchiveReader(path) as reader:
        rgb = reader.entry(1)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, rgb.offset, rgb.length + 999)
    bad = tmp_path / "len.src"
    bad.write_bytes(bytes(raw))
    with ArchiveReader(bad) as reader:
        salvaged = reader.scan().salvaged
        assert [(e.name, e.position) for e in salvaged] == [
            (f"frame_00000{k}", k - 1) for k in range(1, 6)
        ]
        record = reader.read_entry(salvaged[2], trust_length=True)
        assert np.array_equal(decode(record), lows[3])


@pytest.mark.parametrize("version", [GROUPS_VERSION, COMPACT_VERSION])
def test_copy_from_keeps_groups_and_needs_a_grouped_writer(grouped, tmp_path, version):
    # Between versions 2 and 3, groups are re-packed (their frame table's layout differs).
    path, lows = grouped
    with ArchiveReader(path) as reader:
        copy = tmp_path / "copy.src"
        with ArchiveWriter(copy, header(), groups=True, version=version) as writer:
            assert writer.copy_from(reader) == 9
            with pytest.raises(FrameError, match="belongs to a group"):
                writer.add(reader.read(2))
        with ArchiveWriter(tmp_path / "v1.src", header()) as plain:
            with pytest.raises(SrcodecError, match="groups=True"):
                plain.copy_from(reader)
    with ArchiveReader(copy) as reader:
        assert reader.format_version == version and not reader.index_recovered
        assert [reader.entry(k).position for k in range(9)] == [0, 0, 1, 2, 3, 4, 0, 1, 2]
        for record, low in zip(reader, lows, strict=True):
            assert np.array_equal(decode(record), low)
        assert not reader.scan().damaged
