"""The ``srcodec.webp`` low-resolution codec: lossless WebP (VP8L) through Pillow, sealed with
a CRC-32 (WebP does not checksum its pixel data)."""

from __future__ import annotations

import io
import struct
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from ..errors import CorruptError, FrameError
from ..pixels import to_rgb
from .base import LowresCodec, check_frame, check_int, check_shape, pillow_decode, seal, unseal

#: Largest width or height a WebP image can have.
WEBP_MAX_DIMENSION = 16383


class WebpCodec(LowresCodec):
    """Lossless WebP (VP8L) through Pillow: about a quarter smaller than PNG on photos.

    ``method`` (0..6) and ``quality`` (0..100) set the encoder's effort; both only affect the
    writer. Grayscale frames are stored as RGB with equal channels (WebP has no gray mode).
    """

    codec_id: ClassVar[str] = "srcodec.webp"
    aliases: ClassVar[tuple[str, ...]] = ("webp",)
    level_param: ClassVar[str | None] = "method"

    def __init__(self, method: int = 4, quality: int = 100) -> None:
        self.method = check_int(self.codec_id, "method", method, 0, 6)
        self.quality = check_int(self.codec_id, "quality", quality, 0, 100)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "method": self.method, "quality": self.quality}

    def encode(self, frame: np.ndarray) -> bytes:
        frame = check_frame(frame)
        if max(frame.shape[:2]) > WEBP_MAX_DIMENSION:
            raise FrameError(
                f"webp: a {frame.shape[1]}x{frame.shape[0]} frame exceeds WebP's "
                f"{WEBP_MAX_DIMENSION} px limit; use another codec"
            )
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(to_rgb(frame))).save(
            buf, format="WEBP", lossless=True, quality=self.quality, method=self.method, exact=True
        )
        return seal(buf.getvalue())

    def decode(self, data: bytes, width: int, height: int, channels: int) -> np.ndarray:
        check_shape(self.codec_id, width, height, channels)
        bitstream = unseal(self.codec_id, data)
        # A simple-format lossless file: RIFF size, then exactly one VP8L chunk.
        if len(bitstream) < 21 or bitstream[:4] != b"RIFF" or bitstream[8:16] != b"WEBPVP8L":
            raise CorruptError("webp: payload is not a lossless WebP (VP8L) image")
        if struct.unpack_from("<I", bitstream, 4)[0] != len(bitstream) - 8:
            raise CorruptError("webp: RIFF size does not match the payload")
        array = pillow_decode("webp", "WEBP", bitstream, "RGB", (height, width, 3))
        if channels == 1:
            if not (
                np.array_equal(array[..., 0], array[..., 1])
                and np.array_equal(array[..., 0], array[..., 2])
            ):
                raise CorruptError("webp: a grayscale frame decoded with unequal channels")
            array = np.ascontiguousarray(array[..., 0])
        return array
