"""The benchmark suite's registry and report (benchmarks/): every suite module registers one
benchmark with the common signature, and the report renders from stored results alone."""

import inspect
import json
import pkgutil

import numpy as np
import pytest

import benchmarks
from benchmarks import report, suite
from benchmarks.context import Context

GPU_RESULT = {
    "file": "gpu_check.json",
    "measured": "2026-01-02T03:04:05+00:00",
    "gpu": "Fake GPU 9000",
    "torch": "9.9",
    "command": "python -m benchmarks.gpu.gpu_check",
    "archives": [
        {
            "model": "tiny@0123456789abcdef",
            "frames": 8,
            "fps": 123.4,
            "gpu_peak_mib": 77,
            "max_abs_diff_vs_cpu": 1,
            "pixels_differing_vs_cpu": 0.0125,
        }
    ],
    "network": [
        {
            "model": "tiny",
            "precision": "fp16",
            "batch": 8,
            "fps_400x400": 456.0,
            "gpu_peak_mib": 99,
            "max_abs_diff_vs_fp32": 1,
            "psnr_rgb": 31.4159,
        }
    ],
}
META = {
    "benchmark": "gpu",
    "command": "python -m benchmarks run gpu",
    "started": "2026-01-02T03:04:05+00:00",
    "seconds": 0.1,
    "load": [0.5, 0.7],
    "quick": False,
    "threads": 2,
    "machine": {
        "cpu": "Fake CPU",
        "cpus": 2,
        "torch": "9.9",
        "gpu": "none",
        "python": "3.x",
        "numpy": "2.x",
        "pillow": "12",
        "imagecodecs": "2026",
        "os": "Linux",
    },
    "sets": {},
    "models": [],
}


def test_registry_lists_every_suite_module():
    modules = {m.name for m in pkgutil.iter_modules(suite.__path__) if not m.name.startswith("_")}
    found = benchmarks.registry()
    assert {type(b).__module__.rsplit(".", 1)[-1] for b in found.values()} == modules
    assert len(found) == len(modules)
    assert {"size", "quality", "rd", "speed", "gpu", "paper", "engines", "int8", "parallel"} <= set(
        found
    )
    sections = [b.section for b in found.values()]
    assert sections == sorted(sections) and len(set(sections)) == len(sections)


def test_every_benchmark_has_the_common_signature():
    for name, b in benchmarks.registry().items():
        assert isinstance(b, benchmarks.Benchmark) and b.name == name
        assert list(inspect.signature(b.run).parameters) == ["ctx"], name
        assert list(inspect.signature(b.render).parameters) == ["result"], name
        assert list(inspect.signature(b.figures).parameters) == ["result", "folder"], name
        assert type(b).run is not benchmarks.Benchmark.run, f"{name} does not measure"
        assert type(b).render is not benchmarks.Benchmark.render, f"{name} does not render"
        assert set(b.requires) <= set(benchmarks.registry()), name


def test_plan_runs_requirements_first():
    order = [b.name for b in benchmarks.plan(["rd", "quality"])]
    assert order == ["quality", "rd"]
    assert [b.name for b in benchmarks.plan(["rd"])] == ["rd"]  # reads the stored quality
    with pytest.raises(benchmarks.BenchmarkError, match="no benchmark 'nope'"):
        benchmarks.plan(["nope"])


def test_report_renders_from_a_stored_result_without_running(tmp_path, monkeypatch):
    def refuse(self, ctx: Context) -> dict:
        raise AssertionError("report must not run a benchmark")

    for b in benchmarks.registry().values():
        monkeypatch.setattr(type(b), "run", refuse)
    (tmp_path / "gpu.json").write_text(json.dumps({"meta": META, "result": GPU_RESULT}))
    (out,) = report.write(tmp_path / "benchmarks.md", tmp_path, ["gpu"])
    text = out.read_text()
    assert text.startswith("# Benchmarks")
    assert "Fake CPU (2 CPUs" in text and "`python -m benchmarks run gpu`" in text
    assert "### GPU" in text and "Fake GPU 9000" in text
    assert "| tiny@0123456789ab | 8 | 123.4 | 77 | 1 (1.25% of values) |" in text
    assert "| tiny | fp16 | 8 | 456 | 99 | 1 | 31.416 |" in text


