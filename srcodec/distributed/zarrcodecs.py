"""numcodecs and Zarr v3 codecs for srcodec's lossless low-resolution coding, so that any Zarr
user can write and read chunks of low-resolution frames (frames x H x W x C, uint8).

A chunk's bytes: ``SRZC``, a format byte, the chunk's shape (so it decodes without the array's
metadata), then one length-prefixed srcodec payload per frame.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, ClassVar

import numcodecs
import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ndarray_copy

from ..errors import CorruptError, FormatError, FrameError, SrcodecError
from ..lowres import LowresCodec, get_codec
from ..lowres.base import pack_blobs, unpack_blobs

__all__ = [
    "CODEC_CLASSES",
    "FramesCodec",
    "JxlFrames",
    "PngFrames",
    "WebpFrames",
    "ZarrFramesCodec",
    "ZstdFrames",
    "frames_codec",
    "zarr_codec",
]

#: Namespace of srcodec's codec ids in numcodecs and Zarr (``srcodec.jxl``, ...).
NAMESPACE = "srcodec."
_MAGIC = b"SRZC"
_FORMAT = 1
_PREAMBLE = struct.Struct("<4sBB")  # magic, format, number of dimensions
_DIM = struct.Struct("<I")


def namespaced(codec_id: str) -> str:
    """``jxl`` -> ``srcodec.jxl``; an id already namespaced is kept."""
    return codec_id if codec_id.startswith(NAMESPACE) else NAMESPACE + codec_id


def _short(codec_id: str) -> str:
    # srcodec's codec registry knows the short ids (kept as aliases once it namespaces its own).
    return codec_id.removeprefix(NAMESPACE)


def _frames_view(array: np.ndarray) -> np.ndarray:
    """A chunk as (N, H, W, C): leading axes are frames, the last one channels (1 or 3); a 2-D
    array is one grayscale frame."""
    if array.dtype != np.uint8:
        raise FrameError(f"srcodec codecs store uint8 frames, got dtype {array.dtype}")
    if array.ndim == 2:
        return array[None, :, :, None]
    if array.ndim < 3 or array.shape[-1] not in (1, 3):
        raise FrameError(
            f"srcodec codecs store (frames x) H x W x C chunks with C 1 or 3, got {array.shape}"
        )
    return array.reshape(-1, *array.shape[-3:])


class FramesCodec(Codec):
    """A numcodecs codec that stores a chunk of frames, each with one srcodec low-resolution
    codec; its config is the low-resolution codec's, under a namespaced id."""

    codec_id: ClassVar[str]

    def __init__(self, **params: Any) -> None:
        self.lowres: LowresCodec = get_codec({"id": _short(self.codec_id), **params})

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FramesCodec:
        params = dict(config)
        codec_id = params.pop("id", cls.codec_id)
        if codec_id != cls.codec_id:
            raise FormatError(f"config for codec {codec_id!r} given to codec {cls.codec_id!r}")
        return cls(**params)

    def get_config(self) -> dict[str, Any]:
        params = {k: v for k, v in self.lowres.get_config().items() if k != "id"}
        return {"id": self.codec_id, **params}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "id")
        return f"{type(self).__name__}({params})"

    def encode(self, buf: Any) -> bytes:
        array = np.asarray(buf)
        frames = _frames_view(array)
        channels = frames.shape[3]
        parts = [_PREAMBLE.pack(_MAGIC, _FORMAT, array.ndim)]
        parts += [_DIM.pack(n) for n in array.shape]
        parts.append(
            pack_blobs(self.lowres.encode(f[:, :, 0] if channels == 1 else f) for f in frames)
        )
        return b"".join(parts)

    def decode(self, buf: Any, out: Any = None) -> np.ndarray:
        data = memoryview(ensure_contiguous_ndarray(buf)).cast("B")
        shape, pos = self._read_shape(data)
        frames = np.empty(shape, np.uint8)
        view = _frames_view(frames)
        _, height, width, channels = view.shape
        payloads, pos = unpack_blobs(self.codec_id, data, pos, view.shape[0])
        for i, payload in enumerate(payloads):
            frame = self.lowres.decode(payload, width, height, channels)
            view[i] = frame.reshape(height, width, channels)
        if pos != len(data):
            raise CorruptError(f"{self.codec_id}: {len(data) - pos} unexpected bytes after frames")
        return ndarray_copy(frames, out) if out is not None else frames

    def _read_shape(self, data: memoryview) -> tuple[tuple[int, ...], int]:
        if len(data) < _PREAMBLE.size:
            raise CorruptError(f"{self.codec_id}: chunk is truncated")
        magic, fmt, ndim = _PREAMBLE.unpack_from(data, 0)
        if magic != _MAGIC:
            raise CorruptError(f"{self.codec_id}: not an srcodec chunk")
        if fmt != _FORMAT:
            raise CorruptError(f"{self.codec_id}: chunk format {fmt} is not supported")
        end = _PREAMBLE.size + ndim * _DIM.size
        if not 2 <= ndim <= 32 or end > len(data):
            raise CorruptError(f"{self.codec_id}: chunk has a bad shape record")
        shape = tuple(n for (n,) in _DIM.iter_unpack(data[_PREAMBLE.size : end]))
        if ndim > 2 and shape[-1] not in (1, 3):
            raise CorruptError(f"{self.codec_id}: chunk has a bad shape {shape}")
        return shape, end


