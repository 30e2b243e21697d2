"""The archive file (srcodec.archive: layout, filewriter, filereader, salvage): round trips,
random access, safe writing, damage and truncation."""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pytest

from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.filewriter import ArchiveWriter
from srcodec.archive.layout import (
    FORMAT_VERSION,
    MAGIC,
    MAX_DIMENSION,
    MAX_NAME_BYTES,
    PLAIN_VERSION,
    TRAILER_SIZE,
    FrameNotFoundError,
    FrameRecord,
    Header,
)
from srcodec.errors import CorruptError, FormatError, FrameError, SrcodecError
from srcodec.lowres import get_codec
from srcodec.resample import lowres_size


def make_header(**changes) -> Header:
    fields = dict(
        model_id="edsr_x2_r16f64-0123abcd",
        scale=2,
        codec={"id": "zstd", "level": 3, "filter": "grad", "decorrelate": True},
        created="2024-05-01T12:00:00+00:00",
        srcodec_version="0.1.0",
        extra={"camera": "cam-7", "note": "naïve ✓"},
    )
    fields.update(changes)
    return Header(**fields)


def make_records(count: int = 4) -> list[FrameRecord]:
    """Frames of different sizes and modes, with real zstd payloads of their low-res versions."""
    codec = get_codec({"id": "zstd", "level": 3})
    rng = np.random.default_rng(7)
    records = []
    for i in range(count):
        width, height = 17 + 10 * i, 9 + 3 * i
        mode = "RGB" if i % 2 == 0 else "L"
        lw, lh = lowres_size(width, height)
        shape = (lh, lw, 3) if mode == "RGB" else (lh, lw)
        low = rng.integers(0, 256, shape, dtype=np.uint8)
        name = f"cam0/frame_{i:04d}.png" if i != 2 else "éte/ümlaut ✓.png"
        records.append(FrameRecord(name, width, height, mode, codec.encode(low)))
    return records


def write_archive(path, records, header=None, **kwargs):
    with ArchiveWriter(path, header or make_header(), **kwargs) as writer:
        for record in records:
            writer.add(record)
    return writer


@pytest.fixture
def archive(tmp_path):
    records = make_records()
    path = tmp_path / "clip.src"
    write_archive(path, records)
    return path, records


def assert_same(record: FrameRecord, expected: FrameRecord) -> None:
    assert record == expected
    assert isinstance(record.payload, bytes)


# --- round trip and access -----------------------------------------------------------------------


def test_round_trip(archive):
    path, records = archive
    with ArchiveReader(path) as reader:
        assert reader.header == make_header()
        assert len(reader) == len(records)
        assert reader.names == [r.name for r in records]
        assert not reader.index_recovered and reader.damage is None
        assert reader.file_size == path.stat().st_size
        assert reader.format_version == PLAIN_VERSION  # no groups: readable by version-1 readers
        for got, expected in zip(reader, records, strict=True):
            assert_same(got, expected)
        assert [name for name, _ in reader.records()] == reader.names
        for i, r in enumerate(records):
            entry = reader.entry(i)
            assert entry.name == r.name and entry.payload_size == len(r.payload)
    assert reader.closed
    # The frames are decodable with the codec the header names.
    with ArchiveReader(path) as reader:
        codec = get_codec(reader.header.codec)
        rec = reader.read(0)
        lw, lh = lowres_size(rec.width, rec.height, reader.header.scale)
        assert codec.decode(rec.payload, lw, lh, rec.channels).shape == (lh, lw, 3)


def test_random_access_by_position_and_name(archive):
    path, records = archive
    reader = ArchiveReader(path)  # usable without ``with`` too
    try:
        assert_same(reader.read(3), records[3])
        assert_same(reader.read(-1), records[-1])
        assert_same(reader.read(records[2].name), records[2])
        assert reader.index_of(records[1].name) == 1
        assert records[0].name in reader and "nope" not in reader
        with pytest.raises(FrameNotFoundError, match="'nope'"):
            reader.read("nope")
        with pytest.raises(FrameNotFoundError):
            reader.read(4)
        with pytest.raises(SrcodecError):  # FrameNotFoundError is a SrcodecError and LookupError
            reader.index_of("nope")
        with pytest.raises(TypeError):
            reader.read(1.0)
    finally:
        reader.close()


def test_empty_archive(tmp_path):
    path = tmp_path / "empty.src"
    writer = write_archive(path, [])
    assert writer.bytes_written == path.stat().st_size
    with ArchiveReader(path) as reader:
        assert len(reader) == 0 and reader.names == [] and not reader.index_recovered
        assert list(reader.records()) == []


