"""Video timing and damaged input video without silent loss (issue 24): the recorded frame times
survive decoding to a video and recovery; a video cut short or with a hole says what it lost.

The videos are real FFmpeg streams (H.264 in MP4, MPEG-4 part 2 in AVI as cameras write it,
a variable-rate Matroska file) of crops of a real photograph, damaged by hand."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner

import srcodec
from srcodec.archive.reader import Archive
from srcodec.cli import main
from srcodec.errors import FrameError
from srcodec.frametimes import frame_times
from srcodec.resample import downscale
from srcodec.video import read_video, write_video

COUNT = 16


@pytest.fixture(scope="module")
def clip(photo) -> list[np.ndarray]:
    """Sixteen 72x96 crops of a real photo sliding right: footage with motion."""
    return [np.ascontiguousarray(photo[100:172, 40 + 4 * k : 136 + 4 * k]) for k in range(COUNT)]


def write_stream(path, frames, codec: str, times=None, rate=10, **options) -> None:
    """``frames`` coded by FFmpeg's ``codec`` into ``path``, at ``times`` (seconds) if given."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = 96, 72, "yuv420p"
        if times is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for k, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
            picture.pts = k if times is None else round(times[k] * 1000)
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def times_of(video) -> list[float]:
    return [round(t, 3) for _, _, t in read_video(video)]


@pytest.fixture
def mp4(tmp_path, clip):
    path = tmp_path / "clip.mp4"
    write_stream(path, clip, "libx264", crf="18", g="4")  # a key frame every 0.4 s
    return path


# --- the recorded times survive decoding to a video ----------------------------------------


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_every_nth_frame_decodes_at_its_recorded_times(mp4, tmp_path, tiny_weights, suffix):
    """``--every 2`` records a step of 1/5 s; the video was written at 10 fps (0.0-0.7 s:
    double speed)."""
    archive = tmp_path / "a.src"
    r = cli("encode", mp4, "-o", archive, "--every", 2, "--weights", tiny_weights)
    assert r.exit_code == 0, r.output
    out = tmp_path / f"a{suffix}"
    assert cli("decode", archive, "-o", out, "--bicubic").exit_code == 0
    assert times_of(out) == [round(0.2 * k, 3) for k in range(8)]


def test_irregular_times_survive(tmp_path, clip, tiny_weights):
    """A variable-rate clip (a camera dropping frames), cut with --start/--end/--every: each
    frame comes out at its own time, not at a constant rate."""
    times = [0, 0.1, 0.25, 0.3, 0.7, 0.8, 0.85, 1.3, 1.4, 1.6, 1.7, 2.2, 2.3, 2.4, 2.9, 3.0]
    source = tmp_path / "vfr.mkv"
    write_stream(source, clip, "libx264", times=times, crf="18")
    assert times_of(source) == times
    archive = tmp_path / "a.src"
    r = cli("encode", source, "-o", archive, "--start", 2, "--end", "2.35s", "--every", 2,
            "--weights", tiny_weights)  # fmt: skip
    assert r.exit_code == 0, r.output
    kept = times[2:13:2]
    with Archive(archive) as a:
        assert frame_times(a.header) == pytest.approx(kept)
    out = tmp_path / "a.mkv"
    assert cli("decode", archive, "-o", out, "--bicubic").exit_code == 0
    assert times_of(out) == pytest.approx(kept)


def damage_group(path, k: int) -> list[str]:
    from test_footage import damage_group as damage

    return damage(path, k)


def test_frames_left_out_keep_later_frames_in_place(mp4, tmp_path, tiny_weights):
    """A damaged group is left out of the video: the frames after it moved earlier."""
    archive = tmp_path / "a.src"
    srcodec.encode(mp4, archive, weights=[tiny_weights], group=4)
    lost = damage_group(archive, 1)
    out = tmp_path / "a.mkv"
    r = cli("decode", archive, "-o", out, "--bicubic")
    assert r.exit_code == 3 and all(name in r.output for name in lost)
    expected = [k / 10 for k in range(COUNT) if f"frame_{k:06d}" not in lost]
    assert times_of(out) == pytest.approx(expected)


def test_recover_keeps_the_surviving_frames_timestamps(mp4, tmp_path, tiny_weights):
    """``recover`` kept all 16 timestamps in the header of a 12-frame archive, so that every
    frame after the loss took an earlier frame's time."""
    archive = tmp_path / "a.src"
    srcodec.encode(mp4, archive, weights=[tiny_weights], group=4)
    lost = damage_group(archive, 1)
    fixed = srcodec.recover(archive, tmp_path / "fixed.src")
    assert [n for n, _ in fixed.lost] == lost
    with Archive(fixed.output) as a:
        assert len(frame_times(a.header)) == len(a) == COUNT - 4
        assert frame_times(a.header) == pytest.approx([int(n[6:]) / 10 for n in a.names])
    out = tmp_path / "fixed.mkv"
    assert cli("decode", fixed.output, "-o", out, "--bicubic").exit_code == 0
    assert times_of(out) == pytest.approx([k / 10 for k in (0, 1, 2, 3, *range(8, COUNT))])


