"""The ``srcodec.png`` low-resolution codec: PNG through Pillow, with every chunk CRC checked."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from ..errors import CorruptError
from ..pixels import MODES
from .base import LowresCodec, check_frame, check_int, check_shape, pillow_decode

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_png_chunks(data: bytes) -> None:
    """Verify every chunk CRC and that the payload ends exactly with IEND (Pillow checks
    neither for image data, so a damaged or truncated payload could decode silently)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CorruptError(f"png: payload must be bytes, got {type(data).__name__}")
    view = memoryview(data)
    if bytes(view[:8]) != _PNG_SIGNATURE:
        raise CorruptError("png: payload is not a PNG image")
    pos = 8
    while True:
        if pos + 12 > len(view):
            raise CorruptError("png: payload is truncated")
        length, ctype = struct.unpack_from(">I4s", view, pos)
        end = pos + 12 + length
        if end > len(view):
            raise CorruptError(f"png: {ctype!r} chunk is truncated")
        (crc,) = struct.unpack_from(">I", view, end - 4)
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            raise CorruptError(f"png: checksum mismatch in {ctype!r} chunk")
        pos = end
        if ctype == b"IEND":
            break
    if pos != len(view):
        raise CorruptError(f"png: {len(view) - pos} unexpected bytes after the image")


class PngCodec(LowresCodec):
    """PNG through Pillow: portable (any image viewer reads the payload), zlib-compressed."""

    codec_id: ClassVar[str] = "srcodec.png"
    aliases: ClassVar[tuple[str, ...]] = ("png",)

    def __init__(self, level: int = 9) -> None:
        self.level = check_int(self.codec_id, "level", level, 0, 9)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "level": self.level}

    def encode(self, frame: np.ndarray) -> bytes:
        frame = np.ascontiguousarray(check_frame(frame))
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="PNG", compress_level=self.level, optimize=False)
        return buf.getvalue()

    def decode(self, data: bytes, width: int, height: int, channels: int) -> np.ndarray:
        shape = check_shape(self.codec_id, width, height, channels)
        _check_png_chunks(data)
        return pillow_decode("png", "PNG", data, MODES[channels], shape)
