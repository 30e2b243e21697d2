"""Reliability: verify, recover, append, hostile names, weights safety, atomic writes, bombs,
and fuzzing of the reader. Archives are built by ArchiveWriter or, to craft what the writer
refuses, by ``raw_archive``: a second writer written from docs/format.md alone.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from collections import Counter
from datetime import timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import srcodec
from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.filewriter import ArchiveWriter
from srcodec.archive.layout import TRAILER_SIZE, FrameRecord, Header
from srcodec.cli import main
from srcodec.errors import CorruptError, FormatError, FrameError, ModelError, SrcodecError
from srcodec.lowres import get_codec
from srcodec.names import output_name_problem, safe_output_name
from srcodec.resample import downscale, lowres_size

# --- building archives -------------------------------------------------------------------------

MAGIC = b"\x89SRC\r\n\x1a\n"
HEADER = {
    "model_id": "tiny@" + "0" * 64,
    "scale": 2,
    "codec": {"id": "zstd", "level": 3, "filter": "grad", "decorrelate": True},
    "created": "2024-05-01T12:00:00+00:00",
    "srcodec_version": "test",
}


def chunk(ctype: bytes, data: bytes) -> bytes:
    return (
        struct.pack("<I4s", len(data), ctype) + data + struct.pack("<I", zlib.crc32(ctype + data))
    )


def fram_data(name: bytes, width: int, height: int, code: int, payload: bytes) -> bytes:
    return struct.pack("<H", len(name)) + name + struct.pack("<IIB", width, height, code) + payload


def raw_archive(header, frames, index_names=None) -> bytes:
    """An archive from the spec: ``frames`` are (name bytes, width, height, mode code, payload);
    ``index_names`` (default: every frame's) are the names the INDX lists, at the frames'
    offsets in order."""
    head = header if isinstance(header, bytes) else json.dumps(header, sort_keys=True).encode()
    out = MAGIC + struct.pack("<H", 1) + chunk(b"HEAD", head)
    entries = []
    for name, width, height, code, payload in frames:
        data = fram_data(name, width, height, code, payload)
        entries.append((len(out), len(data), name))
        out += chunk(b"FRAM", data)
    if index_names is not None:
        entries = [(o, n, name) for (o, n, _), name in zip(entries, index_names, strict=False)]
    index_offset = len(out)
    index = struct.pack("<I", len(entries))
    for offset, length, name in entries:
        index += struct.pack("<QIH", offset, length, len(name)) + name
    out += chunk(b"INDX", index)
    return out + chunk(b"TAIL", struct.pack("<QI", index_offset, len(entries)))


def small_frames(count: int = 6, seed: int = 1) -> list[tuple[str, np.ndarray]]:
    """Crops of a real photograph, RGB and grayscale, odd and even sizes."""
    import skimage.data

    photo = skimage.data.astronaut()
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        y, x = rng.integers(0, 400, 2)
        crop = photo[y : y + 15 + i, x : x + 22 + 2 * i]
        out.append((f"frame_{i:02d}.png", crop[:, :, 1] if i % 3 == 2 else crop))
    return out


def records_for(frames, codec_config) -> list[FrameRecord]:
    codec = get_codec(codec_config)
    return [
        FrameRecord(
            name,
            a.shape[1],
            a.shape[0],
            "L" if a.ndim == 2 else "RGB",
            codec.encode(downscale(a)),
        )
        for name, a in frames
    ]


CODECS = [
    {"id": "zstd", "level": 3, "filter": "grad", "decorrelate": True},
    {"id": "png", "level": 6},
]


@pytest.fixture(params=CODECS, ids=["zstd", "png"])
def archive(request, tmp_path):
    """An archive of six small real frames, with its records."""
    header = Header(**{**HEADER, "codec": request.param})
    records = records_for(small_frames(), request.param)
    path = tmp_path / "a.src"
    with ArchiveWriter(path, header) as writer:
        for r in records:
            writer.add(r)
    return path, records


def spans(path: Path) -> list[tuple[int, int]]:
    """(offset, end) of every frame chunk, in order."""
    with ArchiveReader(path) as reader:
        return [(e.offset, e.offset + e.chunk_size) for e in map(reader.entry, range(len(reader)))]


def read_all(path: Path) -> dict[str, FrameRecord]:
    with ArchiveReader(path) as reader:
        return {r.name: r for r in reader}


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


# --- verify ------------------------------------------------------------------------------------


def test_verify_intact_archive(archive):
    path, records = archive
    report = srcodec.verify(path)
    assert report.ok and report.index_ok and report.frames == len(records)
    assert report.intact == [r.name for r in records] and not report.damaged
    r = invoke("verify", path)
    assert r.exit_code == 0 and "intact: 6 of 6" in r.output
    d = json.loads(invoke("verify", path, "--json").output)
    assert d["ok"] is True and d["damaged"] == [] and d["index_ok"] is True


def test_verify_names_a_damaged_frame(archive):
    path, records = archive
    offset, end = spans(path)[3]
    raw = bytearray(path.read_bytes())
    raw[(offset + end) // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    report = srcodec.verify(path)
    assert not report.ok and report.index_ok
    assert [n for n, _ in report.damaged] == [records[3].name]
    assert "checksum" in report.damaged[0][1] and len(report.intact) == 5
    assert report.damaged_regions[0].name == records[3].name
    r = invoke("verify", path, "--json")
    assert r.exit_code == 3 and json.loads(r.output)["damaged"][0]["name"] == records[3].name


def test_verify_reports_an_unusable_index(archive):
    path, records = archive
    raw = bytearray(path.read_bytes())
    raw[-TRAILER_SIZE - 6] ^= 0x01  # inside the INDX chunk
    path.write_bytes(bytes(raw))
    report = srcodec.verify(path)
    assert not report.ok and not report.index_ok and "index unusable" in report.index_problem
    assert report.intact == [r.name for r in records] and not report.damaged
    r = invoke("verify", path)
    assert r.exit_code == 3 and "index unusable" in r.output


def test_verify_compares_the_index_with_the_chunks(tmp_path):
    codec = get_codec(HEADER["codec"])
    payload = codec.encode(np.zeros((3, 4, 3), np.uint8))
    frames = [(f"f{i}".encode(), 8, 6, 3, payload) for i in range(3)]
    path = tmp_path / "a.src"
    # The index lists f0 and a "ghost" at f1's offset, and omits f2.
    path.write_bytes(raw_archive(HEADER, frames, index_names=[b"f0", b"ghost"]))
    report = srcodec.verify(path)
    assert report.index_ok and not report.ok
    assert report.not_in_index == ["f1", "f2"] and report.not_found_by_scan == ["ghost"]
    assert [n for n, _ in report.damaged] == ["ghost"]
    fixed = srcodec.recover(path, tmp_path / "fixed.src")
    assert fixed.recovered == ["f0", "f1", "f2"] and [n for n, _ in fixed.lost] == ["ghost"]
    assert srcodec.verify(tmp_path / "fixed.src").ok


def test_verify_decodes_payloads(tmp_path):
    good = get_codec(HEADER["codec"]).encode(np.zeros((3, 4, 3), np.uint8))
    frames = [(b"good", 8, 6, 3, good), (b"bad", 8, 6, 3, b"not zstd"), (b"size", 10, 6, 3, good)]
    path = tmp_path / "a.src"
    path.write_bytes(raw_archive(HEADER, frames))
    report = srcodec.verify(path)
    assert report.intact == ["good"] and [n for n, _ in report.damaged] == ["bad", "size"]
    assert all("payload" in why for _, why in report.damaged)


def test_verify_refuses_what_it_cannot_read(tmp_path):
    junk = tmp_path / "junk.src"
    junk.write_bytes(b"hello")
    with pytest.raises(FormatError, match="junk.src"):
        srcodec.verify(junk)
    r = invoke("verify", junk)
    assert r.exit_code == 1 and r.output.count("\n") == 1
    path = tmp_path / "a.src"
    path.write_bytes(raw_archive({**HEADER, "codec": {"id": "nosuch"}}, []))
    with pytest.raises(FormatError, match="nosuch"):
        srcodec.verify(path)


# --- recover -----------------------------------------------------------------------------------


def check_recovery(path: Path, records, expect_kept, out: Path) -> srcodec.RecoverReport:
    """Recover ``path``; every frame in ``expect_kept`` must come back bit-identical, nothing
    else may come back changed, and every frame not recovered is named or its bytes reported."""
    report = srcodec.recover(path, out, force=True)
    got = read_all(out)
    originals = {r.name: r for r in records}
    assert set(expect_kept) <= set(got), (set(expect_kept) - set(got), report)
    for name, record in got.items():
        assert record == originals[name]
    assert list(got) == [r.name for r in records if r.name in got]  # archive order kept
    assert srcodec.verify(out).ok
    lost = {name for name, _ in report.lost}
    for r in records:
        if r.name not in got and r.name not in lost:
            assert report.unnamed_damage or report.index_problem, (r.name, report)
    assert not lost & set(got)
    return report


def test_recover_an_intact_archive_is_a_byte_identical_copy(archive, tmp_path):
    path, records = archive
    report = srcodec.recover(path, tmp_path / "copy.src")
    assert report.recovered == [r.name for r in records] and not report.lost
    assert (tmp_path / "copy.src").read_bytes() == path.read_bytes()


def test_recover_truncation_at_every_record_boundary(archive, tmp_path):
    path, records = archive
    raw = path.read_bytes()
    frame_spans = spans(path)
    boundaries = sorted({b for span in frame_spans for b in span} | {len(raw) - TRAILER_SIZE})
    points = {b + d for b in boundaries for d in (-1, 0, 1, 9)} | {len(raw) - 1}
    rng = np.random.default_rng(3)
    points |= set(rng.integers(frame_spans[0][0], len(raw), 40).tolist())
    cuts = sorted(p for p in points if p >= frame_spans[0][0])  # HEAD whole
    recovered = 0
    for cut in cuts:
        path.write_bytes(raw[:cut])
        kept = [r.name for r, (_, end) in zip(records, frame_spans, strict=True) if end <= cut]
        report = check_recovery(path, records, kept, tmp_path / "out.src")
        assert report.recovered == kept
        recovered += len(kept)
        named = {name for name, _ in report.lost}
        for r, (offset, end) in zip(records, frame_spans, strict=True):
            if offset + 10 + len(r.name.encode()) <= cut < end:
                assert r.name in named  # a frame cut after its name is named as lost
    print(f"\ntruncation: {len(cuts)} cut points, {recovered} frames recovered bit-identical")


def test_recover_random_byte_flips(archive, tmp_path):
    path, records = archive
    raw = path.read_bytes()
    frame_spans = spans(path)
    head_end = frame_spans[0][0]
    rng = np.random.default_rng(11)
    trials = recovered = lost = 0
    for _ in range(150):
        damaged = bytearray(raw)
        hits = rng.integers(head_end, len(raw), rng.integers(1, 4))
        for pos in hits:
            damaged[pos] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(damaged))
        # A frame is intact if no byte of its chunk changed, or only its length field did.
        kept = [
            r.name
            for r, (o, e) in zip(records, frame_spans, strict=True)
            if not any(o + 4 <= p < e for p in hits)
        ]
        untouched = [
            r.name
            for r, (o, e) in zip(records, frame_spans, strict=True)
            if not any(o <= p < e for p in hits)
        ]
        report = check_recovery(path, records, untouched, tmp_path / "out.src")
        assert set(report.recovered) <= set(kept)
        trials += 1
        recovered += len(report.recovered)
        lost += len(records) - len(report.recovered)
    assert trials == 150
    print(f"\nflips: {trials} damaged archives, {recovered} frames recovered, {lost} lost")


def test_frames_after_damage_are_recovered_without_the_index(archive, tmp_path):
    path, records = archive
    frame_spans = spans(path)
    raw = bytearray(path.read_bytes()[: frame_spans[-1][1] + 5])  # no index, no trailer
    raw[frame_spans[1][0] + 40] ^= 0xFF  # frame 1 damaged (its payload)
    struct.pack_into("<I", raw, frame_spans[3][0], 0x00FFFFFF)  # frame 3's length field
    path.write_bytes(bytes(raw))
    with ArchiveReader(path) as reader:
        # The reader's own scan resynchronises past both; frame 3 needs recovery's salvage.
        assert reader.names == [records[i].name for i in (0, 2, 4, 5)]
    report = check_recovery(
        path, records, [r.name for r in records if r != records[1]], tmp_path / "o.src"
    )
    assert [n for n, _ in report.lost] == [records[1].name]


def test_recover_cli(archive, tmp_path):
    path, records = archive
    offset, end = spans(path)[0]
    raw = bytearray(path.read_bytes())
    raw[end - 2] ^= 1
    path.write_bytes(bytes(raw))
    out = tmp_path / "fixed.src"
    r = invoke("recover", path, "-o", out)
    assert r.exit_code == 3 and f"lost {records[0].name}" in r.output and "5 frames" in r.output
    r = invoke("recover", path, "-o", out)
    assert r.exit_code == 1 and "exists" in r.output
    r = invoke("recover", path, "-o", out, "--force", "--json")
    assert json.loads(r.output)["lost"][0]["name"] == records[0].name
    assert invoke("verify", out).exit_code == 0


# --- append ------------------------------------------------------------------------------------


@pytest.fixture
def encoded(tmp_path, tiny_weights):
    frames = small_frames(5, seed=4)
    path = tmp_path / "a.src"
    srcodec.encode(frames[:3], path, weights=[tiny_weights], codec={"id": "png", "level": 1})
    return path, frames


def test_append_keeps_old_chunks_verbatim(encoded, tiny_weights):
    path, frames = encoded
    old = path.read_bytes()
    with ArchiveReader(path) as reader:
        old_header, old_records = reader.raw_header, list(reader)
        frames_end = reader.entry(-1).offset + reader.entry(-1).chunk_size
    os.chmod(path, 0o640)
    s = srcodec.append(frames[3:], path)
    assert s.frames == 2 and s.archive_bytes == path.stat().st_size
    assert path.read_bytes()[:frames_end] == old[:frames_end]
    assert (path.stat().st_mode & 0o777) == 0o640
    with ArchiveReader(path) as reader:
        assert reader.raw_header == old_header and not reader.index_recovered
        assert reader.names == [n for n, _ in frames]
        assert list(reader)[:3] == old_records
    assert srcodec.verify(path).ok
    # The new frames use the archive's codec and restore like the old ones.
    a = dict(srcodec.decode(path, bicubic=True))
    assert a[frames[4][0]].shape == frames[4][1].shape


def test_append_refusals_leave_the_archive_untouched(encoded, tiny_weights, tmp_path):
    path, frames = encoded
    old = path.read_bytes()
    with pytest.raises(FrameError, match="already in"):
        srcodec.append([frames[1]], path)
    with pytest.raises(FrameError, match="would both restore"):
        srcodec.append([("frame_00.jpg", frames[0][1])], path)
    with pytest.raises(SrcodecError, match="uses codec"):
        srcodec.append(frames[3:], path, codec="zstd")
    with pytest.raises(SrcodecError, match="uses codec"):
        srcodec.append(frames[3:], path, codec={"id": "png", "level": 9})
    srcodec.append(frames[3:4], path, codec={"id": "png"})  # matches: allowed
    old = path.read_bytes()
    import torch

    from srcodec.models.edsr import EDSR, EDSRConfig
    from srcodec.models.store import save_model

    other = tmp_path / "other.safetensors"
    torch.manual_seed(9)
    save_model(EDSR(EDSRConfig(blocks=1, features=8)), other, "other-x2")
    with pytest.raises(SrcodecError, match="is for model tiny-test-x2@"):
        srcodec.append(frames[4:], path, weights=[other])
    assert path.read_bytes() == old
    damaged = bytearray(old)
    damaged[-3] ^= 1
    path.write_bytes(bytes(damaged))
    with pytest.raises(CorruptError, match="recover"):
        srcodec.append(frames[4:], path)
    assert path.read_bytes() == bytes(damaged)
    assert sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")) == []


@pytest.mark.parametrize("crash", [RuntimeError, KeyboardInterrupt])
def test_a_crash_during_append_loses_nothing(encoded, monkeypatch, crash):
    path, frames = encoded
    old, inode = path.read_bytes(), path.stat().st_ino
    calls = []
    real = get_codec({"id": "png"}).__class__.encode

    def flaky(self, frame):
        calls.append(1)
        if len(calls) == 2:
            raise crash("power cut")
        return real(self, frame)

    monkeypatch.setattr("srcodec.lowres.PngCodec.encode", flaky)
    with pytest.raises(crash):
        srcodec.append(frames[3:], path)
    assert path.read_bytes() == old and path.stat().st_ino == inode
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_append_never_opens_the_archive_for_writing(encoded, monkeypatch):
    path, frames = encoded
    real_open = open
    modes = []

    def spy(file, mode="r", *args, **kwargs):
        if Path(file) == path:
            modes.append(mode)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    srcodec.append(frames[3:], path)
    assert modes and all(m == "rb" for m in modes)


def test_append_refuses_an_archive_changed_meanwhile(encoded, monkeypatch):
    path, frames = encoded
    real = ArchiveWriter.copy_from

    def racing(self, reader):
        n = real(self, reader)
        path.write_bytes(path.read_bytes())  # another writer replaced it meanwhile
        os.utime(path, ns=(1, 1))
        return n

    monkeypatch.setattr(ArchiveWriter, "copy_from", racing)
    before = path.read_bytes()
    with pytest.raises(SrcodecError, match="changed during the append"):
        srcodec.append(frames[3:], path)
    assert path.read_bytes() == before


def test_append_keeps_chunks_of_unknown_types(tmp_path):
    codec = get_codec(HEADER["codec"])
    payload = codec.encode(np.zeros((3, 4, 3), np.uint8))
    base = raw_archive(HEADER, [(b"f0", 8, 6, 3, payload)])
    at = chunk_starts(base)[2]  # where INDX starts: put a chunk of a future type there
    data = base[:at] + chunk(b"xTRA", b"future")
    entry = struct.pack("<QIH", chunk_starts(base)[1], at - chunk_starts(base)[1] - 12, 2)
    index = struct.pack("<I", 1) + entry + b"f0"
    data += chunk(b"INDX", index) + chunk(b"TAIL", struct.pack("<QI", len(data), 1))
    path = tmp_path / "a.src"
    path.write_bytes(data)
    assert srcodec.verify(path).ok
    srcodec.append([("f1.png", np.zeros((6, 8, 3), np.uint8))], path)
    report = srcodec.verify(path)
    assert report.ok and report.intact == ["f0", "f1.png"] and report.other_chunks == ["xTRA"]


def test_append_cli(encoded, tmp_path, tiny_weights):
    path, frames = encoded
    folder = tmp_path / "more"
    folder.mkdir()
    Image.fromarray(frames[3][1]).save(folder / "new.png")
    r = invoke("encode", "--append", folder, "-o", path, "-q")
    assert r.exit_code == 0 and "appended 1 frame," in r.output
    r = invoke("encode", "--append", folder, "-o", path, "-q")
    assert r.exit_code == 1 and "'new.png' is already in" in r.output
    r = invoke("encode", "--append", "--force", folder, "-o", path)
    assert r.exit_code == 1 and "do not go together" in r.output
    r = invoke("encode", "--append", folder, "-o", tmp_path / "none.src")
    assert r.exit_code == 1 and "no such archive" in r.output


# --- names are data, not paths -----------------------------------------------------------------

BAD_NAMES = [
    "../escape.png",
    "../../etc/passwd",
    "/tmp/abs.png",
    "sub/dir.png",
    "back\\slash.png",
    "nul\x00byte.png",
    "new\nline.png",
    "\x1b[31mred.png",
    "..",
    ".",
    "...",
    "..png",
    "right\u202egnp.exe",
    "x" * 300,
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_names_are_refused(name):
    assert output_name_problem(name)
    with pytest.raises(CorruptError, match="refusing"):
        safe_output_name(name)


@pytest.mark.parametrize("name", ["frame 1.png", "été ✓.jpg", "a..b.png", ".hidden.png", "x"])
def test_plain_names_are_kept(name):
    assert output_name_problem(name) is None
    assert "/" not in safe_output_name(name)


def test_crafted_names_never_escape_the_output_folder(tmp_path):
    codec = get_codec(HEADER["codec"])
    payload = codec.encode(np.full((3, 4, 3), 90, np.uint8))
    names = ["ok1.png", *BAD_NAMES, "OK1.PNG", "ok2.png"]
    frames = [(n.encode("utf-8", "surrogatepass"), 8, 6, 3, payload) for n in names]
    path = tmp_path / "work" / "evil.src"
    path.parent.mkdir()
    path.write_bytes(raw_archive(HEADER, frames))
    out = tmp_path / "work" / "out"
    s = srcodec.decode_to_folder(path, out, bicubic=True)
    assert s.written == ["ok1.png", "ok2.png"]
    assert [n for n, _ in s.damaged] == [*BAD_NAMES, "OK1.PNG"]
    assert sorted(p.name for p in out.iterdir()) == ["ok1.png", "ok2.png"]
    everything = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert everything == [
        "work",
        "work/evil.src",
        "work/out",
        "work/out/ok1.png",
        "work/out/ok2.png",
    ]
    r = invoke("decode", path, "-o", tmp_path / "cli", "--bicubic", "-q")
    assert r.exit_code == 3 and "\x1b" not in r.output and "\\x1b" in r.output
    assert srcodec.verify(path).damaged[0][0] == BAD_NAMES[0]


def test_encode_refuses_names_it_could_not_decode(tmp_path, tiny_weights):
    frame = np.zeros((8, 8, 3), np.uint8)
    for name in ("../x.png", "a/b.png", "tab\t.png"):
        with pytest.raises(FrameError, match="frame name"):
            srcodec.encode([(name, frame)], tmp_path / "a.src", weights=[tiny_weights])
    assert not (tmp_path / "a.src").exists()


# --- weights: safetensors only, hash checked ---------------------------------------------------


def test_a_pickle_is_never_unpickled(tmp_path, photo, tiny_weights):
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps(Evil()))
    pt = tmp_path / "evil.pt"
    import torch

    torch.save({"x": Evil()}, pt)
    for path in (evil, pt):
        with pytest.raises(ModelError, match="not a safetensors"):
            srcodec.models.store.load_weights(path)
        with pytest.raises(ModelError):
            srcodec.encode([("a", photo[:16, :16])], tmp_path / "a.src", weights=[path])
    assert not marker.exists()


def test_decode_refuses_weights_swapped_behind_its_cache(tmp_path, photo, tiny_weights):
    import shutil

    import torch

    from srcodec.models.store import save_model

    weights = tmp_path / "w.safetensors"
    shutil.copy(tiny_weights, weights)
    info = srcodec.models.store.inspect_weights(weights)
    out = tmp_path / "a.src"
    srcodec.encode([("a", photo[:16, :16])], out, weights=[weights])
    archive = srcodec.open(out, weights=[weights], device="cpu")
    archive.model_info()  # found and cached by path, size and mtime
    # Swap in another model of the same size, keeping the mtime: the cache cannot tell.
    before = weights.stat()
    model, card = srcodec.models.store.load_weights(weights)
    with torch.no_grad():
        model.tail.bias.add_(1.0)
    save_model(model, weights, card.name, card.card)
    assert weights.stat().st_size == before.st_size
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert srcodec.models.store.inspect_weights(weights).sha256 == info.sha256  # stale
    with pytest.raises(ModelError, match="does not match"):
        archive[0]
    archive.close()


# --- atomic writes and concurrency -------------------------------------------------------------


def _racing_writers(path: Path, force: bool) -> list[object]:
    """Two writers of different archives reach their final rename at the same moment."""
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def write(i: int) -> None:
        header = Header(**HEADER)
        records = records_for(small_frames(2 + i, seed=i), HEADER["codec"])
        try:
            with ArchiveWriter(path, header, force=force, before_replace=barrier.wait) as w:
                for r in records:
                    w.add(r)
            results[i] = [r.name for r in records]
        except SrcodecError as exc:
            results[i] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_writers_one_path_exactly_one_wins(tmp_path):
    path = tmp_path / "race.src"
    results = _racing_writers(path, force=False)
    errors = [r for r in results if isinstance(r, SrcodecError)]
    wins = [r for r in results if isinstance(r, list)]
    assert len(errors) == 1 and len(wins) == 1 and "exists" in str(errors[0])
    assert read_all(path).keys() == set(wins[0]) and srcodec.verify(path).ok
    assert [p.name for p in tmp_path.iterdir()] == ["race.src"]


def test_two_writers_with_force_leave_one_complete_archive(tmp_path):
    path = tmp_path / "race.src"
    results = _racing_writers(path, force=True)
    assert all(isinstance(r, list) for r in results)
    assert sorted(read_all(path)) in [sorted(r) for r in results] and srcodec.verify(path).ok
    assert [p.name for p in tmp_path.iterdir()] == ["race.src"]


def test_decode_into_a_folder_with_files_needs_force(tmp_path, photo, tiny_weights):
    out = tmp_path / "a.src"
    srcodec.encode(
        [("a.png", photo[:16, :16]), ("b.png", photo[:8, :8])], out, weights=[tiny_weights]
    )
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "b.png").write_bytes(b"precious")
    with pytest.raises(SrcodecError, match="b.png exists"):
        srcodec.decode_to_folder(out, folder, bicubic=True)
    assert (folder / "b.png").read_bytes() == b"precious" and not (folder / "a.png").exists()
    srcodec.decode_to_folder(out, folder, bicubic=True, force=True)
    assert Image.open(folder / "b.png").size == (8, 8)


def test_an_interrupted_decode_leaves_no_partial_png(tmp_path, photo, tiny_weights, monkeypatch):
    out = tmp_path / "a.src"
    frames = [(f"f{i}.png", photo[i : i + 16, :16]) for i in range(3)]
    srcodec.encode(frames, out, weights=[tiny_weights])
    real_save = Image.Image.save
    victim = dict(srcodec.decode(out, bicubic=True))["f1.png"]

    def dying_save(self, fp, *args, **kwargs):
        if np.array_equal(np.asarray(self), victim):  # PNGs are written by threads: pick f1
            fp.write(b"\x89PNG half")  # a partial write, then the crash
            raise KeyboardInterrupt
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", dying_save)
    folder = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        srcodec.decode_to_folder(out, folder, bicubic=True)
    # PNGs are written by a thread pool, so f2 may have been written before f1 died; what must
    # hold is no partial file and no temporary file: every file there is a complete frame.
    names = sorted(p.name for p in folder.iterdir())
    assert "f0.png" in names and "f1.png" not in names and set(names) <= {"f0.png", "f2.png"}
    for name in names:
        assert np.asarray(Image.open(folder / name)).shape == (16, 16, 3)


# --- bombs: sizes are checked before anything is allocated -------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    def png_chunk(ctype: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + ctype
            + data
            + struct.pack(">I", zlib.crc32(ctype + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


# Peak memory is the process's peak resident set: tracemalloc sees only Python's allocator, not
# the C buffers of Pillow, zstd or numpy that a bomb would fill. A fresh child process runs the
# setup, then the code under test, and reports how far its peak RSS rose above the RSS it had
# before (and what the code raised).
PEAK_RSS = """
import json, sys
def kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))
exec(sys.argv[1])
try:  # restart the peak from here (Linux 4.0+), so the setup's own peak does not count
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
except OSError:
    pass