def test_write_video_refuses_times_going_back(tmp_path, clip):
    with pytest.raises(FrameError, match="back in time"):
        write_video(tmp_path / "x.mkv", [(clip[0], 1.0), (clip[1], 0.5)], 10)
    assert not (tmp_path / "x.mkv").exists()


# --- damaged input video -------------------------------------------------------------------


def test_avi_cut_short_names_the_missing_frames(tmp_path, clip, tiny_weights):
    """An AVI cut with ``head -c`` (its header still lists every frame) encoded the frames
    before the cut, exit 0, and said nothing."""
    source = tmp_path / "cam.avi"
    write_stream(source, clip, "mpeg4", qscale="3", g="1")
    with av.open(str(source)) as c:
        assert c.streams.video[0].frames == COUNT
    cut = tmp_path / "cut.avi"
    data = source.read_bytes()
    movi, index = data.index(b"movi"), data.index(b"idx1")  # the frames, then their index
    cut.write_bytes(data[: (movi + index) // 2])
    archive = tmp_path / "a.src"
    r = cli("encode", cut, "-o", archive, "--weights", tiny_weights)
    # The frame cut in half comes first: half a picture, which the decoder flags corrupt.
    assert r.exit_code == 1 and "does not decode" in r.output and not archive.exists()
    r = cli("encode", cut, "-o", archive, "--weights", tiny_weights, "--skip-bad")
    assert r.exit_code == 0, r.output
    with Archive(archive) as a:
        kept = len(a)
        assert 4 <= kept < COUNT and a.names == [f"frame_{k:06d}" for k in range(kept)]
    # Every frame not archived is named: the one cut in half, then the span cut off.
    assert f"skipped frame_{kept:06d}: " in r.output and "does not decode" in r.output
    assert f"skipped frame_{kept + 1:06d}..frame_{COUNT - 1:06d}: " in r.output
    assert "are missing: the file ends after" in r.output
    # Reading the video says it too.
    with pytest.raises(FrameError, match=f"frame_{kept:06d} does not decode"):
        list(read_video(cut))
    # A healthy AVI whose muxer left out frames (slots with no frame) is not "cut short".
    sparse = tmp_path / "sparse.avi"
    write_video(sparse, [(f, 0.2 * k) for k, f in enumerate(clip[:5])], 10, codec="ffv1")
    assert times_of(sparse) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8])


def hole(path, start: float, end: float):
    """Zero a range of the media data of an MP4 (its index, at the end, stays intact)."""
    data = bytearray(path.read_bytes())
    mdat = data.index(b"mdat") + 4
    moov = data.index(b"moov")
    assert mdat < moov
    a, b = mdat + int((moov - mdat) * start), mdat + int((moov - mdat) * end)
    data[a:b] = bytes(b - a)
    damaged = path.with_name("holed.mp4")
    damaged.write_bytes(bytes(data))
    return damaged


def test_mp4_with_a_hole_skips_and_names_the_frames_that_do_not_decode(mp4, tmp_path, tiny_weights):
    """A zeroed hole in an MP4 aborted the encode even with --skip-bad."""
    holed = hole(mp4, 0.7, 0.85)  # after the key frame
    archive = tmp_path / "a.src"
    r = cli("encode", holed, "-o", archive, "--weights", tiny_weights)
    assert r.exit_code == 1 and "does not decode" in r.output and not archive.exists()
    r = cli("encode", holed, "-o", archive, "--weights", tiny_weights, "--skip-bad")
    assert r.exit_code == 0, r.output
    skipped = [line.split()[1].rstrip(":") for line in r.output.splitlines()
               if line.startswith("skipped ")]  # fmt: skip
    with Archive(archive) as a:
        names = a.names
        # Every frame is archived or named; each keeps its number and its time.
        assert sorted(names + skipped) == [f"frame_{k:06d}" for k in range(COUNT)]
        assert skipped and len(names) >= 4
        assert frame_times(a.header) == pytest.approx([int(n[6:]) / 10 for n in names])
    # The frames kept are the source's frames of those numbers.
    source = {name: frame for name, frame, _ in read_video(mp4)}
    with Archive(archive, bicubic=True) as a:
        for name in names[-3:]:
            low = a.lowres(name).astype(float)
            assert np.abs(low - downscale(source[name])).mean() < 4
    with pytest.raises(FrameError, match="does not decode"):
        list(read_video(holed))
    told = []
    got = [n for n, _, _ in read_video(holed, on_bad=lambda n, t, why: told.append((n, t)))]
    assert sorted(got + [n for n, _ in told]) == [f"frame_{k:06d}" for k in range(COUNT)]
    assert all(t == pytest.approx(int(n[6:]) / 10) for n, t in told)
