"""Command-line interface contracts: exit statuses, option validation, progress, '-' paths."""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from srcodec.cli import EXIT_DAMAGED, main


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def archive(tmp_path, sample_frames, tiny_weights):
    out = tmp_path / "a.src"
    # Per-frame coding: a damaged chunk is one frame (tests/archive/test_footage.py covers groups).
    args = ("-o", out, "--weights", tiny_weights, "-q", "--codec", "jxl")
    r = invoke("encode", *sample_frames[:2], *args)
    assert r.exit_code == 0, r.output
    return out


def damage_last_frame(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the second (last) frame's payload
    path.write_bytes(bytes(data))


def test_damage_has_its_own_exit_status_distinct_from_usage_errors(archive, tiny_weights, tmp_path):
    assert EXIT_DAMAGED not in (0, 1, 2)
    assert invoke("decode", archive, "--no-such-option").exit_code == 2  # Click's usage error
    damage_last_frame(archive)
    assert invoke("verify", archive).exit_code == EXIT_DAMAGED
    r = invoke("decode", archive, "--weights", tiny_weights, "-o", tmp_path / "o", "-q")
    assert r.exit_code == EXIT_DAMAGED, r.output
    r = invoke("recover", archive, "-o", tmp_path / "r.src")
    assert r.exit_code == EXIT_DAMAGED, r.output
    assert "3 the archive is damaged" in invoke("--help").output


@pytest.mark.parametrize("option", ["--tile", "--threads"])
@pytest.mark.parametrize("value", ["0", "-4"])
def test_non_positive_tile_and_threads_are_refused(archive, option, value):
    r = invoke("decode", archive, option, value, "--bicubic")
    assert r.exit_code == 2 and option in r.output


def test_tile_below_minimum_is_refused_not_silently_raised(archive, tiny_weights):
    from srcodec.engines.tiling import MIN_TILE, TiledRestorer
    from srcodec.errors import SrcodecError

    r = invoke("decode", archive, "--tile", MIN_TILE - 1, "--bicubic")
    assert r.exit_code == 2 and str(MIN_TILE) in r.output
    with pytest.raises(SrcodecError, match=str(MIN_TILE)):
        TiledRestorer(2, 4, tile=MIN_TILE - 1)


def test_threads_above_core_count_warn(archive, tmp_path):
    many = (os.cpu_count() or 1) + 1
    r = invoke("decode", archive, "--threads", many, "--bicubic", "-o", tmp_path / "o")
    assert r.exit_code == 0 and "warning" in r.output and "cores" in r.output


def test_dash_is_refused_clearly(archive, sample_frames):
    for args in (["decode", "-"], ["info", "-"], ["verify", "-"], ["encode", "-", "-o", "x.src"]):
        r = invoke(*args)
        assert r.exit_code == 2 and "standard input" in r.output, (args, r.output)
    r = invoke("encode", sample_frames[0], "-o", "-")
    assert r.exit_code == 2 and "standard input" in r.output


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path, sample_frames, tiny_weights):
    # CliRunner's stderr is not a terminal: no bar by default; --progress forces it.
    r = invoke("encode", sample_frames[0], "-o", tmp_path / "a.src", "--weights", tiny_weights)
    assert r.exit_code == 0 and "frame/s" not in r.output and "%|" not in r.output
    r = invoke(
        "encode",
        sample_frames[0],
        "-o",
        tmp_path / "b.src",
        "--weights",
        tiny_weights,
        "--progress",
    )
    assert r.exit_code == 0 and "%|" in r.output


def test_info_marks_damaged_frames(archive):
    damage_last_frame(archive)
    r = invoke("info", archive, "--frames")
    assert r.exit_code == 3  # damaged, as verify says (issue 24: it was 0)
    lines = [line for line in r.output.splitlines() if "DAMAGED" in line]
    assert "1 DAMAGED" in lines[0]  # the frame count says it too
    assert len(lines) == 2 and "vtest" in lines[1]
    listed = json.loads(invoke("info", archive, "--json").output)
    assert len(listed["damaged"]) == 1


def test_int8_with_self_ensemble_names_the_combination_not_an_engine(archive, tiny_weights):
    r = invoke("decode", archive, "--weights", tiny_weights, "--int8", "--self-ensemble")
    assert r.exit_code == 1
    assert "int8 and the self-ensemble" in r.output and "--engine" not in r.output


def test_export_hint_works_as_printed(archive, tiny_weights, tmp_path, monkeypatch):
    import shlex
    import shutil

    monkeypatch.setenv("SRCODEC_MODELS", str(tmp_path / "models"))
    # A copy: the exports land beside it, never beside the session's shared test model.
    tiny_weights = Path(shutil.copy(tiny_weights, tmp_path / tiny_weights.name))
    r = invoke("decode", archive, "--weights", tiny_weights, "--engine", "onnx", "-o", tmp_path)
    assert r.exit_code == 1 and "make it with '" in r.output
    command = r.output.split("make it with '")[1].split("'")[0]
    argv = shlex.split(command)
    assert argv[0] == "srcodec"
    r = invoke(*argv[1:], "--onnx-dir", tiny_weights.parent)
    assert r.exit_code == 0, r.output
    r = invoke("decode", archive, "--weights", tiny_weights, "--engine", "onnx", "-o", tmp_path)
    assert r.exit_code == 0, r.output


