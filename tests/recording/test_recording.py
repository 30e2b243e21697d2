"""Recording cameras (srcodec.recording): real streams served by FFmpeg on the loopback address,
a recorder killed with SIGKILL, resolution changes, unreachable and non-video sources, and cuts
across segment boundaries. Clips are tiny (160x120, 10 fps, a few seconds)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import srcodec
from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.timeline import segment_times
from srcodec.clock import from_iso, iso
from srcodec.lowres import get_codec
from srcodec.recording import record
from srcodec.recording.index import Recording
from srcodec.recording.segments import SEGMENT_NAME

ROOT = Path(__file__).resolve().parent.parent.parent


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _make_clip(path: Path, size: str, seconds: float, pattern: str = "testsrc", offset=0) -> Path:
    subprocess.run(
        [_ffmpeg(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
         f"{pattern}=size={size}:rate=10", "-t", str(seconds), "-c:v", "libx264", "-preset",
         "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", "-f", "mpegts", "-output_ts_offset",
         str(offset), str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """3 s of FFmpeg's test pattern, 160x120 at 10 fps, H.264 in MPEG-TS."""
    return _make_clip(tmp_path_factory.mktemp("clips") / "clip.ts", "160x120", 3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int, timeout: float = 60, state: str = "0A") -> None:
    """Wait until a socket listens on ``port`` (Linux: /proc/net/tcp; ``state`` "01": until a
    connection to it is established), without connecting (FFmpeg's server takes one client)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
        if any(r.split()[1].endswith(f":{port:04X}") and r.split()[3] == state for r in rows):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def _serve(clip: Path, port: int) -> subprocess.Popen:
    """FFmpeg serving ``clip`` at its real rate as H.264 in MPEG-TS over TCP (one client),
    once it listens."""
    proc = _start_server(clip, port)
    _listening(port)
    return proc


def _start_server(clip: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [_ffmpeg(), "-loglevel", "quiet", "-re", "-i", str(clip), "-c", "copy",
         "-flush_packets", "1", "-muxdelay", "0", "-muxpreload", "0", "-f", "mpegts",
         f"tcp://127.0.0.1:{port}?listen=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "srcodec", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def _segments(folder: Path) -> list[Path]:
    from srcodec.recording.segments import list_segments

    return list_segments(folder)  # oldest first: CAM_<second>-1.src after CAM_<second>.src


def _frames(path: Path) -> int:
    with ArchiveReader(path) as reader:
        return len(reader)


@pytest.fixture(scope="module")
def recorded(clip, tmp_path_factory) -> tuple[Path, list[dict]]:
    """The clip recorded in real time by the CLI into 1-s segments, with JSON status lines."""
    out = tmp_path_factory.mktemp("rec")
    r = _cli("record", str(clip), "-o", str(out), "--name", "cam", "--segment", "1s",
             "--realtime", "--group", "4", "--json-status")  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out, [json.loads(line) for line in r.stdout.splitlines()]


def test_record_writes_time_named_complete_segments(recorded):
    out, status = recorded
    segments = _segments(out / "cam")
    assert len(segments) >= 3  # 3 s in 1-s segments
    events = [s for s in status if s["event"] == "segment"]
    assert [Path(s["path"]).name for s in events] == [p.name for p in segments]
    assert status[-1]["event"] == "done"
    assert status[-1]["frames_in"] == status[-1]["frames_stored"] == 30
    total = 0
    previous_end = None
    for path in segments:
        m = SEGMENT_NAME.fullmatch(path.name)
        assert m and m["camera"] == "cam"
        assert srcodec.verify(path).ok
        with ArchiveReader(path) as reader:
            times = segment_times(reader)
            assert reader.header.extra["recording"]["camera"] == "cam"
            assert reader.header.codec["id"] == "srcodec.x264"
        # The name is the UTC second of the first frame; each frame has its reception time
        # and its stream timestamp, increasing.
        assert iso(times.start).replace("-", "").replace(":", "")[:15] == m["stamp"][:15]
        assert all(t is not None for t in times.received)
        assert times.received == sorted(times.received)
        pts = times.pts
        assert all(p is not None for p in pts) and pts == sorted(pts)
        assert previous_end is None or times.start > previous_end
        previous_end = times.end
        total += len(times.names)
        info = json.loads(_cli("info", "--json", str(path)).stdout)
        assert info["start"] == iso(times.start) and info["end"] == iso(times.end)
        assert info["gaps"] == []
    assert total == 30
    # The stream timestamps step by the clip's 0.1 s.
    pts = [p for path in segments for p in _times(path).pts]
    assert np.allclose(np.diff(pts), 0.1)


def _times(path: Path):
    with ArchiveReader(path) as reader:
        return segment_times(reader)


def test_cut_across_a_segment_boundary_returns_exactly_the_window(recorded, tmp_path, monkeypatch):
    out, _ = recorded
    segments = _segments(out / "cam")
    # Every frame: (reception time, segment, position); the window holds the last two frames
    # before a segment boundary and the three after it.
    frames = [(t, p, k) for p in segments for k, t in enumerate(_times(p).received)]
    boundary = next(b for b in range(2, len(frames) - 3) if frames[b][2] == 0)
    window = frames[boundary - 2 : boundary + 3]
    start, end = window[0][0], frames[boundary + 3][0]
    expected = [t for t, _, _ in window]
    r = _cli("cut", str(out), "--from", iso(start), "--to", iso(end), "-o",
             str(tmp_path / "pngs"), "--bicubic")  # fmt: skip
    assert r.returncode == 0, r.stderr
    files = sorted((tmp_path / "pngs").glob("*.png"))
    assert [f.name for f in files] == [
        f"cam_{iso(t).replace('-', '').replace(':', '')}.png" for t in expected
    ]
    # The same frames through the Python API, with the pixels decode gives.
    import srcodec.archive.reader as archive_module

    decoded = []
    real = archive_module.decode_group
    monkeypatch.setattr(archive_module, "decode_group", lambda *a: decoded.append(1) or real(*a))
    recording = srcodec.Recording(out, name="cam", bicubic=True)
    got = list(recording.frames(iso(start), iso(end)))
    assert [from_iso(t) for t, _ in got] == expected
    groups = set()
    for _, path, k in window:
        with ArchiveReader(path) as reader:
            groups.add((path, reader.entry(k).offset))
    assert len(decoded) == len(groups)  # the groups holding the window, nothing else
    with srcodec.open(window[2][1], bicubic=True) as a:
        assert np.array_equal(got[2][1], a[0])
    assert np.array_equal(np.asarray(Image.open(files[2])), got[2][1])
    assert recording.span[0] == got[0][0] - (got[0][0] - recording.segments[0].start)
    assert [s.path for s in recording.segments] == segments
    # Into a video file: the same number of frames.
    r = _cli("cut", str(out), "--name", "cam", "--from", iso(start), "--to", iso(end), "-o",
             str(tmp_path / "cut.mkv"), "--bicubic")  # fmt: skip
    assert r.returncode == 0, r.stderr
    import av

    with av.open(str(tmp_path / "cut.mkv")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 5


def test_import_srcodec_does_not_import_torch():
    code = "import srcodec, sys; srcodec.Recording; assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_server_killed_and_restarted_records_the_gap_and_resumes(clip, tmp_path):
    port = _free_port()
    servers = [_serve(clip, port)]

    def restart() -> None:
        servers[0].kill()  # mid-stream: the clip is 3 s long
        servers[0].wait()
        time.sleep(1.0)
        servers.append(_start_server(clip, port))

    timer = threading.Timer(2.0, restart)
    timer.start()
    try:
        summary = record(f"tcp://127.0.0.1:{port}", tmp_path, name="cam", segment=60,
                         duration=8, timeout=5)  # fmt: skip
    finally:
        timer.cancel()
        for s in servers:
            s.kill()
            s.wait()
    segments = _segments(tmp_path / "cam")
    times = [_times(p) for p in segments]
    gaps = [g for t in times for g in t.gaps]
    assert len(gaps) == 1, gaps
    gap = gaps[0]
    assert gap.end - gap.start >= 1_000_000  # the server was down at least 1 s
    assert "stream" in gap.reason
    received = [r for t in times for r in t.received]
    before = [r for r in received if r <= gap.start]
    after = [r for r in received if r >= gap.end]
    assert before and len(after) >= 10  # resumed: the second clip is recorded
    assert len(before) + len(after) == len(received) == summary.frames_stored
    assert summary.frames_in == summary.frames_stored and summary.dropped == 0
    assert all(srcodec.verify(p).ok for p in segments)
    # (A segment ends on each UTC minute: the gap is in the segment the minute left it in.)
    infos = [json.loads(_cli("info", "--json", str(p)).stdout) for p in segments]
    shown = [g for info in infos for g in info["gaps"]]
    assert len(shown) == 1 and shown[0]["reason"] == gap.reason
    assert Recording(tmp_path).gaps == gaps


def test_a_dropped_streams_last_frames_are_stored_at_the_drop(clip, tmp_path):
    """The stream ends after 3 s (30 frames, under a group of 64) and never returns: its
    frames go to disk when the connection ends, not when the recording stops 10 s after it
    began (they waited for the stop, then up to the timeout more: 13 s in the record
    benchmark)."""
    port = _free_port()
    server = _serve(clip, port)
    try:
        summary = record(f"tcp://127.0.0.1:{port}", tmp_path, name="cam", duration=10, timeout=2)
    finally:
        server.kill()
        server.wait()
    (report,) = summary.segments
    assert report.frames == 30 == summary.frames_in
    assert report.latency_max < 5.0, report.latency_max


def test_recorder_killed_loses_at_most_its_group_in_flight(tmp_path, tmp_path_factory):
    clip = _make_clip(tmp_path_factory.mktemp("long") / "long.ts", "160x120", 6)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    folder = tmp_path / "rec" / "cam"
    proc = subprocess.Popen(
        [sys.executable, "-m", "srcodec", "record", str(clip), "-o", str(tmp_path / "rec"),
         "--name", "cam", "--segment", "2s", "--realtime", "--group", "5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # Kill once a segment is finished and the next one has a group on disk.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            temps = list(folder.glob(".*.tmp")) if folder.exists() else []
            if _segments(folder) and temps and temps[0].stat().st_size > 2000:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
    finished = _segments(folder)
    assert finished
    for path in finished:
        assert srcodec.verify(path).ok  # finished segments are intact
    (temp,) = folder.glob(".*.tmp")
    r = _cli("recover", str(tmp_path / "rec"))
    assert r.returncode in (0, 3), r.stderr
    assert not list(folder.glob(".*.tmp"))  # nothing stale left
    closed = [p for p in _segments(folder) if p not in finished]
    assert len(closed) == 1 and srcodec.verify(closed[0]).ok
    times = _times(closed[0])
    assert len(times.names) >= 5 and len(times.names) % 5 == 0  # whole groups, all timed
    assert all(t is not None for t in times.received)
    # A record into the folder now finds nothing to close, and records on.
    r = _cli("record", str(clip), "-o", str(tmp_path / "rec"), "--name", "cam")
    assert r.returncode == 0, r.stderr
    assert "closed unfinished" not in r.stdout


def test_next_record_closes_an_unfinished_segment(clip, tmp_path):
    """A segment left as its temporary file (a kill between two groups) is closed by the
    next ``record`` into the folder: a truncated group at its end is dropped."""
    record(clip, tmp_path, name="cam", group=10)
    (done,) = _segments(tmp_path / "cam")
    data = done.read_bytes()
    temp = done.with_name(f".{done.name}.0123abcd.tmp")
    with ArchiveReader(done) as reader:
        cut_at = reader.entry(25).offset + 40  # into the third group's chunk
    temp.write_bytes(data[:cut_at])
    done.unlink()
    r = _cli("record", str(clip), "-o", str(tmp_path), "--name", "cam")
    assert r.returncode == 0, r.stderr
    assert f"closed unfinished segment {done}: 20 frames" in r.stdout
    assert "the group in flight was cut off" in r.stdout
    assert not list((tmp_path / "cam").glob(".*.tmp"))
    assert _frames(done) == 20 and srcodec.verify(done).ok


def test_a_resolution_change_starts_a_new_group(tmp_path):
    a = _make_clip(tmp_path / "a.ts", "160x120", 1)
    b = _make_clip(tmp_path / "b.ts", "128x96", 1, "testsrc2", offset=1)
    mixed = tmp_path / "mixed.ts"
    mixed.write_bytes(a.read_bytes() + b.read_bytes())
    port = _free_port()
    server = _serve(mixed, port)
    try:
        record(f"tcp://127.0.0.1:{port}", tmp_path / "rec", name="cam", duration=4, timeout=5)
    finally:
        server.kill()
        server.wait()
    (path,) = _segments(tmp_path / "rec" / "cam")
    info = srcodec.open(path).info()
    assert info["sizes"] == {"160x120 RGB": 10, "128x96 RGB": 10}
    assert [g["frames"] for g in info["groups"]] == [10, 10]
    assert srcodec.verify(path).ok


def test_a_url_that_never_answers_is_a_clear_error(tmp_path):
    with socket.socket() as silent:  # accepts connections, never sends a byte
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        r = _cli("record", f"tcp://127.0.0.1:{port}", "-o", str(tmp_path), "--timeout", "1s")
    assert r.returncode == 1
    assert r.stderr.startswith("srcodec: error: cannot open tcp://127.0.0.1:")
    assert len(r.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.src")) and not list(tmp_path.rglob(".*.tmp"))


@pytest.mark.parametrize("content", [b"not a video\n" * 100, bytes(range(256)) * 64])
def test_a_file_that_is_not_video_is_a_clear_error(tmp_path, content):
    path = tmp_path / "notes.bin"
    path.write_bytes(content)
    r = _cli("record", str(path), "-o", str(tmp_path / "rec"))
    assert r.returncode == 1
    assert r.stderr.startswith(f"srcodec: error: cannot open {path}")
    assert len(r.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.src"))


def test_transcode_keeps_names_times_and_provenance(recorded, tmp_path):
    out, _ = recorded
    source = max(_segments(out / "cam"), key=_frames)
    target = tmp_path / "lossy.src"
    r = _cli("transcode", str(source), "-o", str(target), "--quality", "40", "--bicubic")
    assert r.returncode == 0, r.stderr
    before, after = _times(source), _times(target)
    assert after.names == before.names
    assert after.received == before.received and after.raw_pts == before.raw_pts
    with ArchiveReader(source) as a, ArchiveReader(target) as b:
        assert b.header.extra["recording"] == a.header.extra["recording"]
        origin = b.header.extra["transcoded_from"]
        assert origin["model_id"] == a.header.model_id and origin["codec"] == a.header.codec
        assert b.header.extra["lossy"]["quality"] == 40
    assert target.stat().st_size < source.stat().st_size
    assert srcodec.verify(target).ok


def test_archives_without_times_report_none(tmp_path):
    info = json.loads(_cli("info", "--json", str(ROOT / "tests/data/v2_groups.src")).stdout)
    assert info["start"] is None and info["end"] is None and info["gaps"] == []


def test_record_lossy_keeps_times_and_names_each_segments_candidate(clip, tmp_path):
    summary = record(clip, tmp_path, name="cam", quality=40, group=10)
    paths = _segments(tmp_path / "cam")
    assert [s.path for s in summary.segments] == paths
    stored = 0
    for path, report in zip(paths, summary.segments, strict=True):
        with ArchiveReader(path) as reader:
            assert reader.header.extra["lossy"]["quality"] == 40
            assert reader.header.codec["id"] == "srcodec.av1"
            # Live groups are coded at 8 bits (LIVE_BITS: memory), not encode's 10.
            assert get_codec(reader.header.codec).bits == 8 and "bits" not in reader.header.codec
            assert report.candidate == reader.header.extra["lossy"]["candidate"]
            times = segment_times(reader)
        assert all(t is not None for t in times.received)
        stored += len(times.names)
        assert srcodec.verify(path).ok
    assert stored == 30 == summary.frames_stored


def test_a_lossy_recording_stores_its_first_group_before_choosing(clip, tmp_path):
    """At ``--quality`` the base codec and x1 share one stream (the bundled x2 is not measured
    at such rates): the first group is coded and made durable at once, with x1 in the header,
    and the choice is made on it as coded. Before, the group waited for the choice (15 s of
    CPU on 768x576: four cameras fell 52 s behind). On FFmpeg's test pattern the base codec
    wins: the provisional segment ends after that group and the next uses the winner."""
    summary = record(clip, tmp_path, name="cam", quality=40, group=10)
    first, *rest = summary.segments
    assert (first.candidate, first.frames) == ("x1", 10) and first.choice_cpu_s > 0
    assert rest and {s.candidate for s in rest} == {"base"}
    assert all(s.choice_cpu_s == 0 for s in rest)
    assert sum(s.frames for s in summary.segments) == 30
    with ArchiveReader(first.path) as reader:
        assert reader.header.model_id.startswith("srcodec-av1-x1")
    with ArchiveReader(rest[0].path) as reader:
        assert reader.header.model_id == "srcodec.identity"
        assert reader.header.codec["crf"] == 38  # --quality 40's setting, as before the cut


def test_a_lossy_recording_chooses_once_and_keeps_the_choice_for_later_segments(clip, tmp_path):
    """The candidate choice (15 s of CPU for a 768x576 segment) is made on the first segment
    and kept for the next ones of the same size (RECHOOSE_US), not made again for each."""
    summary = record(clip, tmp_path, name="cam", quality=40, group=5, segment=1.0, realtime=True)
    segments = summary.segments
    assert len(segments) >= 3
    assert segments[0].choice_cpu_s > 0
    assert all(s.choice_cpu_s == 0 for s in segments[1:])
    # The first segment names the provisional candidate (x1); the ones after it the winner.
    assert len({s.candidate for s in segments[1:]}) == 1
    for s in segments:
        with ArchiveReader(s.path) as reader:
            assert reader.header.extra["lossy"]["candidate"] == s.candidate
        assert srcodec.verify(s.path).ok


def test_a_newer_time_layout_is_refused(tmp_path):
    import zstandard

    from srcodec.archive.layout import TimeRecord, pack_times, unpack_times
    from srcodec.errors import CorruptError, FormatError

    record_ = TimeRecord("frame_000000", [1, 2], [0, 9000], "1/90000", [(0, 1, "why")])
    assert unpack_times(pack_times(record_)) == record_
    newer = zstandard.ZstdCompressor().compress(b'{"version":2,"first":null}')
    with pytest.raises(FormatError, match="version 2"):
        unpack_times(newer)
    with pytest.raises(CorruptError):
        unpack_times(zstandard.ZstdCompressor().compress(b'{"version":1,"received":[1]}'))


def test_sigterm_closes_the_open_segment(clip, tmp_path):
    port = _free_port()
    server = _serve(clip, port)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "srcodec", "record", f"tcp://127.0.0.1:{port}", "-o",
         str(tmp_path), "--name", "cam", "--timeout", "5s", "--group", "100"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _listening(port, state="01")  # the recorder has connected
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        server.kill()
        server.wait()
    assert proc.returncode == 0, err
    (path,) = _segments(tmp_path / "cam")
    assert srcodec.verify(path).ok and _frames(path) >= 5
    assert not list((tmp_path / "cam").glob(".*.tmp"))
    assert f"{path.name}: {_frames(path)} frames" in out


def test_recover_of_a_folder_takes_no_output_and_a_file_needs_one(tmp_path):
    (tmp_path / "cam").mkdir()
    assert _cli("recover", str(tmp_path), "-o", str(tmp_path / "x.src")).returncode == 2
    r = _cli("recover", str(tmp_path))
    assert r.returncode == 0 and "no unfinished segment" in r.stdout
    r = _cli("recover", str(ROOT / "tests/data/v2_groups.src"))
    assert r.returncode == 2 and "--output" in r.stderr
