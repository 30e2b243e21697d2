"""Figures in README.md and docs/ rendered from the stored results, so that none drifts from the
measurement it quotes. Two kinds of marked region, in any Markdown file:

    <!-- figure quality result.results.cctv.bicubic.psnr_rgb | .2f -->29.98<!-- /figure -->
    <!-- section lossy_rd -->
    ...the benchmark's rendered Markdown...
    <!-- /section -->

A *figure* is ``RESULT EXPR [| FORMAT]``: ``RESULT`` names ``benchmarks/results/RESULT.json``;
``EXPR`` is one key path, or key paths and numbers joined by ``+ - * /`` (evaluated left to
right, e.g. ``a.psnr - b.psnr`` for a gain); ``FORMAT`` is a Python format spec (``.2f``,
``+.2f``, ``.1%``, ``,d``; default ``str``). A key path is dot-separated: a dict key, a list
index, ``field=value`` for the first list item whose ``field`` is ``value`` (``a/b=v&c=w``:
nested fields, several conditions), or a glob (``cctv*``) for the first dict key it matches.
Paths start at the file's top (``result.`` or ``meta.``). A *section* is the named
benchmark's ``render`` of its stored result. ``fill`` rewrites what sits between the markers;
``stale`` lists each region whose text differs from what the results render.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import RESULTS, BenchmarkError, load_result

FIGURE = re.compile(r"(<!-- figure (?P<spec>.+?) -->)(?P<text>.*?)(<!-- /figure -->)", re.S)
SECTION = re.compile(
    r"(<!-- section (?P<spec>[\w.-]+) -->\n)(?P<text>.*?)(<!-- /section -->)", re.S
)
OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def _matches(item: Any, conditions: str) -> bool:
    """``a/b=v&c=w``: item["a"]["b"] is v and item["c"] is w (as text; v may be a glob, ``?``
    standing for a space)."""
    for cond in conditions.split("&"):
        field, _, want = cond.partition("=")
        value = item
        for key in field.split("/"):
            value = value.get(key) if isinstance(value, dict) else None
        if not fnmatch.fnmatchcase(str(value), want):
            return False
    return True


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted key path (see the module's doc)."""
    value = data
    for part in path.split("."):
        if isinstance(value, list):
            if "=" in part:
                value = next((v for v in value if _matches(v, part)), None)
            elif part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
                value = value[int(part)]
            else:
                value = None
        elif isinstance(value, dict):
            if part not in value and any(c in part for c in "*?["):
                part = next((k for k in value if fnmatch.fnmatchcase(k, part)), part)
            value = value.get(part)
        else:
            value = None
        if value is None:
            raise BenchmarkError(f"no {part!r} in key path {path!r}")
    return value


def evaluate(spec: str, folder: Path = RESULTS, cache: dict | None = None) -> str:
    """The text a figure's spec renders to."""
    cache = {} if cache is None else cache
    expr, _, fmt = spec.partition("|")
    name, *tokens = expr.split()
    if not tokens or len(tokens) % 2 == 0:
        raise BenchmarkError(f"figure {spec!r}: give RESULT KEY [op KEY ...] [| FORMAT]")
    if name not in cache:
        cache[name] = load_result(name.removesuffix(".json"), folder)
    data = cache[name]

    def term(tok: str) -> Any:
        try:
            return float(tok)
        except ValueError:
            return lookup(data, tok)

    value = term(tokens[0])
    for op, tok in zip(tokens[1::2], tokens[2::2], strict=True):
        if op not in OPS:
            raise BenchmarkError(f"figure {spec!r}: unknown operator {op!r}")
        value = OPS[op](value, term(tok))
    fmt = fmt.strip()
    return format(value, fmt) if fmt else str(value)


def render_section(name: str, folder: Path = RESULTS) -> str:
    from . import get

    return get(name).render(load_result(name, folder)["result"]).rstrip("\n") + "\n"


def regions(text: str, folder: Path = RESULTS) -> list[tuple[re.Match, str]]:
    """Every marked region of ``text`` with the text the results render for it."""
    cache: dict = {}
    found = [(m, evaluate(m["spec"], folder, cache)) for m in FIGURE.finditer(text)]
    found += [(m, render_section(m["spec"], folder)) for m in SECTION.finditer(text)]
    return found


def fill(text: str, folder: Path = RESULTS) -> str:
    """``text`` with every marked region rendered from the results."""
    pieces, end = [], 0
    for m, new in sorted(regions(text, folder), key=lambda r: r[0].start()):
        pieces += [text[end : m.start("text")], new]
        end = m.end("text")
    return "".join(pieces) + text[end:]


def documents(root: Path) -> list[Path]:
    """The Markdown a reader meets: README.md, weights/README.md and docs/**/*.md."""
    found = [root / "README.md", root / "weights" / "README.md"]
    found += sorted((root / "docs").rglob("*.md"))
    return [p for p in found if p.is_file()]


def stale(paths: list[Path], folder: Path = RESULTS, root: Path | None = None) -> list[str]:
    """One line per marked region whose text differs from what the results render:
    ``file:line: spec: 'shown' != 'rendered'``."""
    out = []
    for path in paths:
        text = path.read_text()
        for m, new in regions(text, folder):
            if m["text"] != new:
                line = text.count("\n", 0, m.start()) + 1
                shown = path.relative_to(root) if root else path
                old, want = m["text"].strip(), new.strip()
                if "\n" in old + want:
                    old, want = "(section text)", f"{len(want.splitlines())} lines rendered"
                out.append(f"{shown}:{line}: {m['spec'].strip()}: {old!r} != {want!r}")
    return out


__all__ = ["documents", "evaluate", "fill", "lookup", "regions", "render_section", "stale"]
