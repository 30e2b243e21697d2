"""The low-resolution codec interface (``LowresCodec``) and the checks every codec shares:
frames in, expected shapes out, integer parameters, and the CRC-32 seal of bare bitstreams.
"""

from __future__ import annotations

import abc
import io
import struct
import zlib
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from ..errors import CorruptError, FormatError
from ..pixels import MODES, check_frame

__all__ = [
    "LowresCodec",
    "check_frame",
    "check_int",
    "check_shape",
    "pillow_decode",
    "seal",
    "unseal",
]


class LowresCodec(abc.ABC):
    """A lossless codec for one low-resolution uint8 frame (HxW grayscale or HxWx3 RGB)."""

    #: The canonical id, namespaced (``srcodec.png``) so that it never collides with another
    #: library's codec of the same family (numcodecs has its own ``zstd``).
    codec_id: ClassVar[str]
    #: Other ids that name this codec: the short names users type, and that archives written
    #: before the ids were namespaced record.
    aliases: ClassVar[tuple[str, ...]] = ()
    #: The parameter that trades encode time for size (what ``--level`` sets), if any.
    level_param: ClassVar[str | None] = "level"

    @abc.abstractmethod
    def encode(self, frame: np.ndarray) -> bytes:
        """Encode a uint8 HxW or HxWx3 array (any memory layout) into bytes.

        Raises ``FrameError`` if ``frame`` is not such an array or the codec cannot store it.
        """

    @abc.abstractmethod
    def decode(self, data: bytes, width: int, height: int, channels: int) -> np.ndarray:
        """Decode ``data`` into a uint8 HxW (channels=1) or HxWx3 (channels=3) array.

        Raises ``CorruptError`` if ``data`` cannot be decoded to exactly that shape.
        """

    @abc.abstractmethod
    def get_config(self) -> dict[str, Any]:
        """A JSON-safe dict with ``"id"`` and every parameter; ``from_config`` inverts it."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LowresCodec:
        """Build the codec a ``get_config()`` dict describes; its ``"id"`` may be an alias.

        Raises ``FormatError`` if the config is not a dict, names another codec, or holds an
        unknown or invalid parameter.
        """
        if not isinstance(config, dict):
            raise FormatError(f"codec config must be a dict, got {type(config).__name__}")
        params = dict(config)
        codec_id = params.pop("id", cls.codec_id)
        if codec_id != cls.codec_id and codec_id not in cls.aliases:
            raise FormatError(f"config for codec {codec_id!r} given to codec {cls.codec_id!r}")
        try:
            return cls(**params)
        except TypeError as exc:
            raise FormatError(f"invalid config for codec {cls.codec_id!r}: {exc}") from None

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "id")
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LowresCodec):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.get_config().items())))


def check_shape(codec_id: str, width: int, height: int, channels: int) -> tuple[int, ...]:
    """The array shape a decoder must produce; ``CorruptError`` if the expectations are absurd."""
    if channels not in MODES:
        raise CorruptError(f"{codec_id}: cannot decode {channels} channels (expected 1 or 3)")
    if not (isinstance(width, int) and isinstance(height, int) and width >= 1 and height >= 1):
        raise CorruptError(f"{codec_id}: invalid frame size {width!r}x{height!r}")
    return (height, width) if channels == 1 else (height, width, 3)


def check_int(codec_id: str, name: str, value: Any, low: int, high: int) -> int:
    """``value`` if it is an integer (not a bool) in ``low..high``, else ``FormatError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FormatError(f"{codec_id}: {name} must be an integer {low}..{high}, got {value!r}")
    return value


