"""The ``srcodec.zstd`` low-resolution codec: colour decorrelation and a PNG-style prediction
filter on planar bytes, then zstd. Fast to decode; usually smaller than PNG on camera frames.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import zstandard

from ..errors import CorruptError, FormatError
from .base import LowresCodec, check_frame, check_int, check_shape

_FILTERS = ("none", "sub", "up", "grad")


def _filter(planes: np.ndarray, name: str) -> np.ndarray:
    """Forward prediction filter on a (C, H, W) uint8 array, modulo 256 (returns a new array)."""
    out = planes.copy()
    if name in ("sub", "grad"):
        out[:, :, 1:] -= planes[:, :, :-1]
    if name in ("up", "grad"):
        # grad = sub followed by up: x - left - above + aboveleft.
        out[:, 1:, :] -= out[:, :-1, :].copy()
    return out


def _unfilter(planes: np.ndarray, name: str) -> np.ndarray:
    """Inverse of ``_filter``: running sums modulo 256 (uint8 accumulation wraps)."""
    out = planes
    if name in ("up", "grad"):
        out = np.cumsum(out, axis=1, dtype=np.uint8)
    if name in ("sub", "grad"):
        out = np.cumsum(out, axis=2, dtype=np.uint8)
    return out


class ZstdCodec(LowresCodec):
    """Planar bytes after colour decorrelation and a PNG-style prediction filter, then zstd.

    Usually smaller and much faster to decode than PNG for camera frames.
    """

    codec_id: ClassVar[str] = "srcodec.zstd"
    aliases: ClassVar[tuple[str, ...]] = ("zstd",)

    def __init__(self, level: int = 19, filter: str = "grad", decorrelate: bool = True) -> None:
        self.level = check_int(self.codec_id, "level", level, 1, 22)
        if filter not in _FILTERS:
            raise FormatError(
                f"zstd: unknown filter {filter!r} (expected one of {', '.join(_FILTERS)})"
            )
        if not isinstance(decorrelate, bool):
            raise FormatError(f"zstd: decorrelate must be true or false, got {decorrelate!r}")
        self.filter = filter
        self.decorrelate = decorrelate

    def get_config(self) -> dict[str, Any]:
        return {
            "id": self.codec_id,
            "level": self.level,
            "filter": self.filter,
            "decorrelate": self.decorrelate,
        }

    def encode(self, frame: np.ndarray) -> bytes:
        frame = check_frame(frame)
        planes = frame[None] if frame.ndim == 2 else frame.transpose(2, 0, 1)
        planes = np.ascontiguousarray(planes)
        if self.decorrelate and planes.shape[0] == 3:
            r, g, b = planes
            planes = np.stack([g, r - g, b - g])
        raw = _filter(planes, self.filter).tobytes()
        cctx = zstandard.ZstdCompressor(
            level=self.level, write_content_size=True, write_checksum=True
        )
        return cctx.compress(raw)

    def decode(self, data: bytes, width: int, height: int, channels: int) -> np.ndarray:
        check_shape(self.codec_id, width, height, channels)
        expected = width * height * channels
        # The frame header declares the decompressed size; checking it first bounds the output
        # buffer to exactly the frame size, whatever the payload claims.
        try:
            declared = zstandard.frame_content_size(data)
        except Exception as exc:
            raise CorruptError(f"zstd: payload is not a zstd frame: {exc}") from None
        if declared != expected:
            raise CorruptError(
                f"zstd: payload holds {declared} bytes, expected {expected} "
                f"({channels} x {width}x{height})"
            )
        try:
            dobj = zstandard.ZstdDecompressor().decompressobj()
            raw = dobj.decompress(data)
            complete, trailing = dobj.eof, dobj.unused_data
        except Exception as exc:
            raise CorruptError(f"zstd: payload cannot be decompressed: {exc}") from None
        if not complete or len(raw) != expected:
            raise CorruptError(f"zstd: payload is truncated ({len(raw)} of {expected} bytes)")
        if trailing:
            raise CorruptError(f"zstd: {len(trailing)} unexpected bytes after the payload")
        planes = _unfilter(
            np.frombuffer(raw, np.uint8).reshape(channels, height, width), self.filter
        )
        if self.decorrelate and channels == 3:
            g, rg, bg = planes
            planes = np.stack([rg + g, g, bg + g])
        out = planes[0] if channels == 1 else np.ascontiguousarray(planes.transpose(1, 2, 0))
        # Without filter or decorrelation, ``out`` may still be a read-only view of ``raw``.
        return out if out.flags.writeable else out.copy()