before = kib("VmRSS:")
try:
    exec(sys.argv[2])
    raised = None
except Exception as exc:
    raised = type(exc).__name__ + ": " + str(exc)
print(json.dumps({"growth": (kib("VmHWM:") - before) * 1024, "raised": raised}))
"""
#: Peak RSS growth allowed while refusing a bomb: allocator noise, far below any bomb's frame.
REFUSAL_BYTES = 8 << 20


def peak_rss_growth(setup: str, run: str) -> tuple[int, str | None]:
    """(bytes the peak RSS rose by while ``run`` ran, after ``setup``; what it raised)."""
    if not Path("/proc/self/status").exists():
        pytest.skip("peak RSS is read from /proc (Linux)")
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, setup, run], capture_output=True, text=True, check=True
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["growth"], result["raised"]


def test_peak_rss_sees_pillows_buffers(tmp_path):
    """The measure catches a decoder that fills the frame: a 3000x3000 PNG decoded by Pillow
    (27 MB, which tracemalloc does not see) shows in the peak RSS."""
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((3000, 3000, 3), np.uint8)).save(path)
    setup = f"from PIL import Image; image = Image.open({str(path)!r})"
    growth, raised = peak_rss_growth(setup, "image.load()")
    assert raised is None and growth > 3000 * 3000 * 3 > 3 * REFUSAL_BYTES


@pytest.mark.parametrize("size", [(40000, 40000), (9000, 9000), (5, 4)])
def test_png_payload_of_another_size_is_refused_before_decoding(size, tmp_path):
    path = tmp_path / "payload.png"
    path.write_bytes(_png_header_only(*size))
    setup = (
        "from srcodec.lowres import get_codec; from pathlib import Path; "
        f"codec = get_codec('png'); payload = Path({str(path)!r}).read_bytes()"
    )
    growth, raised = peak_rss_growth(setup, "codec.decode(payload, 4, 3, 3)")
    assert raised.startswith("CorruptError") and "png" in raised
    assert growth < REFUSAL_BYTES  # decoding 9000x9000 RGB would take 243 MB


def test_zstd_payload_claiming_more_is_refused_before_decompressing(tmp_path):
    import zstandard

    # 64 MiB of zeros in under 64 KiB, for a 4x3 RGB frame (36 bytes).
    bomb = tmp_path / "bomb.zst"
    bomb.write_bytes(zstandard.ZstdCompressor(level=1).compress(b"\x00" * (64 << 20)))
    assert bomb.stat().st_size < 1 << 16
    setup = (
        "from srcodec.lowres import get_codec; from pathlib import Path; "
        f"codec = get_codec('zstd'); bomb = Path({str(bomb)!r}).read_bytes()"
    )
    growth, raised = peak_rss_growth(setup, "codec.decode(bomb, 4, 3, 3)")
    assert raised.startswith("CorruptError") and "expected 36" in raised
    assert growth < REFUSAL_BYTES
    no_size = zstandard.ZstdCompressor(write_content_size=False).compress(b"\x00" * 36)
    with pytest.raises(CorruptError):
        get_codec("zstd").decode(no_size, 4, 3, 3)


@pytest.mark.parametrize("size", [(20000, 20000), (10000, 10000)])
def test_input_frame_bombs_are_refused(tmp_path, size):
    from srcodec.inputs import read_frame

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(*size))
    assert Image.MAX_IMAGE_PIXELS and size[0] * size[1] > Image.MAX_IMAGE_PIXELS
    with pytest.raises(FrameError, match="too large"):
        read_frame(bomb)


# --- fuzzing: only SrcodecError may escape the reader, verify and recover ----------------------

FUZZ_COUNTS: Counter[str] = Counter()


def exercise(data: bytes) -> None:
    """Open, read every frame, decode every payload, scan, verify and recover ``data``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.src"
        path.write_bytes(data)
        FUZZ_COUNTS["archives"] += 1
        try:
            with ArchiveReader(path) as reader:
                FUZZ_COUNTS["opened"] += 1
                try:
                    codec = get_codec(reader.header.codec)
                except SrcodecError:
                    codec = None
                for _, record in reader.records():
                    if isinstance(record, FrameRecord) and codec is not None:
                        FUZZ_COUNTS["frames read"] += 1
                        lw, lh = lowres_size(record.width, record.height, reader.header.scale)
                        try:
                            codec.decode(record.payload, lw, lh, record.channels)
                            FUZZ_COUNTS["payloads decoded"] += 1
                        except SrcodecError:
                            pass
                reader.scan()
        except SrcodecError:
            return
        try:
            srcodec.verify(path)
            FUZZ_COUNTS["verified"] += 1
            srcodec.recover(path, Path(folder) / "out.src")
            FUZZ_COUNTS["recovered"] += 1
        except SrcodecError:
            pass


