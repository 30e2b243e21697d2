"""Format version 4 (issue 23): a lossy stream's payload is compact (docs/format.md, 9.7b), so
that a small lossy archive is not a few per cent its own bookkeeping, while archives written
before keep decoding and appending to them keeps them readable by the srcodec that wrote them."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import srcodec
import srcodec.archive.filereader as filereader
from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.filewriter import ArchiveWriter
from srcodec.archive.layout import COMPACT_VERSION, PAYLOAD_VERSION
from srcodec.archive.lossywriter import Candidate, encode_lossy
from srcodec.archive.writer import append
from srcodec.engines.identity import IDENTITY_MODEL
from srcodec.errors import CorruptError, SrcodecError
from srcodec.lowres.base import pack_uleb, unpack_uleb
from srcodec.lowres.lossy import Av1Codec, HevcCodec
from srcodec.lowres.stream import CHECK_SPAN

DATA = Path(__file__).resolve().parent.parent / "data"
V3_LOSSY = DATA / "v3_lossy.src"  # written by srcodec at 8160945 (tests/data/make_v3_lossy.py)
BASE = [Candidate("base", 1, IDENTITY_MODEL)]


@pytest.fixture(scope="module")
def clip(photo) -> list[np.ndarray]:
    """Twenty 96x64 frames of a real photo panning."""
    return [np.ascontiguousarray(photo[100:164, 50 + 2 * k : 146 + 2 * k]) for k in range(20)]


def version_of(path: Path) -> int:
    return struct.unpack_from("<H", path.read_bytes(), 8)[0]


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**32 - 1])
def test_leb128_round_trips_in_as_few_bytes_as_it_needs(value):
    data = pack_uleb(value)
    assert len(data) == max(1, -(-value.bit_length() // 7))
    assert unpack_uleb("t", b"x" + data + b"y", 1) == (value, 1 + len(data))


def test_leb128_cut_off_or_too_long_is_damage():
    with pytest.raises(CorruptError, match="cut off"):
        unpack_uleb("t", b"\x80\x80", 0)
    with pytest.raises(CorruptError, match="more than"):
        unpack_uleb("t", b"\x80" * 6 + b"\x01", 0)


@pytest.mark.parametrize("codec", [Av1Codec(crf=50, preset=10), HevcCodec(crf=36)])
def test_compact_payloads_decode_as_the_old_layout_and_save_bytes_a_frame(codec, clip):
    """The same stream in both layouts decodes to the same checked frames; the compact one
    saves the u32 lengths and per-frame CRCs (and AV1's temporal delimiters): at least 6 bytes
    a frame (measured on this clip: AV1 8.8, HEVC 6.6)."""
    compact = codec.encode_group(clip)
    codec.compact = False
    try:
        old = codec.encode_group(clip)
    finally:
        codec.compact = True
    assert compact[0] == 2 and old[0] == 1
    assert len(old) - len(compact) >= 6 * len(clip)
    a = codec.decode_group(compact, 96, 64, 3, len(clip))
    b = codec.decode_group(old, 96, 64, 3, len(clip))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_av1_compact_payload_stores_no_temporal_delimiters(clip):
    codec = Av1Codec(crf=50, preset=10)
    _, packets = codec._encode_stream(clip)
    assert all(p.startswith(b"\x12\x00") for p in packets)
    data = codec.encode_group(clip)
    assert data.count(b"\x12\x00") < len(packets) // 2  # not one a packet any more


def test_a_seek_decodes_to_the_end_of_its_checksum_span_only(clip):
    """Frame k is checked by its span's CRC: damage to a later span's CRC does not stop it,
    damage to its own does (never wrong pixels)."""
    codec = Av1Codec(crf=50, preset=10)
    data = bytearray(codec.encode_group(clip))
    whole = codec.decode_group(bytes(data), 96, 64, 3, len(clip))
    spans = -(-len(clip) // CHECK_SPAN)
    crcs = 3  # version, count (20), span (8): one byte each
    assert struct.unpack_from(f"<{spans}I", data, crcs) == tuple(
        zlib.crc32(b"".join(f.tobytes() for f in whole[k : k + CHECK_SPAN]))
        for k in range(0, len(clip), CHECK_SPAN)
    )
    data[crcs + 4 * (spans - 1)] ^= 1  # the last span's CRC
    seek = codec.decode_group(bytes(data), 96, 64, 3, len(clip), upto=3)
    assert len(seek) == 4
    assert all(np.array_equal(a, b) for a, b in zip(seek, whole[:4], strict=True))
    with pytest.raises(CorruptError, match=r"frames #16-#19 fail their pixel checksum"):
        codec.decode_group(bytes(data), 96, 64, 3, len(clip))
    data[crcs] ^= 1  # the first span's CRC
    with pytest.raises(CorruptError, match=r"frames #0-#7 fail their pixel checksum"):
        codec.decode_group(bytes(data), 96, 64, 3, len(clip), upto=3)


def test_new_lossy_archives_are_version_4_and_older_readers_refuse_them_by_number(
    clip, tmp_path, monkeypatch
):
    out = tmp_path / "a.src"
    encode_lossy([(f"f{k:03d}", f) for k, f in enumerate(clip)], out, quality=40,
                 candidates=BASE)  # fmt: skip
    assert version_of(out) == PAYLOAD_VERSION == 4
    with srcodec.open(out) as archive:
        assert len([f for _, f in archive.frames()]) == len(clip)
    monkeypatch.setattr(filereader, "FORMAT_VERSION", COMPACT_VERSION)
    with pytest.raises(srcodec.errors.FormatError, match="version 4"):
        ArchiveReader(out)


def test_lossless_footage_stays_version_3(sample_frames, tmp_path):
    out = tmp_path / "f.src"
    srcodec.encode(sample_frames[:2], out, codec="x264")
    assert version_of(out) == COMPACT_VERSION


def test_a_version_3_lossy_archive_decodes_and_an_append_keeps_it_version_3(
    clip, tmp_path, monkeypatch
):
    """The archive written by the previous release reads as before; frames appended to it are
    written in the old payload layout, so that release still reads the whole archive."""
    with srcodec.open(V3_LOSSY) as archive:
        old = [f for _, f in archive.frames()]
        assert len(old) == 10 and archive[7].shape == (48, 64, 3)
        assert np.array_equal(archive[7], old[7])
    path = tmp_path / "v3.src"
    shutil.copy(V3_LOSSY, path)
    append([(f"new_{k}", np.ascontiguousarray(f[:48, :64])) for k, f in enumerate(clip[:9])], path)
    assert version_of(path) == COMPACT_VERSION
    monkeypatch.setattr(filereader, "FORMAT_VERSION", COMPACT_VERSION)
    with srcodec.open(path) as archive:
        frames = [f for _, f in archive.frames()]
    assert len(frames) == 19 and all(
        np.array_equal(a, b) for a, b in zip(frames, old, strict=False)
    )


def test_groups_of_a_version_4_archive_are_not_copied_into_an_older_one(clip, tmp_path):
    src = tmp_path / "a.src"
    encode_lossy([(f"f{k:03d}", f) for k, f in enumerate(clip[:4])], src, quality=40,
                 candidates=BASE)  # fmt: skip
    with ArchiveReader(src) as reader, pytest.raises(SrcodecError, match="cannot be copied"):
        with ArchiveWriter(tmp_path / "b.src", reader.header, groups=True, version=3) as writer:
            writer.copy_from(reader)
    assert not (tmp_path / "b.src").exists()
