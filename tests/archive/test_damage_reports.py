"""Damage named by every reader (issue 24): a damaged model update restores every frame with the
general model and says so (exit 3); ``info`` says how many frames are damaged (exit 3, as
``verify``) and numbers groups as the archive holds them; ``info`` and ``verify`` take many
archives, as ``decode`` does."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import load_file

import srcodec
from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.filewriter import ArchiveWriter
from srcodec.archive.reader import Archive
from srcodec.cli import main
from srcodec.errors import DamagedArchiveError
from srcodec.models.store import inspect_weights
from srcodec.models.update import ModelUpdate, compose_id, update_sha256


@pytest.fixture(scope="module")
def clip(photo) -> list[np.ndarray]:
    """Sixteen 72x96 crops of a real photo sliding right: footage with motion."""
    return [np.ascontiguousarray(photo[100:172, 40 + 4 * k : 136 + 4 * k]) for k in range(16)]


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def with_update(plain: Path, out: Path, weights: Path) -> Path:
    """``plain`` with a model update of its model (the tail conv nudged), as ``--adapt`` stores
    one: its header names base and update."""
    info = inspect_weights(weights)
    tail = load_file(weights)["tail.weight"]
    delta = np.random.default_rng(0).normal(0, 0.05, tail.shape).astype(np.float32)
    data = ModelUpdate.quantise(info.id, {"tail.weight": delta}).to_bytes()
    with ArchiveReader(plain) as reader:
        header = replace(reader.header, model_id=compose_id(info.id, update_sha256(data)))
        with ArchiveWriter(out, header, groups=True) as writer:
            writer.add_update(data)
            writer.copy_from(reader)
    return out


def damage_update(path: Path) -> None:
    data = bytearray(path.read_bytes())
    with ArchiveReader(path) as reader:
        at = reader._data_start + 8 + 20  # inside the UPDT chunk's data
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def updated(tmp_path, clip, tiny_weights):
    plain = tmp_path / "plain.src"
    srcodec.encode(clip, plain, weights=[tiny_weights], codec="x264", group=4)
    return plain, with_update(plain, tmp_path / "tuned.src", tiny_weights)


def restored(path, weights) -> dict[str, np.ndarray]:
    with Archive(path, weights=[weights], engine="torch") as a:
        return dict(a.frames(on_damage=lambda *_: None))


def test_a_damaged_update_restores_every_frame_with_the_general_model(
    updated, tiny_weights, tmp_path
):
    """One byte flipped in the UPDT chunk: verify said "16 of 16 frames intact" and decode
    wrote nothing (exit 1)."""
    plain, tuned = updated
    general = restored(plain, tiny_weights)
    assert not all(np.array_equal(general[n], f) for n, f in restored(tuned, tiny_weights).items())
    damage_update(tuned)

    r = cli("verify", tuned)
    assert r.exit_code == 3 and "model update" in r.output
    assert "model update is DAMAGED: they restore with the general model" in r.output

    out = tmp_path / "out"
    r = cli("decode", tuned, "-o", out, "--weights", tiny_weights, "--engine", "torch")
    assert r.exit_code == 3, r.output
    assert "model update" in r.output and "general model" in r.output
    assert "16 frames restored" in r.output
    with Archive(tuned, weights=[tiny_weights], engine="torch") as a:
        assert "damaged" in a.update_problem
        np.testing.assert_array_equal(a[3], general["frame_000003"])
        got = {}
        with pytest.raises(DamagedArchiveError, match="general model"):
            for name, frame in a.frames():
                got[name] = frame
    assert got.keys() == general.keys()
    assert all(np.array_equal(got[n], general[n]) for n in general)
    # A video too, and a bicubic preview (which needs no model): every frame, exit 3.
    r = cli("decode", tuned, "-o", tmp_path / "out.mkv", "--bicubic")
    assert r.exit_code == 3 and "16 frames restored" in r.output


@pytest.fixture
def grouped(tmp_path, clip, tiny_weights):
    """Sixteen frames in x264 groups of 4 (groups 0-3)."""
    path = tmp_path / "g.src"
    srcodec.encode(clip, path, weights=[tiny_weights], codec="x264", group=4)
    return path


def test_info_counts_damaged_frames_and_numbers_groups_as_stored(grouped, tmp_path):
    """``info`` of an archive with damaged frames said "frames 16", exit 0; ``--frames``
    labelled the frames of group 2 as group 1 (a damaged group took no number)."""
    from test_footage import damage_group

    whole = cli("info", grouped)
    assert whole.exit_code == 0 and "DAMAGED" not in whole.output
    lost = damage_group(grouped, 1)
    assert lost == [f"frame_{k:06d}" for k in range(4, 8)]
    r = cli("info", grouped)
    assert r.exit_code == 3, r.output  # as verify's
    assert "frames       16 (" in r.output and "4 DAMAGED" in r.output
    assert "groups       4 of 4 frames" in r.output and "1 DAMAGED" in r.output
    r = cli("info", "--frames", grouped)
    lines = {line.split()[0]: line for line in r.output.splitlines() if "frame_0" in line}
    assert all("DAMAGED  group 1" in lines[name] for name in lost)
    assert all(f"group {k // 4}" in lines[f"frame_{k:06d}"] for k in range(16))
    with Archive(grouped) as a:
        info = a.info()
    assert [g["frames"] for g in info["groups"]] == [4, 4, 4, 4]
    assert info["groups"][1]["damaged"] and info["groups"][1]["payload_bytes"] is None
    assert info["groups"][2]["first"] == "frame_000008"
    assert info["damaged"] == lost
    assert cli("verify", grouped).exit_code == 3


def test_info_names_a_damaged_model_update(updated):
    _, tuned = updated
    assert cli("info", tuned).exit_code == 0
    damage_update(tuned)
    r = cli("info", tuned)
    assert r.exit_code == 3 and "model update DAMAGED" in r.output


def test_info_and_verify_take_many_archives(grouped, updated, tmp_path):
    """``decode`` took many archives, ``info`` and ``verify`` one."""
    import json

    plain, tuned = updated
    r = cli("info", plain, tuned)
    assert r.exit_code == 0 and r.output.count("archive      ") == 2
    r = cli("info", "--json", plain, tuned)
    assert [d["path"] for d in json.loads(r.output)] == [str(plain), str(tuned)]
    r = cli("verify", plain, tuned)
    assert r.exit_code == 0 and r.output.count(": intact: 16 of 16 frames intact") == 2
    damage_update(tuned)
    r = cli("verify", plain, tuned)
    assert r.exit_code == 3 and f"{plain}: intact" in r.output and f"{tuned}: DAMAGED" in r.output
    r = cli("verify", "--json", plain, tuned)
    assert [d["ok"] for d in json.loads(r.output)] == [True, False]
    # One that cannot be read is an error; the others are still checked.
    missing = tmp_path / "missing.src"
    r = cli("verify", missing, plain)
    assert r.exit_code == 1 and str(missing) in r.output and f"{plain}: intact" in r.output
    r = cli("info", plain, missing)
    assert r.exit_code == 1 and "archive      " in r.output