class JxlFrames(FramesCodec):
    codec_id = "srcodec.jxl"


class WebpFrames(FramesCodec):
    codec_id = "srcodec.webp"


class PngFrames(FramesCodec):
    codec_id = "srcodec.png"


class ZstdFrames(FramesCodec):
    codec_id = "srcodec.zstd"


#: The numcodecs codecs by id (also declared in the ``numcodecs.codecs`` entry point group).
CODEC_CLASSES: dict[str, type[FramesCodec]] = {
    cls.codec_id: cls for cls in (JxlFrames, WebpFrames, PngFrames, ZstdFrames)
}


def frames_codec(spec: str | dict[str, Any] | LowresCodec) -> FramesCodec:
    """The numcodecs codec storing frames with the srcodec codec ``spec`` (an id, short or
    namespaced, a config dict, as an archive header records, or a ``LowresCodec``)."""
    if isinstance(spec, LowresCodec):
        spec = spec.get_config()
    config = {"id": spec} if isinstance(spec, str) else dict(spec)
    codec_id = namespaced(str(config.get("id")))
    cls = CODEC_CLASSES.get(codec_id)
    if cls is None:
        known = ", ".join(CODEC_CLASSES)
        raise FormatError(f"no numcodecs codec for {config.get('id')!r} (known: {known})")
    return cls.from_config({**config, "id": codec_id})


# --- Zarr v3 ------------------------------------------------------------------------------------
# Zarr v3 chains codecs by kind: ours turns an array chunk into bytes (an "array -> bytes"
# codec), which zarr's numcodecs wrappers only offer for codecs they name, so it has its own.

try:
    from zarr.abc.codec import ArrayBytesCodec
except ImportError:  # zarr is optional: the numcodecs codecs work without it
    ArrayBytesCodec = None  # type: ignore[assignment,misc]

if ArrayBytesCodec is not None:
    import asyncio

    from zarr.core.common import parse_named_configuration

    @dataclass(frozen=True)
    class ZarrFramesCodec(ArrayBytesCodec):
        """The Zarr v3 form of a ``FramesCodec``: named ``srcodec.jxl`` etc. in the array's
        metadata, with the low-resolution codec's parameters as its configuration."""

        config: dict[str, Any]
        is_fixed_size = False

        def __init__(self, codec: str | dict[str, Any] | LowresCodec = "jxl") -> None:
            object.__setattr__(self, "config", frames_codec(codec).get_config())

        @property
        def numcodec(self) -> FramesCodec:
            return frames_codec(self.config)

        @classmethod
        def from_dict(cls, data: dict[str, Any]) -> ZarrFramesCodec:
            name, configuration = parse_named_configuration(data, require_configuration=False)
            return cls({"id": name, **(configuration or {})})

        def to_dict(self) -> dict[str, Any]:
            params = {k: v for k, v in self.config.items() if k != "id"}
            return {"name": self.config["id"], "configuration": params}

        def validate(self, *, shape: tuple[int, ...], dtype: Any, chunk_grid: Any) -> None:
            if np.dtype(dtype.to_native_dtype()) != np.uint8:
                raise FrameError(f"{self.config['id']} stores uint8 frames, not {dtype}")
            if len(shape) < 2 or (len(shape) > 2 and shape[-1] not in (1, 3)):
                raise FrameError(
                    f"{self.config['id']} stores (frames x) H x W x C arrays with C 1 or 3, "
                    f"got shape {shape}"
                )

        async def _encode_single(self, chunk_array: Any, chunk_spec: Any) -> Any:
            chunk = chunk_array.as_numpy_array()
            data = await asyncio.to_thread(self.numcodec.encode, chunk)
            return chunk_spec.prototype.buffer.from_bytes(data)

        async def _decode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
            frames = await asyncio.to_thread(self.numcodec.decode, chunk_bytes.to_bytes())
            if frames.shape != tuple(chunk_spec.shape):
                raise CorruptError(
                    f"{self.config['id']}: chunk holds {frames.shape}, expected {chunk_spec.shape}"
                )
            return chunk_spec.prototype.nd_buffer.from_numpy_array(frames)

        def compute_encoded_size(self, input_byte_length: int, chunk_spec: Any) -> int:
            raise NotImplementedError  # variable-size (compressed) output

    def _register_zarr() -> None:
        from zarr.registry import register_codec as register_zarr_codec

        for codec_id in CODEC_CLASSES:
            register_zarr_codec(codec_id, ZarrFramesCodec)

    _register_zarr()


def zarr_codec(spec: str | dict[str, Any] | LowresCodec = "jxl") -> ZarrFramesCodec:
    """The Zarr v3 serializer (``serializer=`` of ``zarr.create_array``) storing frames with
    the srcodec codec ``spec``."""
    if ArrayBytesCodec is None:
        raise SrcodecError("Zarr arrays need zarr 3: pip install 'srcodec[parallel]'")
    return ZarrFramesCodec(spec)


# Registered on import too, so a checkout that is not pip-installed (no entry points) works.
for _cls in CODEC_CLASSES.values():
    numcodecs.register_codec(_cls)
