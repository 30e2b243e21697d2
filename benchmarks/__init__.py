"""srcodec's benchmark suite: a registry of benchmarks (``@benchmark``), each a class with
``run(ctx) -> dict`` and ``render(result) -> str``, found in ``benchmarks.suite``.

    python -m benchmarks list | run [NAMES...] [--quick] [--model M] | report
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .context import Context

#: Where the committed results live, one ``NAME.json`` per benchmark.
RESULTS = Path(__file__).resolve().parent / "results"


class BenchmarkError(Exception):
    """A benchmark name, order or stored result the suite cannot use."""


def pyplot() -> Any:
    """matplotlib.pyplot with the file-only Agg backend, or ``BenchmarkError`` saying how to
    get it (the ``bench`` extra) or render without plots."""
    try:
        import matplotlib
    except ImportError:
        raise BenchmarkError(
            "the plots need matplotlib (pip install -e '.[bench]'), or render without plots: "
            "python -m benchmarks report --no-figures"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class Benchmark:
    """One section of docs/benchmarks.md. Subclasses set ``name``, ``section`` (the report's
    order; 4.1 follows 4), ``requires`` (benchmarks whose results ``run`` reads through
    ``ctx.result``), ``chosen_on`` / ``reported_on`` (which frames chose what it measures and
    which it reports) and implement ``run`` and ``render``; ``figures`` writes plots, if any."""

    name: str = ""
    section: float = 0.0
    requires: tuple[str, ...] = ()
    #: Which frames chose the settings this benchmark measures (stored with every result).
    chosen_on: str = (
        "the bundled models as shipped: trained on the photos of data/train_plus, checkpoint "
        "chosen on the 3 photos of data/val (weights/README.md); no setting chosen here"
    )
    #: Which frames its figures report; empty: the evaluation sets it loaded.
    reported_on: str = ""

    def run(self, ctx: Context) -> dict:
        """Measure; return a JSON-safe dict from which ``render`` can write the section."""
        raise NotImplementedError

    def render(self, result: dict) -> str:
        """The section's Markdown, from a stored result alone (nothing measured)."""
        raise NotImplementedError

    def figures(self, result: dict, folder: Path) -> list[str]:
        """Write the section's plots into ``folder`` from the result; their file names."""
        return []


_REGISTRY: dict[str, Benchmark] = {}
B = TypeVar("B", bound=type[Benchmark])


def benchmark(name: str, section: float, requires: tuple[str, ...] = ()) -> Callable[[B], B]:
    """Class decorator: register a ``Benchmark`` subclass under ``name``."""

    def register(cls: B) -> B:
        if name in _REGISTRY and type(_REGISTRY[name]) is not cls:
            raise BenchmarkError(f"benchmark {name!r} is registered twice")
        cls.name, cls.section, cls.requires = name, section, tuple(requires)
        _REGISTRY[name] = cls()
        return cls

    return register


def discover() -> list[str]:
    """Import every public module of ``benchmarks.suite`` (each registers itself); their names."""
    from . import suite

    found = []
    for mod in pkgutil.iter_modules(suite.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{suite.__name__}.{mod.name}")
            found.append(mod.name)
    return found


def registry() -> dict[str, Benchmark]:
    """Every benchmark, in the report's order."""
    discover()
    return dict(sorted(_REGISTRY.items(), key=lambda kv: kv[1].section))


def get(name: str) -> Benchmark:
    found = registry()
    if name not in found:
        raise BenchmarkError(f"no benchmark {name!r}; known: {', '.join(found)}")
    return found[name]


def plan(names: list[str]) -> list[Benchmark]:
    """The benchmarks named (all when none), in an order where each runs after what it needs."""
    found = registry()
    chosen = [get(n) for n in names] if names else list(found.values())
    order: list[Benchmark] = []

    def visit(b: Benchmark, path: tuple[str, ...]) -> None:
        if b.name in path:
            raise BenchmarkError(f"benchmarks require each other: {' -> '.join(path)}")
        for dep in b.requires:
            if dep in {c.name for c in chosen}:
                visit(get(dep), (*path, b.name))
        if b not in order:
            order.append(b)

    for b in sorted(chosen, key=lambda b: b.section):
        visit(b, ())
    return order


def load_result(name: str, folder: Path = RESULTS) -> dict[str, Any]:
    import json

    path = Path(folder) / f"{name}.json"
    if not path.is_file():
        raise BenchmarkError(f"no stored result for {name!r} at {path}: run it first")
    return json.loads(path.read_text())


__all__ = [
    "RESULTS",
    "Benchmark",
    "BenchmarkError",
    "benchmark",
    "discover",
    "get",
    "load_result",
    "plan",
    "registry",
]