def test_reader_that_goes_away_ends_the_output_quietly(tmp_path):
    """``srcodec info --frames a.src | head -1``: the reader closes the pipe; srcodec stops
    as Unix tools do (status 141, 128 + SIGPIPE), with nothing on stderr (it printed
    "srcodec: error: Broken pipe", status 1)."""
    import subprocess
    import sys

    import numpy as np

    import srcodec

    # About 26 bytes of output a frame: 6000 frames are more than a pipe's 64 KiB buffer holds,
    # so srcodec is still writing when the reader goes away (1500 frames, 39 kB, fitted in it:
    # on a loaded machine srcodec could finish first and exit 0).
    frames = [(f"f{k:05d}", np.full((4, 4), k % 256, np.uint8)) for k in range(6000)]
    srcodec.encode(frames, tmp_path / "a.src", codec="zstd")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    cmd = [sys.executable, "-m", "srcodec", "info", "--frames", str(tmp_path / "a.src")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout.readline().startswith(b"archive")
    proc.stdout.close()  # more than a pipe's buffer is still to come
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and err == ""


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["encode", "clip.mp4", "-o", "new.src", "--start", "abc"], "--start"),
        (["encode", "clip.mp4", "-o", "new.src", "--start", "1.5"], "--start"),
        (["encode", "clip.mp4", "-o", "new.src", "--end", "-3"], "--end"),
        (["encode", "clip.mp4", "-o", "new.src", "--adapt", "--adapt-steps", "-1"],
         "--adapt-steps"),
        (["adapt", "clip.mp4", "-o", "m.safetensors", "--steps", "-1"], "--steps"),
        (["decode", "ARCHIVE", "-o", "v.mkv", "--crf", "23"], "--crf"),
        (["decode", "ARCHIVE", "-o", "v.mkv", "--video-codec", "ffv1", "--crf", "23"], "--crf"),
        (["decode", "ARCHIVE", "-o", "v.mp4", "--video-codec", "x264", "--crf", "60"], "--crf"),
        (["encode", "FRAMES", "-o", "new.src", "--codec", "jxl", "--group", "4"], "--group"),
        (["encode", "FRAMES", "-o", "new.src", "--bpp", "1", "--codec", "avif", "--group", "4"],
         "--group"),
        (["encode", "clip.mp4", "clip2.avi", "-o", "new.src"], "one video per archive"),
    ],
)  # fmt: skip
def test_malformed_options_are_usage_errors_naming_the_option(
    args, named, archive, sample_frames, tmp_path, monkeypatch
):
    """Each exited 1 (or, for --group, did nothing) before; now the usage status 2."""
    monkeypatch.chdir(tmp_path)
    for name in ("clip.mp4", "clip2.avi"):
        Path(name).write_bytes(b"")
    folder = tmp_path / "frames"
    folder.mkdir()
    for f in sample_frames[:2]:
        (folder / f.name).write_bytes(f.read_bytes())
    args = [str(archive) if a == "ARCHIVE" else str(folder) if a == "FRAMES" else a for a in args]
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert named in r.output
    assert not Path("new.src").exists() and not Path("v.mkv").exists()


def test_group_with_a_per_frame_codec_is_refused_by_the_library(tmp_path, photo):
    import srcodec
    from srcodec.errors import SrcodecError

    frames = [photo[:32, :32], photo[32:64, :32]]
    with pytest.raises(SrcodecError, match="codes each frame alone"):
        srcodec.encode(frames, tmp_path / "a.src", codec="jxl", group=4)
    assert not (tmp_path / "a.src").exists()
    s = srcodec.encode(frames, tmp_path / "a.src", codec="x264", group=1)
    with srcodec.open(s.path) as a:
        assert len(a.info()["groups"]) == 2  # honoured where it means something
    with pytest.raises(srcodec.FrameError, match="one video"):
        srcodec.encode([tmp_path / "a.png", tmp_path / "b.mp4"], tmp_path / "b.src")


def test_svt_av1_prints_no_banner_when_writing_video(tmp_path):
    """``decode -o out.mkv --video-codec av1 --crf N`` printed ~20 Svt[info] lines."""
    import subprocess
    import sys

    code = (
        "import numpy as np; from srcodec.video import write_video; "
        f"write_video({str(tmp_path / 'a.mkv')!r}, [np.zeros((64, 64, 3), np.uint8)] * 2, 10, "
        "codec='av1', crf=40)"
    )
    env = {k: v for k, v in os.environ.items() if k != "SVT_LOG"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "Svt[" not in r.stderr and (tmp_path / "a.mkv").is_file()


def test_many_archives_name_every_damaged_frame_and_unnamed_damage(monkeypatch, tmp_path):
    """``decode --workers``: each damaged frame named, damage no frame owns (name None) said
    without a traceback (it raised AttributeError), the damage exit status."""
    from srcodec.distributed import cluster
    from srcodec.distributed.cluster import TaskResult

    damaged = (("f0644.png", "checksum mismatch"), (None, "index unusable: truncated"))
    results = [TaskResult("gd.src", "out/gd", "8 frames restored", problems=damaged)]
    monkeypatch.setattr(cluster, "run_many", lambda *a, **k: results)
    r = invoke("decode", tmp_path / "gd.src", "--workers", "2", "-o", tmp_path / "out")
    assert r.exit_code == EXIT_DAMAGED, r.output
    assert "gd.src: damaged f0644.png: checksum mismatch" in r.output
    assert "gd.src: damaged: index unusable: truncated" in r.output
