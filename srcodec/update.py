"""A model update carried by an archive (its UPDT chunk): per-tensor int8 deltas added to named
tensors of the base model, and the model id that names base and update. Needs no torch.

Byte layout (docs/format.md, section "UPDT"): a zstd frame holding a safetensors file whose
tensors are ``delta/<name>`` (int8, the shape of the base tensor) and ``scale/<name>`` (float32,
one value); the tensor added to ``<name>`` is ``float32(delta) * scale``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import zstandard
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from .errors import CorruptError, ModelError

if TYPE_CHECKING:
    from .container import ArchiveReader

__all__ = [
    "FORMAT",
    "ModelUpdate",
    "archive_update",
    "base_id",
    "compose_id",
    "split_update_id",
    "update_sha256",
]

FORMAT = "srcodec-update/1"
#: Joins the base model id and the update's sha256 in an archive's model id. An older srcodec
#: finds no model of that id and refuses the archive instead of restoring without the update.
UPDATE_MARK = "+update@"
META_KEY = "srcodec-update"
ZSTD_LEVEL = 19
#: Bounds the decompressed update (a full 16x64 EDSR is 1.4 M parameters: 1.4 MB of int8).
MAX_UPDATE_BYTES = 64 << 20
_DELTA, _SCALE = "delta/", "scale/"


def compose_id(base: str, update_sha256: str) -> str:
    """The model id of an archive restored by ``base`` (``name@sha256``) plus an update."""
    return f"{base}{UPDATE_MARK}{update_sha256}"


def split_update_id(model_id: str) -> tuple[str, str | None]:
    """``base+update@sha`` -> (base, sha); an id without an update -> (id, None)."""
    base, mark, sha = model_id.partition(UPDATE_MARK)
    return base, (sha.lower() if mark else None)


def base_id(model_id: str) -> str:
    """The base model of an archive's model id (the id itself when it names no update)."""
    return split_update_id(model_id)[0]


@dataclass(frozen=True)
class ModelUpdate:
    """Quantised deltas for some tensors of the model ``base_id``."""

    base_id: str
    deltas: dict[str, tuple[np.ndarray, float]]  # name -> (int8 values, scale)

    @classmethod
    def quantise(cls, base: str, deltas: dict[str, np.ndarray]) -> ModelUpdate:
        """Per-tensor symmetric int8: scale = max |delta| / 127 (all-zero tensors are left out,
        they change nothing)."""
        out: dict[str, tuple[np.ndarray, float]] = {}
        for name, delta in sorted(deltas.items()):
            delta = np.asarray(delta, np.float32)
            peak = float(np.abs(delta).max()) if delta.size else 0.0
            if peak == 0.0:
                continue
            scale = np.float32(peak / 127.0)
            q = np.clip(np.rint(delta / scale), -127, 127).astype(np.int8)
            out[name] = (q, float(scale))
        return cls(base, out)

    def delta(self, name: str) -> np.ndarray:
        """The float32 tensor the update adds to ``name``."""
        q, scale = self.deltas[name]
        return q.astype(np.float32) * np.float32(scale)

    @property
    def parameters(self) -> int:
        """How many values the update changes."""
        return sum(q.size for q, _ in self.deltas.values())

    def apply(self, state: dict[str, np.ndarray], prefix: str = "") -> dict[str, np.ndarray]:
        """A copy of ``state`` (float32 tensors by name) with the deltas added; tensor names in
        ``state`` are ``prefix + name``. ``ModelError`` if a tensor is missing or of another
        shape (an update made for another model)."""
        new = dict(state)
        for name in self.deltas:
            key = prefix + name
            base = state.get(key)
            if base is None or base.shape != self.deltas[name][0].shape:
                found = "missing" if base is None else f"of shape {tuple(base.shape)}"
                raise ModelError(
                    f"the update does not fit the model: tensor {key!r} is {found}, the update's "
                    f"is {tuple(self.deltas[name][0].shape)}"
                )
            new[key] = (np.asarray(base, np.float32) + self.delta(name)).astype(np.float32)
        return new

    def to_bytes(self) -> bytes:
        """The UPDT chunk data (deterministic for equal updates)."""
        tensors: dict[str, np.ndarray] = {}
        for name, (q, scale) in self.deltas.items():
            tensors[_DELTA + name] = np.ascontiguousarray(q, np.int8)
            tensors[_SCALE + name] = np.array([scale], np.float32)
        meta = {"format": FORMAT, "base_model_id": self.base_id}
        raw = st_save(tensors, metadata={META_KEY: json.dumps(meta, sort_keys=True)})
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelUpdate:
        """Parse UPDT chunk data; ``CorruptError`` if it is not a valid update."""
        try:
            raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_UPDATE_BYTES)
            meta = json.loads(_metadata(raw)[META_KEY])
            tensors = st_load(raw)
        except (zstandard.ZstdError, SafetensorError, ValueError, KeyError, TypeError) as exc:
            raise CorruptError(f"the model update is unreadable ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise CorruptError(f"the model update is of unknown format {meta!r}")
        deltas: dict[str, tuple[np.ndarray, float]] = {}
        for key, q in tensors.items():
            if not key.startswith(_DELTA):
                continue
            name = key[len(_DELTA) :]
            scale = tensors.get(_SCALE + name)
            if q.dtype != np.int8 or scale is None or scale.shape != (1,):
                raise CorruptError(f"the model update's tensor {name!r} is malformed")
            deltas[name] = (q, float(scale[0]))
        return cls(str(meta.get("base_model_id", "")), dict(sorted(deltas.items())))


def update_sha256(data: bytes) -> str:
    """The update's identity: sha256 of its UPDT chunk data."""
    return hashlib.sha256(data).hexdigest()


def archive_update(reader: ArchiveReader) -> ModelUpdate | None:
    """The update an archive's header names, checked (chunk CRC, sha256, content), or None if it
    names none. ``CorruptError`` if it is missing or damaged: its frames are then never restored
    with the general model in silence (``srcodec recover`` keeps them and drops the update)."""
    base, sha = split_update_id(reader.header.model_id)
    if sha is None:
        return None
    where = f"{reader.path} names model update {sha[:12]}"
    hint = "; 'srcodec recover' keeps its frames for the general model, without the update"
    try:
        data = reader.read_update()
        if data is None:
            raise CorruptError("it has no UPDT chunk after its header")
        if update_sha256(data) != sha:
            raise CorruptError(f"its UPDT chunk is update {update_sha256(data)[:12]}")
        update = ModelUpdate.from_bytes(data)
        if update.base_id != base:
            raise CorruptError(f"the update is for model {update.base_id}, not {base}")
    except CorruptError as exc:
        raise CorruptError(f"{where}, but {exc}{hint}") from None
    return update


def _metadata(raw: bytes) -> dict:
    """The ``__metadata__`` of a safetensors file's JSON header."""
    size = int.from_bytes(raw[:8], "little")
    if len(raw) < 8 or size > len(raw) - 8:
        raise ValueError("truncated safetensors header")
    return json.loads(raw[8 : 8 + size]).get("__metadata__") or {}
