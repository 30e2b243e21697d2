"""What every benchmark is given (``Context``: the evaluation sets, the models, the quick flag,
where results go, progress) and the helpers they share: the machine's description, Markdown
tables, timing engines against each other, and running one of the suite's modules in a fresh
Python process.
"""

from __future__ import annotations

import ctypes
import importlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import srcodec

from . import RESULTS, load_result

if TYPE_CHECKING:
    from srcodec.training.trainer import Pair

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: Default evaluation sets: name -> (folder, stride). Never trained on (docs/benchmarks.md).
DEFAULT_SETS = {
    "photos": (ROOT / "data" / "eval", 1),
    "cctv": (ROOT / "data" / "cctv" / "val", 4),
}
#: Frames per set in a ``--quick`` run (a smoke test, not a measurement).
QUICK_FRAMES = 2


@dataclass
class EvalSet:
    name: str
    folder: Path
    stride: int
    pairs: list[Pair] = field(repr=False)

    @property
    def pixels(self) -> int:
        return sum(p.hr.shape[0] * p.hr.shape[1] for p in self.pairs)

    def describe(self) -> str:
        sizes = sorted({f"{p.hr.shape[1]}x{p.hr.shape[0]}" for p in self.pairs})
        shown = ", ".join(sizes) if len(sizes) <= 3 else f"{len(sizes)} sizes"
        every = f", every {self.stride}th" if self.stride > 1 else ""
        return f"`{rel(self.folder)}` ({len(self.pairs)} frames{every}; {shown})"


def rel(path: str | Path) -> str:
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def load_set(name: str, folder: str | Path, stride: int = 1, limit: int | None = None) -> EvalSet:
    """HR frames and their LR twins made by srcodec's one downscale (``load_pairs``)."""
    from srcodec.training.trainer import load_pairs

    pairs = load_pairs(folder, role=name)[::stride]
    return EvalSet(name, Path(folder), stride, pairs[:limit] if limit else pairs)


def parse_set(spec: str) -> tuple[str, Path, int]:
    """``name=folder[:stride]``."""
    name, _, rest = spec.partition("=")
    folder, _, stride = rest.partition(":")
    return name, Path(folder), int(stride or 1)


def model_info(spec: str) -> srcodec.ModelInfo:
    """The model ``spec`` names: a weights file or an installed id."""
    if Path(spec).is_file():
        return srcodec.list_models([spec])[0]
    return srcodec.get_model(spec)


def find_models(given: list[str]) -> list[srcodec.ModelInfo]:
    """The bundled x2 models, then every model given (a weights file or an installed id). The
    bundled x1 models restore codec artefacts, not halved frames: lossy_rd measures them."""
    found = [m for m in srcodec.list_models() if m.source == "bundled" and m.scale == 2]
    found += [model_info(spec) for spec in given]
    unique: dict[str, srcodec.ModelInfo] = {}
    for m in found:
        unique.setdefault(m.sha256, m)
    return list(unique.values())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """The CPU, its cores and the load on it, and the GPU if torch sees one."""
    import torch

    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "load_before": round(os.getloadavg()[0], 2),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "os": platform.platform(),
    }


def _version(module: str) -> str:
    try:
        return str(importlib.import_module(module).__version__)
    except ImportError:
        return "not installed"


def _c_version(pattern: str, symbol: str, variable: bool = False) -> str:
    """A version string a codec library bundled with PyAV exports (function or variable)."""
    import av

    found = sorted(Path(av.__file__).resolve().parent.parent.glob(f"av.libs/{pattern}"))
    if not found:
        return "not bundled"
    try:
        lib = ctypes.CDLL(str(found[0]))
        if variable:
            value = ctypes.c_char_p.in_dll(lib, symbol).value
        else:
            fn = getattr(lib, symbol)
            fn.restype = ctypes.c_char_p
            value = fn()
    except (OSError, AttributeError, ValueError):
        return f"{found[0].name} (version unknown)"
    return (value or b"").decode()