def test_int8_and_parallel_render_from_stored_results(tmp_path):
    from benchmarks.suite import int8

    photos = [int8._pair("a.png", np.full((40, 60, 3), 120, np.uint8))]
    clean = int8.clean(photos, seeds=(1,))
    assert [p.name for p in clean] == ["a-smooth", "a-dark", "a-bright", "gradient-1"]
    assert all(p.lr.shape[:2] == (p.hr.shape[0] // 2, p.hr.shape[1] // 2) for p in clean)
    q = int8.compare([("x", 30.0, 31.0), ("y", 40.0, 41.0)], [("x", 29.9, 31.0), ("y", 39.5, 40.8)])
    assert q["worst_frame"] == "y" and q["worst_rgb"] == pytest.approx(-0.5)
    assert q["delta_rgb"] == pytest.approx(-0.3) and q["worst_y"] == pytest.approx(-0.2)
    results = {
        "int8": {
            "threads": 2,
            "sets": {"photos": "`data/eval`"},
            "notes": [],
            "models": [
                {
                    "model": "tiny@0123",
                    "files": {},
                    "quality": {"shipped": {"photos": q}},
                    "input": "200x200",
                    "ms": {int8.EAGER: 100.0, "onnxruntime int8 shipped": 25.0},
                }
            ],
        },
        "parallel": {
            "frames": 4,
            "lowres": "384x288",
            "set": "`data/cctv/val`",
            "repeat": 1,
            "cpus": 2,
            "load_before": 0.5,
            "load_after": [0.6, 0.4, 0.3],
            "models": [{"model": "tiny@0123", "engine": "onnx", "fps": {"1": 2.0, "2": 3.8}}],
        },
    }
    for name, result in results.items():
        meta = {**META, "benchmark": name}
        (tmp_path / f"{name}.json").write_text(json.dumps({"meta": meta, "result": result}))
    (out,) = report.write(tmp_path / "benchmarks.md", tmp_path, ["int8", "parallel"])
    text = out.read_text()
    assert "| tiny@0123 | shipped | photos | 2 | 35.00 | -0.300 | -0.100 | -0.500 (y) |" in text
    assert "| onnxruntime int8 shipped | 25.0 | 4.00 |" in text
    assert "| tiny@0123 | onnx | 2.00 | 3.80 | 1.90x |" in text
    assert text.index("int8 against fp32") < text.index("## Parallel")


def test_report_names_what_is_missing(tmp_path):
    assert "**Not measured** (no stored result): size," in report.render(tmp_path, tmp_path)
    with pytest.raises(benchmarks.BenchmarkError, match="no stored result .* size"):
        report.render(tmp_path, tmp_path, ["size"])


def test_cli_lists_the_benchmarks(capsys):
    from benchmarks.__main__ import main

    assert main(["list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == list(benchmarks.registry())


def test_size_names_the_codec_encode_gives_stills():
    """``srcodec.encode`` chooses its codec by what it is given (its ``codec`` default is None):
    the size benchmark records the per-frame codec stills get (it failed on the None default,
    so ``run --quick`` stopped at its first benchmark)."""
    from benchmarks.suite.size import default_codec

    assert default_codec()["id"] == "srcodec.jxl"


def test_engines_markdown_renders_a_fresh_result():
    """A result measured now (machine() no longer carries versions) renders its header with
    the torch version (``run --quick`` failed here with KeyError: 'torch')."""
    import torch

    from benchmarks.suite.engines import markdown, measured_on

    result = {"machine": measured_on(), "models": [], "sets": {}}
    assert f"torch {torch.__version__}" in "\n".join(markdown(result))


def test_profile_decode_speeds_compare_networks_not_the_base_codec():
    """The profile benchmark's decode figure averaged every archive of the bundled curve,
    where the base codec (chosen at the better rates, no network, 2 ms a frame) pulled the mean
    down: 0.087 s against the profile's 0.127, which ran its network at every rate (0.15 s a
    frame where the bundled network ran)."""
    from benchmarks.suite.profile import decode_speeds

    bundled = [{"candidate": "base", "decode_s": 0.002, "setting": s} for s in range(3)] + [
        {"candidate": "x1", "decode_s": 0.15, "setting": s} for s in range(3, 7)
    ]
    tuned = [{"candidate": "x1-profile", "decode_s": 0.13, "setting": s} for s in range(7)]
    speeds = decode_speeds(bundled, tuned)
    assert speeds["bundled"] == pytest.approx(0.15) and speeds["profile"] == pytest.approx(0.13)
    assert decode_speeds(bundled[:3], [])["bundled"] is None
    # Where both ran a network (the last 4 rates): the profile's first 3 rates (the codec's
    # costlier frames, at which the bundled curve took the base codec) are left out.
    tuned = [{**t, "decode_s": 0.2} for t in tuned[:3]] + tuned[3:]
    speeds = decode_speeds(bundled, tuned)
    assert speeds["profile"] == pytest.approx((0.6 + 0.52) / 7)
    assert speeds["profile_same_rates"] == pytest.approx(0.13)
    assert speeds["bundled_same_rates"] == pytest.approx(0.15)