def refresh_crcs(data: bytes) -> bytes:
    """Recompute the CRC of every chunk that fits, so a mutation reaches the field checks."""
    out = bytearray(data)
    pos = 10
    while pos + 12 <= len(out):
        (length,) = struct.unpack_from("<I", out, pos)
        end = pos + 12 + length
        if end > len(out):
            break
        struct.pack_into("<I", out, end - 4, zlib.crc32(bytes(out[pos + 4 : end - 4])))
        pos = end
    return bytes(out)


def chunk_starts(data: bytes) -> list[int]:
    starts, pos = [], 10
    while pos + 12 <= len(data):
        starts.append(pos)
        pos += 12 + struct.unpack_from("<I", data, pos)[0]
    return starts


@cache
def seed_archives() -> tuple[bytes, ...]:
    """Valid archives of real frames for each fuzzed codec, one with an unknown chunk."""
    seeds = []
    for config in CODECS:
        header = {**HEADER, "codec": config}
        records = records_for(small_frames(3, seed=5), config)
        frames = [
            (r.name.encode(), r.width, r.height, 3 if r.mode == "RGB" else 1, r.payload)
            for r in records
        ]
        seeds.append(raw_archive(header, frames))
    extra = chunk(b"xTRA", b"future")
    first = chunk_starts(seeds[0])[1]
    seeds.append(seeds[0][:first] + extra + seeds[0][first:])
    return tuple(seeds)


