"""Every figure in the docs comes from a committed result: ``python -m benchmarks report
--check`` fails when docs/benchmarks.md or a marked figure in README.md or docs/ differs from
what benchmarks/results renders; the marker language (benchmarks.figures) itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import BenchmarkError
from benchmarks.figures import evaluate, fill, lookup, stale

ROOT = Path(__file__).resolve().parent.parent

RESULT = {
    "meta": {"command": "python -m benchmarks run demo"},
    "result": {
        "rows": [
            {"codec": {"id": "png", "level": 9}, "ratio": 3.12, "engine": "torch eager"},
            {"codec": {"id": "jxl", "effort": 7}, "ratio": 4.4567, "engine": "onnxruntime fp32"},
        ],
        "results": {"cctv, `data/cctv/val` (20 frames)": {"model": 33.40, "bicubic": 29.98}},
    },
}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "demo.json").write_text(json.dumps(RESULT))
    return folder


def test_committed_docs_match_the_committed_results():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "report", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_key_paths_select_rows_keys_and_nested_fields():
    data = RESULT
    assert lookup(data, "result.rows.1.ratio") == 4.4567
    assert lookup(data, "result.rows.codec/id=jxl&codec/effort=7.ratio") == 4.4567
    assert lookup(data, "result.rows.engine=onnxruntime?fp32.codec.id") == "jxl"
    assert lookup(data, "result.results.cctv*.model") == 33.40
    with pytest.raises(BenchmarkError, match="codec/id=webp"):
        lookup(data, "result.rows.codec/id=webp.ratio")


def test_expressions_and_formats(results: Path):
    gain = "demo result.results.cctv*.model - result.results.cctv*.bicubic | +.2f"
    assert evaluate(gain, results) == "+3.42"
    assert evaluate("demo result.rows.1.ratio | .2f", results) == "4.46"
    assert evaluate("demo result.rows.0.ratio * 100 | .0f", results) == "312"
    assert evaluate("demo meta.command", results) == "python -m benchmarks run demo"


def test_a_figure_that_moved_is_found_and_rerendered(tmp_path: Path, results: Path):
    doc = tmp_path / "page.md"
    doc.write_text(
        "Smaller by <!-- figure demo result.rows.1.ratio | .2f -->4.46<!-- /figure -->x, "
        "gaining <!-- figure demo result.rows.0.ratio | .1f -->3.0<!-- /figure --> (stale).\n"
    )
    (found,) = stale([doc], results)
    assert "page.md:1:" in found and "'3.0' != '3.1'" in found
    doc.write_text(fill(doc.read_text(), results))
    assert stale([doc], results) == []
    assert "-->3.1<!--" in doc.read_text()


def test_an_unknown_result_or_key_is_an_error_not_a_silent_pass(tmp_path: Path, results: Path):
    doc = tmp_path / "page.md"
    doc.write_text("<!-- figure nothing result.x -->1<!-- /figure -->\n")
    with pytest.raises(BenchmarkError, match="no stored result"):
        stale([doc], results)


def test_the_page_lists_what_is_not_measured_and_renders_nothing_else(tmp_path: Path):
    from benchmarks.report import render

    shutil.copy(ROOT / "benchmarks" / "results" / "paper.json", tmp_path / "paper.json")
    page = render(tmp_path, figures=False)
    assert "**Not measured** (no stored result): size, quality, rd" in page
    assert "## The source paper's" in page and "## Size" not in page
    with pytest.raises(BenchmarkError, match="no stored result"):
        render(tmp_path, names=["size"], figures=False)
