"""What code written against srcodec 0.1 still finds, each with a ``DeprecationWarning`` naming
the new spelling: the module paths that moved when the package was split into subpackages
(``srcodec.container``, ``srcodec.registry``, ...: thin aliases of the modules that now hold their
names), and the functions renamed to the one naming scheme of the registries (``renamed``)."""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: 0.1 module -> where its names are now (under ``srcodec.``).
MOVED = {
    "adapt": "training.adapt",
    "autocodec": "archive.autocodec",
    "bf16": "training.bf16",
    "container": "archive",
    "dask": "distributed.daskarray",
    "degrade": "training.degrade",
    "engine": "engines.choose",
    "export": "engines.export",
    "frames": "inputs",
    "identity": "engines.identity",
    "ortengine": "engines.ortengine",
    "parallel": "distributed.cluster",
    "ratecontrol": "archive.lossywriter",
    "recovery": "archive.recovery",
    "registry": "models.store",
    "tiling": "engines.tiling",
    "timing": "frametimes",
    "tofolder": "archive.tofolder",
    "torchengine": "engines.torchengine",
    "tovideo": "archive.tovideo",
    "trainconfig": "training.config",
    "update": "models.update",
    "writer": "archive.writer",
    "zarrcodecs": "distributed.zarrcodecs",
    "zarrstore": "distributed.zarrstore",
}


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        package, _, name = fullname.partition(".")
        if package == "srcodec" and name in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module: ModuleType) -> None:
        new = "srcodec." + MOVED[module.__name__.partition(".")[2]]
        warnings.warn(
            f"{module.__name__} is deprecated: import from {new}", DeprecationWarning, stacklevel=2
        )
        target = importlib.import_module(new)
        module.__doc__ = f"Deprecated alias of {new}."
        module.__all__ = list(getattr(target, "__all__", ()))
        module.__getattr__ = lambda name: getattr(target, name)  # type: ignore[method-assign]
        module.__dir__ = lambda: dir(target)  # type: ignore[method-assign]


def install() -> None:
    """Let the 0.1 module paths be imported (once per process)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())


def renamed(new: Callable[..., Any], old: str) -> Callable[..., Any]:
    """``new`` under its 0.1 name ``old`` (``module.name``): it warns, then calls ``new``."""

    @functools.wraps(new)
    def alias(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(
            f"{old} is deprecated: use {new.__module__}.{new.__name__}",
            DeprecationWarning,
            stacklevel=2,
        )
        return new(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old.rpartition(".")[2]
    alias.__doc__ = f"Deprecated alias of ``{new.__module__}.{new.__name__}``."
    return alias
