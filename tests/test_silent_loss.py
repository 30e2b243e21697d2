"""No silent loss: an archive that is not whole is reported as damaged by every reader."""

import numpy as np
import pytest

import srcodec
from srcodec.container import FOREIGN, ArchiveReader


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