MUTATION = st.tuples(
    st.sampled_from(["flip", "set", "cut", "insert", "delete", "u32", "length"]),
    st.integers(0, 1 << 16),
    st.binary(min_size=1, max_size=8),
    st.one_of(st.integers(0, 64), st.integers(0, 0xFFFFFFFF)),
)


def mutate(data: bytes, mutations, fix_crcs: bool, start: int = 0) -> bytes:
    """Apply (kind, position, bytes, number) mutations at or after ``start``."""
    out = bytearray(data)
    for kind, pos, blob, number in mutations:
        if len(out) <= start:
            break
        at = start + pos % (len(out) - start)
        if kind == "flip":
            out[at] ^= blob[0] or 1
        elif kind == "set":
            out[at : at + len(blob)] = blob
        elif kind == "cut":
            del out[at:]
        elif kind == "insert":
            out[at:at] = blob
        elif kind == "delete":
            del out[at : at + len(blob)]
        elif kind in ("u32", "length"):
            starts = chunk_starts(bytes(out))
            if kind == "length" and starts:
                at = starts[pos % len(starts)] + (number % 3) * 4 * (pos % 2)
            if at + 4 <= len(out):
                struct.pack_into("<I", out, at, number)
    return refresh_crcs(bytes(out)) if fix_crcs else bytes(out)


