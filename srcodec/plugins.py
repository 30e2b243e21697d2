"""Codecs and model families from other packages: the entry-point groups ``srcodec.codecs``
(each a ``LowresCodec`` class, named by its codec id) and ``srcodec.families`` (each a
``Family``, named by its family name), read through importlib.metadata when a registry is
first listed or misses a name. A plug-in that fails to load is skipped with a warning naming
it: one broken package never stops srcodec."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any

__all__ = ["CODECS", "FAMILIES", "load_plugins", "register_plugins"]

CODECS = "srcodec.codecs"
FAMILIES = "srcodec.families"
_REGISTERED: set[str] = set()  # the groups already read


def load_plugins(group: str) -> Iterator[tuple[str, Any]]:
    """(entry point name, loaded object) of every entry point of ``group`` that loads."""
    for point in entry_points(group=group):
        try:
            yield point.name, point.load()
        except Exception as exc:  # a plug-in's own bug: reported, never fatal to srcodec
            warnings.warn(
                f"srcodec: plug-in {point.name!r} ({point.value}, group {group}) did not load: "
                f"{type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )


def register_plugins(
    group: str, what: str, problem: Callable[[Any], str | None], register: Callable[[Any], Any]
) -> None:
    """Register, once per process, every plug-in of ``group`` that loads and that ``problem``
    finds nothing wrong with (nor ``register``, by a ``ValueError``); warn, naming it, about
    each other one."""
    if group in _REGISTERED:
        return
    _REGISTERED.add(group)
    for name, found in load_plugins(group):
        why = problem(found)
        if why is None:
            try:
                register(found)
                continue
            except ValueError as exc:
                why = str(exc)
        warnings.warn(f"srcodec: {what} plug-in {name!r} skipped: {why}", stacklevel=3)