def _x264_version() -> str:
    """x264 writes its version into the stream it codes (one 64x64 frame here)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    found = re.search(rb"x264 - core (\d+)( r\d+ \w+)?", buf.getvalue())
    return found.group(0).decode().removeprefix("x264 - ") if found else "unknown"


def codec_libraries() -> dict:
    """Versions of the codec libraries a run used: PyAV's FFmpeg and the encoders and decoders
    bundled with it, and libjxl / libwebp / libavif through imagecodecs."""
    out: dict[str, str] = {}
    try:
        import av

        out["ffmpeg"] = av.ffmpeg_version_info
        out["libx264"] = _x264_version()
        out["libx265"] = _c_version("libx265*", "x265_version_str", variable=True)
        out["svt-av1"] = _c_version("libSvtAv1Enc*", "svt_av1_get_version")
        out["dav1d"] = _c_version("libdav1d*", "dav1d_version")
    except ImportError:
        out["ffmpeg"] = "PyAV not installed"
    try:
        import imagecodecs

        for name in ("jpegxl", "webp", "avif", "zstd"):
            fn = getattr(imagecodecs, f"{name}_version", None)
            out[name] = fn() if fn else "not built"
    except ImportError:
        pass
    return out


def software() -> dict:
    """Versions of srcodec (and its git commit), Python, the engines and the image stack."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)

    try:
        commit = git("rev-parse", "--short=12", "HEAD").stdout.strip() or "unknown"
        # Edited code (not docs, not stored results) makes the commit an approximation.
        code = ["srcodec", "weights", "benchmarks", ":!benchmarks/results"]
        if git("diff", "--quiet", "HEAD", "--", *code).returncode:
            commit += "+edits"
    except OSError:
        commit = "unknown"
    return {
        "srcodec": srcodec.__version__,
        "commit": commit,
        "python": platform.python_version(),
        **{m: _version(m) for m in ("torch", "onnxruntime", "av", "numpy", "PIL")},
        "imagecodecs": _version("imagecodecs"),
        "codecs": codec_libraries(),
    }


def provenance(command: str, frames: dict[str, str]) -> dict:
    """What every stored result records before its run: the command, the date, the machine
    (CPU, cores, load before the run), the software and codec versions, and which frames
    chose the settings measured and which frames the figures report (``frames``:
    ``chosen_on`` and ``reported_on``)."""
    return {
        "command": command,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "software": software(),
        "frames": frames,
    }


def md_table(head: list[str], rows: list[list], align: str | None = None) -> list[str]:
    align = align or "l" + "r" * (len(head) - 1)
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(marks[a] for a in align) + "|",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
    ]


def nchw(lr: np.ndarray) -> np.ndarray:
    """An HxWx3 uint8 frame as the float32 1x3xHxW batch a network takes."""
    return np.ascontiguousarray(lr.transpose(2, 0, 1)[None], np.float32)


def seconds(fns: dict[str, Callable[[Any], object]], x: Any, repeat: int) -> dict[str, float]:
    """Best of ``repeat`` timed runs of each function on ``x`` after one warm-up each. They
    take turns in every round, so load from other processes on a shared machine falls on all
    of them alike, and the best run is the one least disturbed."""
    for fn in fns.values():
        fn(x)  # warm-up: first-call allocations, kernel selection
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(x)
            times[name].append(time.perf_counter() - t0)
    return {name: min(t) for name, t in times.items()}


def run_module(module: str, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """``python -m module args`` in a fresh process that imports this checkout's packages, so
    no thread pool of this process (torch's, waifu2x's) runs beside what it measures."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, text=True, **kwargs
    )


class Progress:
    """Prints what the suite is doing, with elapsed time, on stderr."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self, msg: str) -> None:
        print(f"[{time.perf_counter() - self.t0:6.0f} s] {msg}", file=sys.stderr, flush=True)


@dataclass
class Context:
    """What a benchmark's ``run`` is given. Sets and models load on first use, so benchmarks
    that need neither (the paper's PSNR, the GPU record) run without data/."""

    model_specs: list[str] = field(default_factory=list)
    quick: bool = False
    threads: int = 2
    cctv_stride: int = DEFAULT_SETS["cctv"][1]
    out: Path = RESULTS
    progress: Progress = field(default_factory=Progress)

    @property
    def limit(self) -> int | None:
        """Frames per set: all, or a few in a quick run."""
        return QUICK_FRAMES if self.quick else None

    @cached_property
    def sets(self) -> dict[str, EvalSet]:
        limit = self.limit
        strides = {"photos": DEFAULT_SETS["photos"][1], "cctv": self.cctv_stride}
        sets = {n: load_set(n, f, strides[n], limit) for n, (f, _) in DEFAULT_SETS.items()}
        self.progress(f"sets: {', '.join(s.describe() for s in sets.values())}")
        return sets

    @cached_property
    def models(self) -> list[srcodec.ModelInfo]:
        models = find_models(self.model_specs)
        self.progress(f"models: {', '.join(m.short_id for m in models)}")
        return models

    def result(self, name: str) -> dict:
        """The result of benchmark ``name`` from this run's folder (it ran first), else the
        committed one."""
        folder = self.out if (Path(self.out) / f"{name}.json").is_file() else RESULTS
        return load_result(name, folder)["result"]

    def describe_inputs(self) -> dict:
        """The sets and models this run used (those loaded), for the stored result."""
        used = self.__dict__
        return {
            "sets": {n: s.describe() for n, s in used["sets"].items()} if "sets" in used else {},
            "models": [f"{m.id} ({m.source})" for m in used.get("models", [])],
        }


def store(folder: Path, name: str, result: dict, meta: dict) -> Path:
    """Write ``{"meta": ..., "result": ...}`` to ``folder/NAME.json``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps({"meta": meta, "result": result}, indent=1) + "\n")
    return path
