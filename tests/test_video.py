"""Footage in and out through PyAV: exact round trips, ranges, names, probing and refusals."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import srcodec
from srcodec.errors import FrameError, SrcodecError
from srcodec.inputs import iter_video, read_images
from srcodec.video import is_video, parse_position, probe_video, read_video, write_video


@pytest.fixture(scope="module")
def clip(photo) -> list[np.ndarray]:
    """Eight 72x96 crops of a real photo sliding right: a short clip with motion."""
    return [np.ascontiguousarray(photo[100:172, 40 + 6 * k : 136 + 6 * k]) for k in range(8)]


@pytest.fixture
def ffv1_clip(tmp_path, clip):
    path = tmp_path / "clip.mkv"
    assert write_video(path, clip, fps=10) == len(clip)
    return path


def test_ffv1_round_trip_is_exact_with_names_and_times(ffv1_clip, clip):
    got = list(read_video(ffv1_clip))
    assert [n for n, _, _ in got] == [f"frame_{i:06d}" for i in range(8)]
    assert all(np.array_equal(f, c) for (_, f, _), c in zip(got, clip, strict=True))
    assert [t for _, _, t in got] == pytest.approx([i / 10 for i in range(8)])


@pytest.mark.parametrize("codec,suffix", [("x264", ".mp4"), ("x265", ".mkv")])
def test_lossless_x264_x265_are_exact_even_at_odd_sizes(tmp_path, clip, codec, suffix):
    odd = [c[:71, :95] for c in clip[:4]]
    path = tmp_path / f"odd{suffix}"
    write_video(path, odd, fps=Fraction(30000, 1001), codec=codec)
    got = [f for _, f, _ in read_video(path)]
    assert len(got) == 4 and all(np.array_equal(a, b) for a, b in zip(got, odd, strict=True))
    info = probe_video(path)
    assert (info.width, info.height, info.fps) == (95, 71, Fraction(30000, 1001))


def test_crf_is_lossy_but_close(tmp_path, clip):
    path = tmp_path / "lossy.mp4"
    write_video(path, clip, fps=10, codec="x264", crf=18)
    got = [f for _, f, _ in read_video(path)]
    err = np.abs(got[3].astype(int) - clip[3]).mean()
    assert len(got) == 8 and 0 < err < 4


def test_grayscale_frames_are_written_as_grey_rgb(tmp_path, clip):
    grey = [c[:, :, 1] for c in clip[:2]]
    path = tmp_path / "grey.mkv"
    write_video(path, grey, fps=5)
    got = [f for _, f, _ in read_video(path)]
    assert np.array_equal(got[1], np.repeat(grey[1][:, :, None], 3, axis=2))


def test_start_end_every_by_number_and_time(ffv1_clip):
    names = [n for n, _, _ in read_video(ffv1_clip, start=2, end=7, every=2)]
    assert names == ["frame_000002", "frame_000004", "frame_000006"]
    by_time = [n for n, _, _ in read_video(ffv1_clip, start="0.3s", end="00:00:00.5")]
    assert by_time == ["frame_000003", "frame_000004"]
    assert [n for n, _, _ in read_video(ffv1_clip, start="00:00.7")] == ["frame_000007"]


def test_parse_position():
    assert parse_position(12) == 12 and parse_position("12") == 12
    assert parse_position("12.5s") == 12.5
    assert parse_position("01:02.5") == 62.5
    assert parse_position("1:00:01") == 3601
    for bad in ("soon", "-3", -1, "1:2:3:4", True):
        with pytest.raises(FrameError):
            parse_position(bad)


def test_probe(ffv1_clip):
    info = probe_video(ffv1_clip)
    assert (info.fps, info.width, info.height, info.codec) == (Fraction(10), 96, 72, "ffv1")


def test_refusals_leave_no_file(tmp_path, clip):
    with pytest.raises(SrcodecError, match="unknown video codec 'mjpeg'"):
        write_video(tmp_path / "a.mkv", clip, fps=10, codec="mjpeg")
    with pytest.raises(SrcodecError, match="not .mp4"):
        write_video(tmp_path / "a.mp4", clip, fps=10, codec="ffv1")
    with pytest.raises(SrcodecError, match="lossless only"):
        write_video(tmp_path / "a.mkv", clip, fps=10, codec="ffv1", crf=20)
    with pytest.raises(SrcodecError, match="lossy only"):
        write_video(tmp_path / "a.mkv", clip, fps=10, codec="av1")
    with pytest.raises(FrameError, match="frame #1 is 95x72"):
        write_video(tmp_path / "a.mkv", [clip[0], clip[1][:, :95]], fps=10)
    with pytest.raises(FrameError, match="no frames"):
        write_video(tmp_path / "a.mkv", [], fps=10)
    assert list(tmp_path.iterdir()) == []


def test_unreadable_files(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(FrameError, match="junk.mp4"):
        list(read_video(junk))
    with pytest.raises(FrameError, match="no such video"):
        probe_video(tmp_path / "missing.mkv")


def test_is_video_and_the_frames_module_reads_through_it(ffv1_clip, clip, tmp_path):
    assert is_video("a/b.MKV") and is_video("x.avi") and not is_video("x.png")
    frames = list(iter_video(ffv1_clip, step=3))
    assert [n for n, _ in frames] == ["frame_000000", "frame_000003", "frame_000006"]
    assert np.array_equal(frames[1][1], clip[3])
    # adapt and training (read_images) name a clip's frames as encode does (not <clip>_000003)
    srcodec.encode(ffv1_clip, tmp_path / "a.src", codec="png")
    with srcodec.open(tmp_path / "a.src") as archive:
        assert [n for n, _ in read_images(ffv1_clip)] == archive.names
