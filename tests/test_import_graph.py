"""The floor plan holds (docs/architecture.md): read from the source with ``ast``, no import
circles between srcodec's modules, no module importing another's private names or its own
package's ``__init__``, and no module over 600 lines."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "srcodec"
MAX_LINES = 600


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported (a package means its __init__)
    names: tuple[str, ...]  # names taken from it (empty for ``import x``)
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str) -> list[Import]:
    tree = ast.parse(MODULES[name].read_text())
    type_only = _type_checking_lines(tree)
    package = name if is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "srcodec":
                    found.append(Import(name, alias.name, (), node.lineno, False))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "srcodec":
                continue
            names = tuple(a.name for a in node.names)
            submodules = [n for n in names if f"{target}.{n}" in MODULES]
            for sub in submodules:  # ``from . import edsr``: an import of the module edsr
                found.append(Import(name, f"{target}.{sub}", (), node.lineno, False))
            rest = tuple(n for n in names if n not in submodules)
            if rest:
                found.append(Import(name, target, rest, node.lineno, node.lineno in type_only))
    return found


IMPORTS = [i for name in MODULES for i in imports_of(name)]


def test_the_graph_is_read():
    assert "srcodec.archive.layout" in MODULES and len(IMPORTS) > 100
    assert all(i.target in MODULES for i in IMPORTS), [
        i for i in IMPORTS if i.target not in MODULES
    ]


def test_no_import_circles():
    """Every import counts (those inside functions too: a deferred import still ties two
    modules together), except those only for type checkers."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for i in IMPORTS:
        if not i.type_only and i.target != i.source:
            graph[i.source].add(i.target)
    circles, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                circles.append(path[path.index(nxt) :] + [nxt])
            elif state[nxt] == 0:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if state[name] == 0:
            visit(name, [name])
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_no_module_imports_another_modules_private_names():
    private = [
        f"{i.source}:{i.line} takes {n} from {i.target}"
        for i in IMPORTS
        for n in i.names
        if n.startswith("_") and not n.startswith("__")
    ]
    assert not private, "\n".join(private)


def test_no_module_imports_upward():
    """A module never imports the ``__init__`` of a package it is inside (its own package's
    or srcodec's): the ``__init__`` files re-export, the modules below them do the work."""
    upward = [
        f"{i.source}:{i.line} imports {', '.join(i.names) or 'it'} from {i.target}"
        for i in IMPORTS
        if is_package(i.target) and i.source.startswith(i.target + ".")
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_600_lines(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name]}: {lines} lines; split it by what it holds"


#: docs/architecture.md's layers, lowest first, by the first name under srcodec.
LAYERS = [
    {"_version", "errors", "atomic", "pixels", "resample", "metrics", "display", "names"}
    | {"frametimes", "video", "inputs", "plugins", "compat", "clock"},
    {"lowres", "models"},
    {"engines"},
    {"training"},
    {"archive"},
    {"distributed", "recording"},
    {"cli", "__main__"},
]
#: Imports that go up a layer, each for a reason docs/architecture.md gives.
UPWARD = {("srcodec.lowres.stream", "srcodec.archive.layout")}


def layer(name: str) -> int:
    if name == "srcodec":
        return len(LAYERS)
    first = name.split(".")[1]
    return next(k for k, names in enumerate(LAYERS) if first in names)


def test_every_module_has_a_layer():
    assert [layer(name) for name in MODULES]


def test_modules_import_only_their_layer_or_below():
    up = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in IMPORTS
        if not i.type_only
        and layer(i.target) > layer(i.source)
        and (i.source, i.target) not in UPWARD
    ]
    assert not up, "\n".join(up)


def test_the_floor_plan_names_every_subpackage_and_module():
    """docs/architecture.md names each subpackage as ``srcodec/NAME/`` and each module by its
    path under srcodec/ (``archive/layout.py``, ``inputs.py``), or by its file name on a line
    that names its subpackage."""
    plan = (ROOT / "docs" / "architecture.md").read_text()
    missing = []
    for path in MODULES.values():
        relative = path.relative_to(PACKAGE).as_posix()
        if "/" not in relative:
            found = f"`{relative}`" in plan or (path.name == "__init__.py")
        elif path.name == "__init__.py":
            found = f"`srcodec/{path.parent.name}/`" in plan
        else:
            found = f"`{relative}`" in plan or any(
                f"`srcodec/{path.parent.name}/`" in line and f"`{path.name}`" in line
                for line in plan.splitlines()
            )
        if not found:
            missing.append(
                relative if path.name != "__init__.py" else f"srcodec/{path.parent.name}/"
            )
    assert not missing, f"add to docs/architecture.md: {', '.join(missing)}"
