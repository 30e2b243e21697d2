"""Shared pieces of the benchmark suite (benchmarks/run_all.py): the evaluation sets, the models
to compare, the machine description and small Markdown helpers. No image maths lives here.
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
if str(ROOT) not in sys.path:  # run as `python benchmarks/x.py` from a checkout
    sys.path.insert(0, str(ROOT))

from srcodec.registry import ModelInfo, inspect_weights, list_models, resolve  # noqa: E402
from srcodec.training import Pair, load_pairs  # noqa: E402

#: Default evaluation sets: name -> (folder, stride). Never trained on (docs/benchmarks.md).
DEFAULT_SETS = {
    "photos": (ROOT / "data" / "eval", 1),
    "cctv": (ROOT / "data" / "cctv" / "val", 4),
}


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


def rel(path: Path) -> str:
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def load_set(name: str, folder: Path, stride: int = 1, limit: int | None = None) -> EvalSet:
    """HR frames and their LR twins made by srcodec's one downscale (``load_pairs``)."""
    pairs = load_pairs(folder, role=name)[::stride]
    return EvalSet(name, Path(folder), stride, pairs[:limit] if limit else pairs)


def parse_set(spec: str) -> tuple[str, Path, int]:
    """``name=folder[:stride]``."""
    name, _, rest = spec.partition("=")
    folder, _, stride = rest.partition(":")
    return name, Path(folder), int(stride or 1)


def find_models(given: list[str]) -> list[ModelInfo]:
    """The bundled models, then every model given (a weights file or an installed id)."""
    found = [m for m in list_models() if m.source == "bundled"]
    for spec in given:
        found.append(inspect_weights(spec) if Path(spec).is_file() else resolve(spec))
    unique: dict[str, ModelInfo] = {}
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
    import PIL

    try:
        import imagecodecs

        ic = imagecodecs.__version__
    except ImportError:
        ic = "not installed"
    import os

    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "imagecodecs": ic,
        "os": platform.platform(),
    }


def md_table(head: list[str], rows: list[list], align: str | None = None) -> list[str]:
    align = align or "l" + "r" * (len(head) - 1)
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(marks[a] for a in align) + "|",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
    ]


class Progress:
    """Prints what the suite is doing, with elapsed time, on stderr."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self, msg: str) -> None:
        print(f"[{time.perf_counter() - self.t0:6.0f} s] {msg}", file=sys.stderr, flush=True)
