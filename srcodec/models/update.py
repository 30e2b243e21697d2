"""A model update carried by an archive (its UPDT chunk): int8 deltas added to named tensors of
the base model, each dense or as two low-rank factors, and the model id that names base and
update. Needs no torch.

Byte layout (docs/format.md, section "UPDT"): a zstd frame holding a safetensors file whose
tensors are ``delta/<name>`` (int8, the shape of the base tensor) and ``scale/<name>`` (float32,
one value): the tensor added to ``<name>`` is ``float32(delta) * scale``; and, in format
``srcodec-update/2`` only, low-rank pairs ``lowrank_a/<name>`` (int8, r x in x kh x kw),
``lowrank_b/<name>`` (int8, out x r) with ``scale_a/<name>``, ``scale_b/<name>``: the tensor
added is ``(B * scale_b) @ (A * scale_a)`` shaped as the base tensor. An update without
low-rank tensors is written as ``srcodec-update/1``, byte for byte as before.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import zstandard
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from ..errors import CorruptError, ModelError

if TYPE_CHECKING:
    from ..archive.filereader import ArchiveReader

__all__ = [
    "FORMAT",
    "FORMAT_LOWRANK",
    "LowRank",
    "ModelUpdate",
    "archive_update",
    "base_id",
    "compose_id",
    "split_update_id",
    "update_sha256",
]

FORMAT = "srcodec-update/1"
#: The format of updates with low-rank tensors: a reader of /1 only refuses them rather than
#: silently restoring without those tensors.
FORMAT_LOWRANK = "srcodec-update/2"
#: Joins the base model id and the update's sha256 in an archive's model id. An older srcodec
#: finds no model of that id and refuses the archive instead of restoring without the update.
UPDATE_MARK = "+update@"
META_KEY = "srcodec-update"
ZSTD_LEVEL = 19
#: Bounds the decompressed update (a full 16x64 EDSR is 1.4 M parameters: 1.4 MB of int8).
MAX_UPDATE_BYTES = 64 << 20
_DELTA, _SCALE = "delta/", "scale/"
_A, _B, _SCALE_A, _SCALE_B = "lowrank_a/", "lowrank_b/", "scale_a/", "scale_b/"


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


def _int8(values: np.ndarray, step: float | None = None) -> tuple[np.ndarray, float]:
    """Symmetric int8 with one scale: ``step`` (at least max |values| / 127, so nothing is
    clipped), by default max |values| / 127 (1.0 for all zeros). A coarser step leaves fewer
    distinct values, which zstd stores in fewer bits."""
    peak = float(np.abs(values).max()) if values.size else 0.0
    scale = np.float32(max(peak / 127.0, step or 0.0))
    scale = scale if scale > 0 else np.float32(1.0)
    return np.clip(np.rint(values / scale), -127, 127).astype(np.int8), float(scale)


@dataclass(frozen=True)
class LowRank:
    """A low-rank delta ``B @ A`` of a tensor of shape ``(out, *a.shape[1:])``, both factors
    int8 with one scale each. ``a``: r x in x kh x kw (any trailing shape), ``b``: out x r."""

    a: np.ndarray
    a_scale: float
    b: np.ndarray
    b_scale: float

    @classmethod
    def quantise(cls, a: np.ndarray, b: np.ndarray) -> LowRank:
        """Factors ``a`` (r x ...) and ``b`` (out x r), each rank-one pair rescaled so that its
        two halves have the same peak (the product is unchanged; int8 loses least)."""
        a = np.asarray(a, np.float32).copy()
        b = np.asarray(b, np.float32).copy()
        a_peak = np.abs(a.reshape(a.shape[0], -1)).max(axis=1)
        b_peak = np.abs(b).max(axis=0)
        live = (a_peak > 0) & (b_peak > 0)
        gain = np.ones_like(a_peak)
        gain[live] = np.sqrt(b_peak[live] / a_peak[live])
        a *= gain.reshape(-1, *([1] * (a.ndim - 1)))
        b /= gain
        return cls(*_int8(a), *_int8(b))

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.b.shape[0], *self.a.shape[1:])

    @property
    def size(self) -> int:
        return self.a.size + self.b.size

    def dense(self) -> np.ndarray:
        a = self.a.reshape(self.a.shape[0], -1).astype(np.float32) * np.float32(self.a_scale)
        b = self.b.astype(np.float32) * np.float32(self.b_scale)
        return (b @ a).reshape(self.shape).astype(np.float32)


@dataclass(frozen=True)
class ModelUpdate:
    """Quantised deltas for some tensors of the model ``base_id``: dense (``deltas``) or
    low-rank (``lowrank``); a tensor is in one of the two."""

    base_id: str
    deltas: dict[str, tuple[np.ndarray, float]]  # name -> (int8 values, scale)
    lowrank: dict[str, LowRank] = field(default_factory=dict)

    @classmethod
    def quantise(
        cls,
        base: str,
        deltas: dict[str, np.ndarray],
        factors: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
        steps: dict[str, float] | None = None,
    ) -> ModelUpdate:
        """Per-tensor symmetric int8 (all-zero tensors are left out, they change nothing), the
        step of a dense delta ``steps[name]`` if given (see ``_int8``), else its peak / 127;
        ``factors``: name -> (A, B) of low-rank deltas ``B @ A`` (see ``LowRank``)."""
        out: dict[str, tuple[np.ndarray, float]] = {}
        for name, delta in sorted(deltas.items()):
            q = _int8(np.asarray(delta, np.float32), (steps or {}).get(name))
            if q[0].any():
                out[name] = q
        low = {}
        for name, (a, b) in sorted((factors or {}).items()):
            pair = LowRank.quantise(a, b)
            if pair.a.any() and pair.b.any():
                low[name] = pair
        return cls(base, out, low)

    @property
    def names(self) -> list[str]:
        """The tensors the update changes, sorted."""
        return sorted([*self.deltas, *self.lowrank])

    def delta(self, name: str) -> np.ndarray:
        """The float32 tensor the update adds to ``name`` (a low-rank one expanded)."""
        if name in self.lowrank:
            return self.lowrank[name].dense()
        q, scale = self.deltas[name]
        return q.astype(np.float32) * np.float32(scale)

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of the tensor ``name`` the update changes."""
        return self.lowrank[name].shape if name in self.lowrank else self.deltas[name][0].shape

    @property
    def parameters(self) -> int:
        """How many values the update stores."""
        dense = sum(q.size for q, _ in self.deltas.values())
        return dense + sum(pair.size for pair in self.lowrank.values())

    def apply(self, state: dict[str, np.ndarray], prefix: str = "") -> dict[str, np.ndarray]:
        """A copy of ``state`` (float32 tensors by name) with the deltas added; tensor names in
        ``state`` are ``prefix + name``. ``ModelError`` if a tensor is missing or of another
        shape (an update made for another model)."""
        new = dict(state)
        for name in self.names:
            key = prefix + name
            base = state.get(key)
            if base is None or tuple(base.shape) != self.shape(name):
                found = "missing" if base is None else f"of shape {tuple(base.shape)}"
                raise ModelError(
                    f"the update does not fit the model: tensor {key!r} is {found}, the update's "
                    f"is {self.shape(name)}"
                )
            new[key] = (np.asarray(base, np.float32) + self.delta(name)).astype(np.float32)
        return new

    def to_bytes(self) -> bytes:
        """The UPDT chunk data (deterministic for equal updates)."""
        tensors: dict[str, np.ndarray] = {}
        for name, (q, scale) in self.deltas.items():
            tensors[_DELTA + name] = np.ascontiguousarray(q, np.int8)
            tensors[_SCALE + name] = np.array([scale], np.float32)
        for name, pair in self.lowrank.items():
            tensors[_A + name] = np.ascontiguousarray(pair.a, np.int8)
            tensors[_B + name] = np.ascontiguousarray(pair.b, np.int8)
            tensors[_SCALE_A + name] = np.array([pair.a_scale], np.float32)
            tensors[_SCALE_B + name] = np.array([pair.b_scale], np.float32)
        version = FORMAT_LOWRANK if self.lowrank else FORMAT
        meta = {"format": version, "base_model_id": self.base_id}
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
        version = meta.get("format") if isinstance(meta, dict) else None
        if version not in (FORMAT, FORMAT_LOWRANK):
            raise CorruptError(
                f"the model update is of unknown format {meta!r} (this srcodec reads "
                f"{FORMAT} and {FORMAT_LOWRANK}; a newer srcodec may read it)"
            )
        deltas: dict[str, tuple[np.ndarray, float]] = {}
        lowrank: dict[str, LowRank] = {}
        for key, values in tensors.items():
            if key.startswith(_DELTA):
                name = key[len(_DELTA) :]
                deltas[name] = (values, _scale(tensors, _SCALE + name, values, name))
            elif key.startswith((_A, _B)):
                name = key.partition("/")[2]
                a, b = tensors.get(_A + name), tensors.get(_B + name)
                if (
                    version != FORMAT_LOWRANK
                    or a is None
                    or b is None
                    or b.ndim != 2
                    or a.ndim < 2
                    or b.shape[1] != a.shape[0]
                ):
                    raise CorruptError(f"the model update's low-rank tensor {name!r} is malformed")
                a_scale = _scale(tensors, _SCALE_A + name, a, name)
                lowrank[name] = LowRank(a, a_scale, b, _scale(tensors, _SCALE_B + name, b, name))
        if set(deltas) & set(lowrank):
            raise CorruptError("the model update changes a tensor twice")
        return cls(
            str(meta.get("base_model_id", "")),
            dict(sorted(deltas.items())),
            dict(sorted(lowrank.items())),
        )


def _scale(tensors: dict[str, np.ndarray], key: str, values: np.ndarray, name: str) -> float:
    """The scale ``key`` of the int8 ``values`` of tensor ``name``, checked."""
    scale = tensors.get(key)
    if values.dtype != np.int8 or scale is None or scale.shape != (1,):
        raise CorruptError(f"the model update's tensor {name!r} is malformed")
    return float(scale[0])


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