def test_bytes_written_and_layout_start(archive, tmp_path):
    path, records = archive
    writer = write_archive(tmp_path / "again.src", records)
    assert writer.bytes_written == path.stat().st_size
    raw = path.read_bytes()
    assert raw[:8] == MAGIC == b"\x89SRC\r\n\x1a\n"
    assert struct.unpack_from("<H", raw, 8)[0] == PLAIN_VERSION
    length, ctype = struct.unpack_from("<I4s", raw, 10)
    assert ctype == b"HEAD"
    data = raw[18 : 18 + length]
    assert struct.unpack_from("<I", raw, 18 + length)[0] == zlib.crc32(b"HEAD" + data)
    assert json.loads(data)["model_id"] == "edsr_x2_r16f64-0123abcd"
    assert raw[-TRAILER_SIZE + 4 : -TRAILER_SIZE + 8] == b"TAIL"


# --- safe writing --------------------------------------------------------------------------------


def test_refuses_to_overwrite_without_force(archive):
    path, records = archive
    before = path.read_bytes()
    with pytest.raises(SrcodecError, match="exists; use --force to overwrite"):
        ArchiveWriter(path, make_header())
    assert path.read_bytes() == before
    write_archive(path, records[:1], force=True)
    with ArchiveReader(path) as reader:
        assert reader.names == [records[0].name]
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_exception_inside_with_leaves_nothing(tmp_path):
    path = tmp_path / "clip.src"
    records = make_records(2)
    with pytest.raises(RuntimeError):
        with ArchiveWriter(path, make_header()) as writer:
            writer.add(records[0])
            temp = writer.temp_path
            assert temp.exists() and temp.parent == tmp_path
            assert temp.name.startswith(".clip.src") and temp.name.endswith(".tmp")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_exception_while_overwriting_keeps_the_old_archive(archive):
    path, records = archive
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        with ArchiveWriter(path, make_header(), force=True) as writer:
            writer.add(records[0])
            raise KeyboardInterrupt
    assert path.read_bytes() == before
    assert list(path.parent.iterdir()) == [path]


def test_abort_and_closed_writer(tmp_path):
    path = tmp_path / "clip.src"
    writer = ArchiveWriter(path, make_header())
    writer.add(make_records(1)[0])
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SrcodecError):
        writer.add(make_records(1)[0])


def test_writer_refuses_bad_records(tmp_path):
    path = tmp_path / "clip.src"
    good = make_records(1)[0]
    bad_records = [
        FrameRecord("", 4, 4, "L", b"x"),
        FrameRecord("n" * (MAX_NAME_BYTES + 1), 4, 4, "L", b"x"),
        FrameRecord("a", 0, 4, "L", b"x"),
        FrameRecord("a", MAX_DIMENSION + 1, 4, "L", b"x"),
        FrameRecord("a", 60000, 60000, "RGB", b"x"),  # more than MAX_PIXELS
        FrameRecord("a", 4, 4, "RGBA", b"x"),
        FrameRecord("a", 4, 4, "L", "text"),
        FrameRecord("\ud800", 4, 4, "L", b"x"),
    ]
    with ArchiveWriter(path, make_header()) as writer:
        writer.add(good)
        size = writer.bytes_written
        for record in bad_records:
            with pytest.raises(FrameError):
                writer.add(record)
        with pytest.raises(SrcodecError, match="duplicate"):
            writer.add(good)
        assert writer.bytes_written == size  # nothing was written for the refused records
    with ArchiveReader(path) as reader:
        assert reader.names == [good.name]


def test_writer_refuses_bad_headers(tmp_path):
    for header in (
        make_header(scale=0),
        make_header(codec={"level": 3}),
        make_header(extra={"x": object()}),
        make_header(extra={"x": float("nan")}),
    ):
        with pytest.raises(SrcodecError):
            ArchiveWriter(tmp_path / "clip.src", header)
    assert list(tmp_path.iterdir()) == []


def test_writer_in_missing_directory(tmp_path):
    with pytest.raises(SrcodecError, match="cannot create"):
        ArchiveWriter(tmp_path / "no" / "such" / "clip.src", make_header())


# --- refusing other files ------------------------------------------------------------------------


def test_not_an_archive(tmp_path):
    for content in (b"", b"\x89SR", b"\x89PNG\r\n\x1a\n" + bytes(40), b"hello world" * 10):
        path = tmp_path / "other.bin"
        path.write_bytes(content)
        with pytest.raises(FormatError, match="is not a srcodec archive"):
            ArchiveReader(path)
    with pytest.raises(SrcodecError, match="cannot open"):
        ArchiveReader(tmp_path / "missing.src")


