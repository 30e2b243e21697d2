"""Figures in messages as people read them: plurals, size ratios, frame rates, and PSNR values
that are infinite (identical) or undefined (nothing measured)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from click.testing import CliRunner

import srcodec
from srcodec.cli import main
from srcodec.display import count, db, db_gain, fps, ratio


def test_counts_ratios_rates_and_decibels():
    assert [count(n, "frame") for n in (0, 1, 2)] == ["0 frames", "1 frame", "2 frames"]
    assert count(1, "held-back frame") == "1 held-back frame"
    assert ratio(1000, 150) == "6.67x smaller" and ratio(150, 840) == "5.60x larger"
    assert ratio(10, 10) == "same size" and ratio(0, 10) == "size ratio n/a"
    assert [fps(r) for r in ("10/1", Fraction(25, 2), "1000000/66667", 14.9999)] == [
        "10", "12.5", "~15", "~15"
    ]  # fmt: skip
    assert fps(Fraction(30000, 1001)) == "29.97"  # NTSC's rate, as written everywhere
    assert db(31.234) == "31.23 dB" and db(math.inf) == "identical" and db(math.nan) == "n/a"
    assert db_gain(0.314) == "+0.31 dB" and db_gain(math.nan) == "n/a"
    assert db_gain(-math.inf) == "n/a"


def test_cli_speaks_of_one_frame_a_larger_archive_and_a_round_frame_rate(tmp_path):
    """``1 frames``, ``(0.18x smaller)`` and ``frame rate 10/1 fps`` before."""
    one = tmp_path / "one.src"
    r = CliRunner().invoke(main, ["encode", str(_png(tmp_path)), "-o", str(one), "--codec", "png"])
    assert r.exit_code == 0, r.output
    assert " 1 frame, " in r.output and "x larger" in r.output and "smaller" not in r.output
    rated = tmp_path / "rated.src"
    frames = [(f"f{k}", np.full((8, 8, 3), 9 * k, np.uint8)) for k in range(3)]
    srcodec.encode(frames, rated, codec="png")
    _set_fps(rated, tmp_path, "1000000/66667")
    info = CliRunner().invoke(main, ["info", str(tmp_path / "fps.src")])
    assert "frame rate   ~15 fps" in info.output, info.output
    verify = CliRunner().invoke(main, ["verify", str(one)])
    assert "1 of 1 frame intact" in verify.output


def _png(tmp_path):
    from PIL import Image

    path = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(path)
    return path


def _set_fps(path, tmp_path, rate):
    """A copy of the archive at ``path`` whose header records ``rate`` (fps.src)."""
    from srcodec.archive.filereader import ArchiveReader
    from srcodec.archive.filewriter import ArchiveWriter

    with ArchiveReader(path) as reader:
        header = reader.header
        header.extra["fps"] = rate
        with ArchiveWriter(tmp_path / "fps.src", header) as writer:
            for _, record in reader.records():
                writer.add(record)
