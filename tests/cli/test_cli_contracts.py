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