def test_text_mode_mangling_is_detected(archive):
    path, _ = archive
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"\r\n", b"\n"))
    with pytest.raises(FormatError, match="not a srcodec archive"):
        ArchiveReader(path)


def test_newer_version_is_refused(archive):
    path, _ = archive
    raw = bytearray(path.read_bytes())
    struct.pack_into("<H", raw, 8, FORMAT_VERSION + 1)
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=f"version {FORMAT_VERSION + 1}") as info:
        ArchiveReader(path)
    assert f"up to {FORMAT_VERSION}" in str(info.value)
    assert not isinstance(info.value, CorruptError)


def test_damaged_header(archive):
    path, _ = archive
    raw = bytearray(path.read_bytes())
    raw[25] ^= 0x20  # inside the HEAD JSON
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptError, match="header"):
        ArchiveReader(path)
    path.write_bytes(bytes(raw[:14]))
    with pytest.raises(CorruptError, match="header"):
        ArchiveReader(path)


def test_header_with_wrong_types_is_corrupt(tmp_path):
    data = json.dumps(
        {"model_id": 1, "scale": 2, "codec": {}, "created": "", "srcodec_version": ""}
    )
    payload = data.encode()
    raw = MAGIC + struct.pack("<H", 1)
    raw += struct.pack("<I4s", len(payload), b"HEAD") + payload
    raw += struct.pack("<I", zlib.crc32(b"HEAD" + payload))
    path = tmp_path / "bad.src"
    path.write_bytes(raw)
    with pytest.raises(CorruptError, match="model_id"):
        ArchiveReader(path)


# --- damage and truncation -----------------------------------------------------------------------


def test_flipped_byte_in_one_frame(archive):
    path, records = archive
    with ArchiveReader(path) as reader:
        entry = reader.entry(1)
    raw = bytearray(path.read_bytes())
    raw[entry.offset + entry.chunk_size - 10] ^= 0xFF  # inside frame 1's payload
    path.write_bytes(bytes(raw))
    with ArchiveReader(path) as reader:
        assert not reader.index_recovered
        with pytest.raises(CorruptError, match=f"{records[1].name!r}") as info:
            reader.read(1)
        assert str(path) in str(info.value) and "checksum" in str(info.value)
        for i in (0, 2, 3):
            assert_same(reader.read(i), records[i])
        results = list(reader.records())
        assert [name for name, _ in results] == [r.name for r in records]
        assert isinstance(results[1][1], CorruptError)
        assert all(isinstance(results[i][1], FrameRecord) for i in (0, 2, 3))
        with pytest.raises(CorruptError):
            list(reader)


def test_damaged_frame_length_is_caught(archive):
    path, records = archive
    with ArchiveReader(path) as reader:
        entry = reader.entry(2)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, entry.offset, 0xFFFFFF00)
    path.write_bytes(bytes(raw))
    with ArchiveReader(path) as reader:
        with pytest.raises(CorruptError, match=repr(records[2].name)):
            reader.read(records[2].name)
        assert_same(reader.read(3), records[3])


def _truncation_points(path):
    """Offsets inside the last frame, inside the index, and inside the trailer."""
    size = path.stat().st_size
    with ArchiveReader(path) as reader:
        last = reader.entry(-1)
    index_start = last.offset + last.chunk_size
    return {
        "last-frame-header": last.offset + 3,
        "last-frame-payload": last.offset + last.chunk_size // 2,
        "last-frame-crc": last.offset + last.chunk_size - 1,
        "index-start": index_start,
        "index-middle": (index_start + size - TRAILER_SIZE) // 2,
        "trailer-start": size - TRAILER_SIZE,
        "trailer-middle": size - TRAILER_SIZE // 2,
        "trailer-last-byte": size - 1,
    }


@pytest.mark.parametrize(
    "where",
    [
        "last-frame-header",
        "last-frame-payload",
        "last-frame-crc",
        "index-start",
        "index-middle",
        "trailer-start",
        "trailer-middle",
        "trailer-last-byte",
    ],
)
def test_truncation_keeps_intact_frames(archive, where):
    path, records = archive
    cut = _truncation_points(path)[where]
    path.write_bytes(path.read_bytes()[:cut])
    with ArchiveReader(path) as reader:
        assert reader.index_recovered
        assert reader.damage
        expected = records if not where.startswith("last-frame") else records[:-1]
        assert reader.names == [r.name for r in expected]
        for i, record in enumerate(expected):
            assert_same(reader.read(i), record)
            assert_same(reader.read(record.name), record)
        assert reader.header == make_header()


