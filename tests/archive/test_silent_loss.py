"""No silent loss: an archive that is not whole is reported as damaged by every reader."""

import numpy as np
import pytest

import srcodec
from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.layout import FOREIGN


def frames(prefix, n, seed):
    rng = np.random.default_rng(seed)
    return [(f"{prefix}{i}", rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for i in range(n)]


@pytest.fixture
def two_archives(tmp_path):
    a, b = tmp_path / "a.src", tmp_path / "b.src"
    srcodec.encode(frames("a", 3, 0), a)
    srcodec.encode(frames("b", 2, 1), b)
    return a, b


@pytest.mark.parametrize("second", ["other", "same", "cut_first"])
def test_concatenated_archives_are_foreign_data_not_adopted(tmp_path, two_archives, second):
    a, b = two_archives
    first = a.read_bytes()
    if second == "cut_first":  # a truncated archive with a whole one after it
        first = first[: len(first) * 2 // 3]
    tail = a.read_bytes() if second == "same" else b.read_bytes()
    c = tmp_path / "c.src"
    c.write_bytes(first + tail)
    with ArchiveReader(c) as reader:
        assert reader.index_recovered
        assert not any(name.startswith("b") for name in reader.names)
        assert FOREIGN in reader.damage
        assert set(reader.names) <= {"a0", "a1", "a2"}
    report = srcodec.verify(c)
    assert not report.ok
    assert any(r.reason == FOREIGN and r.offset == len(first) for r in report.damaged_regions)


def run_cli(*args):
    from click.testing import CliRunner

    from srcodec.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def truncated(tmp_path, source):
    with ArchiveReader(source) as reader:
        last = reader.entry(reader.names[-1])
    cut = tmp_path / "t.src"
    cut.write_bytes(source.read_bytes()[: last.offset + last.chunk_size // 2])  # inside it
    return cut


def test_truncated_archive_decodes_intact_frames_then_reports_the_loss(tmp_path, two_archives):
    a, _ = two_archives
    cut = truncated(tmp_path, a)
    verify_damaged = {r.name for r in srcodec.verify(cut).damaged_regions}
    assert verify_damaged == {"a2"}
    # Python: every intact frame first, then one error naming everything lost.
    got = []
    with pytest.raises(srcodec.DamagedArchiveError) as err:
        for name, _frame in srcodec.decode(cut, bicubic=True):
            got.append(name)
    assert got == ["a0", "a1"]
    named = {name for name, _ in err.value.lost}
    assert "a2" in named and None in named  # the cut frame and the unusable index
    # ...or each loss told to on_damage as it is found, and no error.
    told = []
    out = list(srcodec.decode(cut, bicubic=True, on_damage=lambda n, e: told.append(n)))
    assert [n for n, _ in out] == ["a0", "a1"] and "a2" in told
    # CLI: the damage exit status, the cut frame named.
    r = run_cli("decode", cut, "--bicubic", "-o", tmp_path / "o")
    assert r.exit_code == 3 and "a2" in r.output and "index unusable" in r.output
    # One frame was cut; the unusable index is damage, not a second frame (it said 2 before).
    assert "1 damaged frame skipped, 1 other damage" in r.output


def test_damaged_middle_frame_does_not_hide_later_frames(tmp_path):
    path = tmp_path / "m.src"
    srcodec.encode(frames("f", 4, 2), path)
    with ArchiveReader(path) as reader:
        entry = reader.entry("f1")
    data = bytearray(path.read_bytes())
    data[entry.offset + entry.chunk_size // 2] ^= 0x55
    path.write_bytes(bytes(data))
    got = []
    with pytest.raises(srcodec.DamagedArchiveError) as err:
        for name, _ in srcodec.decode(path, bicubic=True):
            got.append(name)
    assert got == ["f0", "f2", "f3"] and [n for n, _ in err.value.lost] == ["f1"]


def test_concatenated_archives_decode_reports_foreign_data(tmp_path, two_archives):
    a, b = two_archives
    c = tmp_path / "c.src"
    c.write_bytes(a.read_bytes() + b.read_bytes())
    r = run_cli("decode", c, "--bicubic", "-o", tmp_path / "o")
    assert r.exit_code == 3 and "another archive" in r.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a0.png", "a1.png", "a2.png"]


def test_archive_iterates_contains_and_raises_index_error(two_archives):
    a, _ = two_archives
    with srcodec.open(a, bicubic=True) as archive:
        assert [name for name, _ in archive] == ["a0", "a1", "a2"]
        assert "a1" in archive and "nope" not in archive and 1 not in archive
        assert archive[-1].shape == archive["a2"].shape
        with pytest.raises(IndexError):
            archive[3]
        with pytest.raises(IndexError):
            archive[-4]


def test_append_reports_the_ratio_of_the_appended_frames(tmp_path):
    path = tmp_path / "r.src"
    first = srcodec.encode(frames("a", 6, 3), path)
    before = path.stat().st_size
    more = srcodec.append(frames("b", 1, 4), path)
    assert more.archive_bytes == path.stat().st_size
    assert more.added_bytes == more.archive_bytes - before
    # One new frame of the same kind compresses about as well as the first six did.
    assert more.ratio == pytest.approx(first.ratio, rel=0.25)


def test_decode_of_an_archive_without_extension_does_not_collide(tmp_path, two_archives):
    a, _ = two_archives
    bare = tmp_path / "noext"
    bare.write_bytes(a.read_bytes())
    r = run_cli("decode", bare, "--bicubic")
    assert r.exit_code == 0, r.output
    assert bare.is_file() and len(list((tmp_path / "noext.restored").iterdir())) == 3


def test_archive_scale_must_match_the_model(tmp_path, tiny_weights, monkeypatch):
    from srcodec.archive.filewriter import ArchiveWriter
    from srcodec.archive.layout import FrameRecord, Header
    from srcodec.lowres import get_codec
    from srcodec.models.store import inspect_weights

    info = inspect_weights(tiny_weights)
    codec = get_codec("png")
    path = tmp_path / "x4.src"
    header = Header(info.id, 4, codec.get_config(), "2026-01-01T00:00:00+00:00", "test")
    frame = np.zeros((16, 16, 3), np.uint8)
    with ArchiveWriter(path, header) as writer:
        writer.add(FrameRecord("f", 64, 64, "RGB", codec.encode(frame)))
    with pytest.raises(srcodec.ModelError, match="x4.*restores x2"):
        list(srcodec.decode(path, weights=[tiny_weights]))
    r = run_cli("decode", path, "--weights", tiny_weights, "-o", tmp_path / "o")
    assert r.exit_code == 1 and "restores x2" in r.output
    assert not (tmp_path / "o").exists()
    # verify checks it when the model is installed here
    monkeypatch.setenv("SRCODEC_MODELS", str(tmp_path / "models"))
    r = run_cli("models", "--install", tiny_weights)
    assert r.exit_code == 0, r.output
    report = srcodec.verify(path)
    assert not report.ok and "restores x2" in report.model_problem


def test_x1_model_archives_store_full_resolution_and_restore_at_the_same_size(tmp_path):
    from srcodec.models import create_model
    from srcodec.models.store import save_model

    weights = tmp_path / "x1.safetensors"
    save_model(create_model("plain", scale=1), weights, "tiny-plain-x1")
    path = tmp_path / "x1.src"
    srcodec.encode(frames("f", 2, 5), path, weights=[weights])
    with srcodec.open(path, weights=[weights], engine="torch") as archive:
        assert archive.header.scale == 1
        assert archive.lowres(0).shape == (48, 64, 3)
        assert archive[0].shape == (48, 64, 3)