@st.composite
def mutated_archives(draw) -> bytes:
    seed = draw(st.sampled_from(seed_archives()))
    start = draw(st.sampled_from([0, chunk_starts(seed)[1]]))  # often spare the header
    mutations = draw(st.lists(MUTATION, min_size=1, max_size=4))
    return mutate(seed, mutations, draw(st.booleans()), start)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def generated_archives(draw) -> bytes:
    """Archives assembled field by field: odd headers, names, sizes, modes and payloads."""
    codec_id = draw(st.sampled_from(["zstd", "png", "nosuch"]))
    header = draw(
        st.one_of(
            st.just({**HEADER, "codec": {"id": codec_id}}),
            st.fixed_dictionaries(
                {
                    "model_id": st.one_of(st.text(max_size=10), JSON),
                    "scale": st.one_of(st.integers(-2, 20), JSON),
                    "codec": st.one_of(
                        st.fixed_dictionaries(
                            {"id": st.just(codec_id)},
                            optional={"level": JSON, "filter": JSON, "decorrelate": JSON},
                        ),
                        JSON,
                    ),
                    "created": st.text(max_size=5),
                    "srcodec_version": st.text(max_size=5),
                },
                optional={"extra": JSON},
            ),
            JSON,
        )
    )
    frames = []
    for _ in range(draw(st.integers(0, 3))):
        width = draw(st.one_of(st.integers(1, 9), st.integers(0, 70000)))
        height = draw(st.one_of(st.integers(1, 9), st.integers(0, 70000)))
        code = draw(st.sampled_from([1, 3, 3, 0, 2, 255]))
        name = draw(
            st.one_of(st.text(min_size=1, max_size=12).map(str.encode), st.binary(max_size=12))
        )
        kind = draw(st.sampled_from(["real", "real", "bytes"]))
        if kind == "real" and code in (1, 3) and 1 <= width <= 9 and 1 <= height <= 9:
            lw, lh = lowres_size(width, height)
            shape = (lh, lw) if code == 1 else (lh, lw, 3)
            pixels = np.frombuffer(
                draw(st.binary(min_size=lh * lw * code, max_size=lh * lw * code)), np.uint8
            )
            payload = get_codec(codec_id if codec_id != "nosuch" else "png").encode(
                pixels.reshape(shape)
            )
            if draw(st.booleans()):
                payload = mutate(payload, draw(st.lists(MUTATION, max_size=2)), False)
        else:
            payload = draw(st.binary(max_size=64))
        frames.append((name, width, height, code, payload))
    index_names = draw(st.none() | st.lists(st.binary(min_size=1, max_size=6), max_size=4))
    data = raw_archive(header, frames, index_names)
    if draw(st.booleans()):
        data = mutate(data, draw(st.lists(MUTATION, max_size=3)), draw(st.booleans()))
    return data