def test_scan_resynchronises_after_a_damaged_frame(archive):
    path, records = archive
    with ArchiveReader(path) as reader:
        entry = reader.entry(2)
    raw = bytearray(path.read_bytes()[:-5])
    raw[entry.offset + entry.chunk_size - 10] ^= 0x01
    path.write_bytes(bytes(raw))
    with ArchiveReader(path) as reader:
        assert reader.index_recovered and "checksum" in reader.damage
        # Only the damaged frame is lost: the scan finds the next chunk and goes on.
        assert reader.names == [records[i].name for i in (0, 1, 3)]
        assert_same(reader.read(records[3].name), records[3])
        found = reader.scan()
        assert [d.name for d in found.damaged][0] == records[2].name


def test_every_truncation_is_handled(archive):
    path, records = archive
    raw = path.read_bytes()
    head_end = 18 + struct.unpack_from("<I", raw, 10)[0] + 4
    for cut in range(0, len(raw), 7):
        path.write_bytes(raw[:cut])
        if cut < head_end:
            with pytest.raises(FormatError):
                ArchiveReader(path)
            continue
        with ArchiveReader(path) as reader:
            assert reader.names == [r.name for r in records[: len(reader)]]
            for i in range(len(reader)):
                assert_same(reader.read(i), records[i])


def test_damaged_trailer_or_index_falls_back_to_scan(archive):
    path, records = archive
    raw = path.read_bytes()
    for pos in (len(raw) - 6, len(raw) - TRAILER_SIZE - 6):  # trailer data, index data
        damaged = bytearray(raw)
        damaged[pos] ^= 0x40
        path.write_bytes(bytes(damaged))
        with ArchiveReader(path) as reader:
            assert reader.index_recovered and "index unusable" in reader.damage
            assert reader.names == [r.name for r in records]


def test_unknown_chunks_are_skipped(archive):
    path, records = archive
    raw = path.read_bytes()
    with ArchiveReader(path) as reader:
        at = reader.entry(1).offset
    extra = b"future data"
    chunk = struct.pack("<I4s", len(extra), b"xTRA") + extra
    chunk += struct.pack("<I", zlib.crc32(b"xTRA" + extra))
    # Inserting shifts the offsets, so the index is stale: the scan must skip the new chunk.
    path.write_bytes(raw[:at] + chunk + raw[at:])
    with ArchiveReader(path) as reader:
        assert reader.names == [r.name for r in records]
        for i, record in enumerate(records):
            assert_same(reader.read(i), record)


def test_reader_never_allocates_beyond_the_file(archive):
    path, _ = archive
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, 10, 0xFFFFFFF0)  # HEAD claims 4 GiB
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptError, match="header"):
        ArchiveReader(path)


def test_index_count_bomb_is_refused(archive):
    path, records = archive
    raw = bytearray(path.read_bytes())
    index_offset, _ = struct.unpack_from("<QI", raw, len(raw) - TRAILER_SIZE + 8)
    # Claim 2**32-1 frames in both the trailer and the index, with valid CRCs.
    struct.pack_into("<I", raw, index_offset + 8, 0xFFFFFFFF)
    length = struct.unpack_from("<I", raw, index_offset)[0]
    body = bytes(raw[index_offset + 4 : index_offset + 8 + length])
    struct.pack_into("<I", raw, index_offset + 8 + length, zlib.crc32(body))
    tail = len(raw) - TRAILER_SIZE
    struct.pack_into("<I", raw, tail + 16, 0xFFFFFFFF)
    struct.pack_into("<I", raw, tail + 20, zlib.crc32(bytes(raw[tail + 4 : tail + 20])))
    path.write_bytes(bytes(raw))
    with ArchiveReader(path) as reader:
        assert reader.index_recovered and "too short" in reader.damage
        assert reader.names == [r.name for r in records]


def test_reader_closes_file_on_error(archive, monkeypatch):
    path, _ = archive
    opened = []
    real_open = open

    def tracking_open(*args, **kwargs):
        fh = real_open(*args, **kwargs)
        opened.append(fh)
        return fh

    path.write_bytes(b"not an archive at all")
    monkeypatch.setattr("builtins.open", tracking_open)
    with pytest.raises(FormatError):
        ArchiveReader(path)
    assert opened and all(fh.closed for fh in opened)
    assert os.path.exists(path)
