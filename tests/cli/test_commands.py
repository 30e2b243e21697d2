import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from srcodec.cli import main


@pytest.fixture
def run():
    def invoke(*args):
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert "Traceback" not in result.output
        return result

    return invoke


def test_encode_info_decode(run, sample_frames, tmp_path, tiny_weights):
    out = tmp_path / "a.src"
    r = run("encode", sample_frames[0].parent, "-o", out, "--weights", tiny_weights, "-q")
    assert r.exit_code == 0, r.output
    assert "4 frames" in r.output and "smaller" in r.output
    r = run("info", out, "--json")
    info = json.loads(r.output)
    assert info["frames"] == 4 and info["sizes"] == {"400x400 RGB": 4}
    assert info["model_id"].startswith("tiny-test-x2@")
    # One camera's frames, but 50 frames (5 s) apart: coded as a stream they were 33 % larger
    # than frame by frame, so the encoder's trial (srcodec.archive.autocodec) keeps JPEG XL.
    assert info["codec"]["id"] == "srcodec.jxl" and not info.get("groups")
    assert info["file_bytes"] == out.stat().st_size
    r = run("info", out)
    assert "tiny-test-x2@" in r.output and "4 x 400x400 RGB" in r.output
    r = run("decode", out, "--weights", tiny_weights, "--device", "cpu", "-q")
    assert r.exit_code == 0, r.output
    restored = sorted((tmp_path / "a").iterdir())
    assert [p.name for p in restored] == [p.name for p in sample_frames]
    assert Image.open(restored[0]).size == (400, 400)
    r = run("decode", out, "--weights", tiny_weights, "-q")  # would overwrite
    assert r.exit_code == 1 and "use --force" in r.output
    assert run("decode", out, "--bicubic", "--force", "-q").exit_code == 0


def test_codec_and_level_options(run, sample_frames, tmp_path, tiny_weights):
    out = tmp_path / "p.src"
    r = run(
        "encode",
        *sample_frames[:2],
        "-o",
        out,
        "--weights",
        tiny_weights,
        "--codec",
        "png",
        "--level",
        "6",
        "-q",
    )
    assert r.exit_code == 0, r.output
    codec = json.loads(run("info", out, "--json").output)["codec"]
    assert codec == {"id": "srcodec.png", "level": 6}
    r = run(
        "encode",
        *sample_frames,
        "-o",
        tmp_path / "x.src",
        "--codec",
        "nosuchcodec",
        "--weights",
        tiny_weights,
    )
    assert r.exit_code == 1 and "nosuchcodec" in r.output


def test_skip_bad_reports_what_it_skipped(run, sample_frames, tmp_path, tiny_weights):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG garbage")
    args = [
        "encode",
        sample_frames[0],
        bad,
        "-o",
        tmp_path / "a.src",
        "--weights",
        tiny_weights,
        "-q",
    ]
    r = run(*args)
    assert r.exit_code == 1 and "broken.png" in r.output
    assert not (tmp_path / "a.src").exists()
    r = run(*args, "--skip-bad")
    assert r.exit_code == 0 and "skipped broken.png" in r.output and "1 frame," in r.output


def test_damaged_archive_exit_code(run, sample_frames, tmp_path, tiny_weights):
    out = tmp_path / "a.src"
    # Per-frame coding, so that one damaged chunk is one frame (a group would lose all four).
    run("encode", *sample_frames, "-o", out, "--weights", tiny_weights, "-q", "--codec", "jxl")
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    r = run("decode", out, "--bicubic", "-q")
    assert r.exit_code == 3 and "damaged vtest_07" in r.output
    assert len(list((tmp_path / "a").iterdir())) == 3


def test_models_lists_given_weights(run, tiny_weights):
    r = run("models", "--weights", tiny_weights, "--json")
    ids = [m["id"] for m in json.loads(r.output)]
    assert any(i.startswith("tiny-test-x2@") for i in ids)


def test_user_errors_are_one_line_without_traceback(tmp_path):
    junk = tmp_path / "junk.src"
    junk.write_bytes(b"not an archive")
    p = subprocess.run(
        [sys.executable, "-m", "srcodec", "info", str(junk)], capture_output=True, text=True
    )
    assert p.returncode == 1
    assert p.stderr.strip().count("\n") == 0 and "junk.src" in p.stderr
    assert "Traceback" not in p.stderr
    frames = tmp_path / "frames"
    frames.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(frames / "a.png")
    (frames / "b.png").write_bytes(b"corrupt")
    p = subprocess.run(
        [sys.executable, "-m", "srcodec", "encode", str(frames), "-o", str(tmp_path / "o.src")],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 1 and "b.png" in p.stderr and "Traceback" not in p.stderr


def test_level_sets_each_codecs_own_knob(run, sample_frames, tmp_path, tiny_weights):
    for codec, key in (("jxl", "effort"), ("webp", "method"), ("zstd", "level")):
        out = tmp_path / f"{codec}.src"
        r = run(
            "encode",
            sample_frames[0],
            "-o",
            out,
            "--weights",
            tiny_weights,
            "--codec",
            codec,
            "--level",
            "3",
            "-q",
        )
        assert r.exit_code == 0, r.output
        assert json.loads(run("info", out, "--json").output)["codec"][key] == 3


def test_file_system_errors_are_one_line(run, sample_frames, tmp_path, tiny_weights):
    out = tmp_path / "a.src"
    run("encode", sample_frames[0], "-o", out, "--weights", tiny_weights, "-q")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder's parent should be")
    r = run("decode", out, "--bicubic", "-o", blocker / "restored", "-q")
    assert r.exit_code == 1 and "blocker" in r.output
    assert r.output.strip().count("\n") == 0


def test_train_passes_loss_and_detail_sampling(run, photo_dir, tmp_path):
    out = tmp_path / "m.safetensors"
    args = ["train", photo_dir, "--val", photo_dir, "-o", out, "--blocks", "1", "--features", "8"]
    args += ["--patch", "24", "--batch", "2", "--steps", "4", "--val-every", "2", "--device", "cpu"]
    r = run(*args, "--loss", "l2", "--detail-sampling", "0.5", "-q")
    assert r.exit_code == 0, r.output
    from srcodec.models.store import inspect_weights

    config = inspect_weights(out).card["training"]["config"]
    assert config["loss"] == "l2" and config["detail_sampling"] == 0.5
    before = out.read_bytes()
    r = run(*args, "--loss", "l1", "-q")  # the same output again: refused, untouched
    assert r.exit_code == 1 and "exists; use --force" in r.output and out.read_bytes() == before
    assert run(*args, "--force", "-q").exit_code == 0 and out.read_bytes() != before
    r = run(*args, "--loss", "l3")
    assert r.exit_code == 2 and "l3" in r.output
    r = run(*args, "--detail-sampling", "2")
    assert r.exit_code == 2 and "detail-sampling" in r.output
