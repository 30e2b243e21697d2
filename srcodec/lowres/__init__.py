"""Codecs for the low-resolution frames an archive stores, behind one registry: lossless ones,
and the lossy ones of lossy archives (lossy.py: ``srcodec.hevc``, ``srcodec.av1``,
``srcodec.avif``).

Each codec family is one module (png, zstd, webp, jxl; stream: x264, x265, ffv1 coding groups
of frames as one inter-frame stream) defining a ``LowresCodec``; adding one
is a module and a line in ``_BUILTIN``, or, from another package, an entry point in the group
``srcodec.codecs`` (srcodec.plugins). Canonical ids are namespaced (``srcodec.png``); the
short names (``png``) stay accepted, as users type them and as older archives record them.
A codec's JSON-safe config (kept in the archive header) rebuilds it; byte formats:
docs/format.md, section 9.
"""

from __future__ import annotations

from typing import Any

from ..compat import renamed
from ..errors import FormatError
from ..plugins import CODECS, register_plugins
from .base import LowresCodec
from .jxl import JxlCodec
from .lossy import Av1Codec, AvifCodec, HevcCodec, is_lossy
from .png import PngCodec
from .stream import Ffv1StreamCodec, StreamCodec, X264StreamCodec, X265StreamCodec
from .webp import WebpCodec
from .zstd import ZstdCodec

__all__ = [
    "AvifCodec",
    "Av1Codec",
    "HevcCodec",
    "JxlCodec",
    "LowresCodec",
    "Ffv1StreamCodec",
    "PngCodec",
    "StreamCodec",
    "WebpCodec",
    "X264StreamCodec",
    "X265StreamCodec",
    "ZstdCodec",
    "available_codecs",
    "canonical_id",
    "codec_class",
    "get_codec",
    "is_lossy",
    "list_codecs",
    "register_codec",
]

_REGISTRY: dict[str, type[LowresCodec]] = {}
_ALIASES: dict[str, str] = {}  # alias -> canonical id


def register_codec(cls: type[LowresCodec]) -> type[LowresCodec]:
    """Register a codec class under its ``codec_id`` and its ``aliases`` (usable as a
    decorator); replaces any class registered under the same id. Returns ``cls``.

    Raises ``ValueError`` if the class has no ``codec_id``, or if one of its ids is already an
    alias of another codec (an archive naming it would become ambiguous).
    """
    codec_id = getattr(cls, "codec_id", None)
    if not isinstance(codec_id, str) or not codec_id:
        raise ValueError(f"{cls.__name__} has no codec_id")
    for name in (codec_id, *cls.aliases):
        if _ALIASES.get(name, codec_id) != codec_id:
            raise ValueError(f"{name!r} already names codec {_ALIASES[name]!r}")
    _REGISTRY[codec_id] = cls
    _ALIASES.update(dict.fromkeys(cls.aliases, codec_id))
    return cls


def canonical_id(codec_id: str) -> str:
    """The canonical id of a codec named by its id or an alias (unknown ids are returned as
    they are; ``codec_class`` refuses them)."""
    return _ALIASES.get(codec_id, codec_id)


def list_codecs() -> list[str]:
    """The canonical ids of the registered codecs (built-in and from plug-ins), sorted."""
    _load_plugins()
    return sorted(_REGISTRY)


available_codecs = renamed(list_codecs, "srcodec.available_codecs")


def codec_class(codec_id: str) -> type[LowresCodec]:
    """The class registered under ``codec_id`` or an alias of it.

    Raises ``FormatError`` naming the id and the known codecs if none is.
    """
    cls = _REGISTRY.get(canonical_id(codec_id))
    if cls is None:
        _load_plugins()
        cls = _REGISTRY.get(canonical_id(codec_id))
    if cls is None:
        known = ", ".join(
            f"{cid} ({', '.join(_REGISTRY[cid].aliases)})" if _REGISTRY[cid].aliases else cid
            for cid in list_codecs()
        )
        raise FormatError(
            f"unknown low-resolution codec {codec_id!r} (known codecs: {known or 'none'})"
        )
    return cls


def get_codec(spec: str | dict[str, Any]) -> LowresCodec:
    """The codec an id or alias names (default parameters), or that a config dict describes
    (as ``get_config`` returns, or as an older archive's header records it).

    Raises ``FormatError`` for an unknown id, a config without a string ``"id"``, or an
    invalid parameter.
    """
    if isinstance(spec, str):
        # An id alone: the codec's own defaults (a config dict may mean those of older
        # archives for a parameter it lacks, as a lossy stream's "rgb").
        return codec_class(spec)()
    if isinstance(spec, dict):
        codec_id, config = spec.get("id"), spec
        if not isinstance(codec_id, str):
            raise FormatError(f"codec config has no string 'id': {spec!r}")
    else:
        raise FormatError(f"codec spec must be an id or a config dict, got {type(spec).__name__}")
    return codec_class(codec_id).from_config(config)


_BUILTIN = (
    PngCodec,
    ZstdCodec,
    WebpCodec,
    JxlCodec,
    X264StreamCodec,
    X265StreamCodec,
    Ffv1StreamCodec,
    HevcCodec,
    Av1Codec,
    AvifCodec,
)
for _cls in _BUILTIN:
    register_codec(_cls)


def _load_plugins() -> None:
    """Register the codecs other packages declare in the entry-point group ``srcodec.codecs``;
    one that is not a codec class, or would replace a registered codec, is skipped with a
    warning (an archive must decode the same whatever else is installed)."""
    register_plugins(CODECS, "codec", _plugin_problem, register_codec)


def _plugin_problem(cls: object) -> str | None:
    if not (isinstance(cls, type) and issubclass(cls, LowresCodec)):
        return "it is not a LowresCodec class"
    if canonical_id(getattr(cls, "codec_id", "")) in _REGISTRY:
        return f"codec {cls.codec_id!r} is already registered"
    return None