@st.composite
def random_chunks(draw) -> bytes:
    """A valid preamble and header, then chunks of random types and data with valid CRCs."""
    empty = raw_archive(HEADER, [])
    head = empty[: chunk_starts(empty)[1]]
    types = st.sampled_from([b"FRAM", b"INDX", b"TAIL", b"xTRA", b"HEAD"])
    chunks = draw(
        st.lists(
            st.tuples(types | st.binary(min_size=4, max_size=4), st.binary(max_size=40)), max_size=6
        )
    )
    tail = draw(st.binary(max_size=30))
    return head + b"".join(chunk(t, d) for t, d in chunks) + tail


def random_bytes_archives() -> st.SearchStrategy[bytes]:
    after_magic = st.binary(max_size=200).map(lambda tail: MAGIC + b"\x01\x00" + tail)
    return after_magic | st.binary(max_size=64) | random_chunks()


FUZZ = settings(
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    deadline=timedelta(seconds=5),  # a hang fails the test
    derandomize=True,
    database=None,
)


@settings(FUZZ, max_examples=200)
@given(mutated_archives())
def test_fuzz_mutated_archives(data):
    exercise(data)


@settings(FUZZ, max_examples=120)
@given(generated_archives())
def test_fuzz_generated_archives(data):
    exercise(data)


@settings(FUZZ, max_examples=60)
@given(random_bytes_archives())
def test_fuzz_random_bytes(data):
    exercise(data)


SLOW_EXAMPLES = int(os.environ.get("SRCODEC_FUZZ_EXAMPLES", "10000"))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [mutated_archives, generated_archives, random_bytes_archives])
def test_fuzz_long(strategy):
    """Tens of thousands of archives (SRCODEC_FUZZ_EXAMPLES per strategy); prints the counts."""
    FUZZ_COUNTS.clear()

    @settings(FUZZ, max_examples=SLOW_EXAMPLES, derandomize=False, deadline=timedelta(seconds=20))
    @given(strategy())
    def run(data):
        exercise(data)

    run()
    print(f"\nfuzz {strategy.__name__}: {dict(FUZZ_COUNTS)}")
    assert FUZZ_COUNTS["archives"] >= SLOW_EXAMPLES