def pillow_decode(
    codec_id: str, fmt: str, data: bytes, mode: str, shape: tuple[int, ...]
) -> np.ndarray:
    """Decode one still image with Pillow, checking its size and mode from the header before
    any pixel buffer is allocated; every failure becomes a ``CorruptError``."""
    height, width = shape[:2]
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            if image.size != (width, height) or image.mode != mode:
                raise CorruptError(
                    f"{codec_id}: payload is {image.mode} {image.size[0]}x{image.size[1]}, "
                    f"expected {mode} {width}x{height}"
                )
            if getattr(image, "n_frames", 1) != 1:
                raise CorruptError(f"{codec_id}: payload holds several images")
            image.load()
            array = np.array(image)
    except CorruptError:
        raise
    except Exception as exc:  # Pillow raises a zoo of exception types on bad input
        raise CorruptError(f"{codec_id}: payload cannot be decoded: {exc}") from None
    if array.shape != shape or array.dtype != np.uint8:
        raise CorruptError(
            f"{codec_id}: decoded {array.dtype} {array.shape}, expected uint8 {shape}"
        )
    return array


# Bitstreams that do not checksum their pixel data (WebP, JPEG XL) would decode a flipped bit
# silently to different pixels; a 4-byte CRC-32 trailer makes every damaged payload a
# CorruptError.
_SEAL = struct.Struct("<I")


_BLOB_LENGTH = struct.Struct("<I")


def pack_blobs(blobs) -> bytes:
    """Blobs as one byte string, each preceded by its u32 length (docs/format.md, 9.6)."""
    return b"".join(_BLOB_LENGTH.pack(len(b)) + bytes(b) for b in blobs)


def unpack_blobs(
    codec_id: str, data, pos: int = 0, count: int | None = None
) -> tuple[list[bytes], int]:
    """The ``count`` length-prefixed blobs (all up to the end of ``data`` when None) from
    ``pos`` on, and the offset after them; ``CorruptError`` if one is cut off."""
    blobs: list[bytes] = []
    while pos < len(data) if count is None else len(blobs) < count:
        if pos + _BLOB_LENGTH.size > len(data):
            raise CorruptError(f"{codec_id}: truncated: length of blob {len(blobs)} is cut off")
        (size,) = _BLOB_LENGTH.unpack_from(data, pos)
        pos += _BLOB_LENGTH.size
        if pos + size > len(data):
            raise CorruptError(f"{codec_id}: truncated: blob {len(blobs)} is cut off")
        blobs.append(bytes(data[pos : pos + size]))
        pos += size
    return blobs, pos


def pack_uleb(value: int) -> bytes:
    """``value`` (>= 0) as an unsigned LEB128 number: 7 bits a byte, low bits first, the high
    bit set on every byte but the last (as AV1's ``leb128()``; docs/format.md, 9.7b)."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


#: The most bytes an unsigned LEB128 number of a payload may take (values below 2**35).
MAX_ULEB_BYTES = 5


def unpack_uleb(codec_id: str, data, pos: int) -> tuple[int, int]:
    """The unsigned LEB128 number at ``pos`` in ``data`` and the offset after it;
    ``CorruptError`` if it is cut off or longer than ``MAX_ULEB_BYTES``."""
    value = 0
    for k in range(MAX_ULEB_BYTES):
        if pos + k >= len(data):
            raise CorruptError(f"{codec_id}: truncated: a length is cut off")
        byte = data[pos + k]
        value |= (byte & 0x7F) << (7 * k)
        if not byte & 0x80:
            return value, pos + k + 1
    raise CorruptError(f"{codec_id}: a length of more than {MAX_ULEB_BYTES} bytes")


def seal(bitstream: bytes) -> bytes:
    """``bitstream`` followed by its CRC-32 (little-endian u32)."""
    return bytes(bitstream) + _SEAL.pack(zlib.crc32(bitstream))


def unseal(codec_id: str, data: bytes) -> bytes:
    """The bitstream of a sealed payload; ``CorruptError`` if it is truncated or damaged."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CorruptError(f"{codec_id}: payload must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) <= _SEAL.size:
        raise CorruptError(f"{codec_id}: payload is truncated ({len(data)} bytes)")
    bitstream, (crc,) = data[: -_SEAL.size], _SEAL.unpack(data[-_SEAL.size :])
    if zlib.crc32(bitstream) != crc:
        raise CorruptError(f"{codec_id}: checksum mismatch (payload damaged or truncated)")
    return bitstream
