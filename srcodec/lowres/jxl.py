"""The ``srcodec.jxl`` low-resolution codec: lossless JPEG XL (bare codestream, modular mode)
through imagecodecs (libjxl), sealed with a CRC-32 (JPEG XL does not checksum its pixel data).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import CorruptError, FormatError
from .base import LowresCodec, check_frame, check_int, check_shape, seal, unseal

_JXL_SIGNATURE = b"\xff\x0a"
_JXL_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


def _jxl_size(bitstream: bytes) -> tuple[int, int]:
    """(width, height) from a bare JPEG XL codestream's SizeHeader (ISO/IEC 18181-1, D.2),
    read before decoding so that nothing is allocated for a size the frame does not have."""
    bits = int.from_bytes(bitstream[2:14], "little")  # the SizeHeader fits in 12 bytes
    pos = 0

    def take(n: int) -> int:
        nonlocal pos
        value = (bits >> pos) & ((1 << n) - 1)
        pos += n
        return value

    def u32() -> int:
        return take((9, 13, 18, 30)[take(2)])

    small = take(1)
    height = (take(5) + 1) * 8 if small else u32() + 1
    ratio = take(3)
    if ratio:
        num, den = _JXL_RATIOS[ratio]
        width = height * num // den
    else:
        width = (take(5) + 1) * 8 if small else u32() + 1
    return width, height


def _imagecodecs():
    try:
        import imagecodecs
    except ImportError:
        raise FormatError(
            "jxl: the JPEG XL codec needs the imagecodecs package (pip install imagecodecs)"
        ) from None
    if not imagecodecs.JPEGXL.available:
        raise FormatError("jxl: this imagecodecs build has no JPEG XL support")
    return imagecodecs


class JxlCodec(LowresCodec):
    """Lossless JPEG XL (modular mode) through imagecodecs (libjxl): about 30 % smaller than
    PNG on photos. ``effort`` (1..10) only affects the writer. Needs ``imagecodecs``.
    """

    codec_id: ClassVar[str] = "srcodec.jxl"
    aliases: ClassVar[tuple[str, ...]] = ("jxl",)
    level_param: ClassVar[str | None] = "effort"

    def __init__(self, effort: int = 7) -> None:
        self.effort = check_int(self.codec_id, "effort", effort, 1, 10)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "effort": self.effort}

    def encode(self, frame: np.ndarray) -> bytes:
        frame = np.ascontiguousarray(check_frame(frame))
        # distance=0 alone still codes lossily (XYB); lossless=True is the mathematically
        # lossless mode. A bare codestream (no ISOBMFF container) keeps the payload minimal.
        bitstream = _imagecodecs().jpegxl_encode(
            frame, lossless=True, effort=self.effort, usecontainer=False, numthreads=1
        )
        return seal(bitstream)

    def decode(self, data: bytes, width: int, height: int, channels: int) -> np.ndarray:
        shape = check_shape(self.codec_id, width, height, channels)
        bitstream = unseal(self.codec_id, data)
        if len(bitstream) < 4 or bitstream[:2] != _JXL_SIGNATURE:
            raise CorruptError("jxl: payload is not a bare JPEG XL codestream")
        found = _jxl_size(bitstream)
        if found != (width, height):
            raise CorruptError(f"jxl: payload is {found[0]}x{found[1]}, expected {width}x{height}")
        codecs = _imagecodecs()
        # Decoding into an array of the expected shape and dtype makes libjxl refuse any other
        # channel count, bit depth or frame count instead of allocating for it.
        out = np.empty(shape, np.uint8)
        try:
            result = codecs.jpegxl_decode(bitstream, out=out, numthreads=1)
        except Exception as exc:
            raise CorruptError(f"jxl: payload cannot be decoded: {exc}") from None
        if result is not out and (
            not isinstance(result, np.ndarray) or result.shape != shape or result.dtype != np.uint8
        ):
            raise CorruptError("jxl: payload decoded to an unexpected shape")
        return np.asarray(result)
