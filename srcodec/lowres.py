"""Lossless codecs for the low-resolution frames an archive stores, behind a small registry.

A codec's JSON-safe config (kept in the archive header) rebuilds it; byte formats: docs/format.md.
"""

from __future__ import annotations

import abc
import io
import struct
import zlib
from typing import Any, ClassVar

import numpy as np
import zstandard
from PIL import Image

from .errors import CorruptError, FormatError, FrameError

__all__ = [
    "LowresCodec",
    "PngCodec",
    "ZstdCodec",
    "available_codecs",
    "get_codec",
    "register_codec",
]

_MODES = {1: "L", 3: "RGB"}


class LowresCodec(abc.ABC):
    """A lossless codec for one low-resolution uint8 frame (HxW grayscale or HxWx3 RGB)."""

    codec_id: ClassVar[str]
    #: The parameter that trades encode time for size (what ``--level`` sets), if any.
    level_param: ClassVar[str | None] = "level"

    @abc.abstractmethod
    def encode(self, frame: np.ndarray) -> bytes:
        """Encode a uint8 HxW or HxWx3 array (any memory layout) into bytes."""

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
        """Build the codec a ``get_config()`` dict describes (``FormatError`` if it is invalid)."""
        if not isinstance(config, dict):
            raise FormatError(f"codec config must be a dict, got {type(config).__name__}")
        params = dict(config)
        codec_id = params.pop("id", cls.codec_id)
        if codec_id != cls.codec_id:
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


# --- registry ----------------------------------------------------------------------------------

_REGISTRY: dict[str, type[LowresCodec]] = {}


def register_codec(cls: type[LowresCodec]) -> type[LowresCodec]:
    """Register a codec class under its ``codec_id`` (usable as a decorator); replaces any
    class registered under the same id."""
    codec_id = getattr(cls, "codec_id", None)
    if not isinstance(codec_id, str) or not codec_id:
        raise ValueError(f"{cls.__name__} has no codec_id")
    _REGISTRY[codec_id] = cls
    return cls


def available_codecs() -> list[str]:
    """The ids of the registered codecs, sorted."""
    return sorted(_REGISTRY)


def codec_class(codec_id: str) -> type[LowresCodec]:
    """The class registered under ``codec_id`` (``FormatError`` naming it if none)."""
    cls = _REGISTRY.get(codec_id)
    if cls is None:
        known = ", ".join(available_codecs()) or "none"
        raise FormatError(f"unknown low-resolution codec {codec_id!r} (known codecs: {known})")
    return cls


def get_codec(spec: str | dict[str, Any]) -> LowresCodec:
    """A codec from its id (default parameters) or from a config dict (as ``get_config``)."""
    if isinstance(spec, str):
        codec_id, config = spec, {"id": spec}
    elif isinstance(spec, dict):
        codec_id, config = spec.get("id"), spec
        if not isinstance(codec_id, str):
            raise FormatError(f"codec config has no string 'id': {spec!r}")
    else:
        raise FormatError(f"codec spec must be an id or a config dict, got {type(spec).__name__}")
    return codec_class(codec_id).from_config(config)


# --- helpers -----------------------------------------------------------------------------------


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"expected a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise FrameError(f"expected a uint8 frame, got dtype {frame.dtype}")
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
        raise FrameError(f"expected an HxW or HxWx3 frame, got shape {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise FrameError(f"empty frame of shape {frame.shape}")
    return frame


def _check_shape(codec_id: str, width: int, height: int, channels: int) -> tuple[int, ...]:
    if channels not in _MODES:
        raise CorruptError(f"{codec_id}: cannot decode {channels} channels (expected 1 or 3)")
    if not (isinstance(width, int) and isinstance(height, int) and width >= 1 and height >= 1):
        raise CorruptError(f"{codec_id}: invalid frame size {width!r}x{height!r}")
    return (height, width) if channels == 1 else (height, width, 3)


def _check_level(codec_id: str, level: Any, low: int, high: int) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not low <= level <= high:
        raise FormatError(f"{codec_id}: level must be an integer {low}..{high}, got {level!r}")
    return level


# --- png ---------------------------------------------------------------------------------------

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


def _pillow_decode(
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


@register_codec
class PngCodec(LowresCodec):
    """PNG through Pillow: portable (any image viewer reads the payload), zlib-compressed."""

    codec_id: ClassVar[str] = "png"

    def __init__(self, level: int = 9) -> None:
        self.level = _check_level(self.codec_id, level, 0, 9)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "level": self.level}

    def encode(self, frame: np.ndarray) -> bytes:
        frame = np.ascontiguousarray(_check_frame(frame))
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="PNG", compress_level=self.level, optimize=False)
        return buf.getvalue()

    def decode(self, data: bytes, width: int, height: int, channels: int) -> np.ndarray:
        shape = _check_shape(self.codec_id, width, height, channels)
        mode = _MODES[channels]
        _check_png_chunks(data)
        return _pillow_decode("png", "PNG", data, mode, shape)


# --- zstd --------------------------------------------------------------------------------------

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


@register_codec
class ZstdCodec(LowresCodec):
    """Planar bytes after colour decorrelation and a PNG-style prediction filter, then zstd.

    Usually smaller and much faster to decode than PNG for camera frames.
    """

    codec_id: ClassVar[str] = "zstd"

    def __init__(self, level: int = 19, filter: str = "grad", decorrelate: bool = True) -> None:
        self.level = _check_level(self.codec_id, level, 1, 22)
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
        frame = _check_frame(frame)
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
        _check_shape(self.codec_id, width, height, channels)
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


# --- webp and jxl: modern lossless image codecs, each payload sealed with a CRC-32 -------------
# Neither WebP nor JPEG XL checksums its pixel data, so a flipped bit would decode silently to
# different pixels; the 4-byte trailer makes every damaged payload a CorruptError.

_SEAL = struct.Struct("<I")


def _seal(bitstream: bytes) -> bytes:
    return bytes(bitstream) + _SEAL.pack(zlib.crc32(bitstream))


def _unseal(codec_id: str, data: bytes) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CorruptError(f"{codec_id}: payload must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) <= _SEAL.size:
        raise CorruptError(f"{codec_id}: payload is truncated ({len(data)} bytes)")
    bitstream, (crc,) = data[: -_SEAL.size], _SEAL.unpack(data[-_SEAL.size :])
    if zlib.crc32(bitstream) != crc:
        raise CorruptError(f"{codec_id}: checksum mismatch (payload damaged or truncated)")
    return bitstream


def _check_int(codec_id: str, name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FormatError(f"{codec_id}: {name} must be an integer {low}..{high}, got {value!r}")
    return value


#: Largest width or height a WebP image can have.
WEBP_MAX_DIMENSION = 16383


@register_codec
class WebpCodec(LowresCodec):
    """Lossless WebP (VP8L) through Pillow: about a quarter smaller than PNG on photos.

    ``method`` (0..6) and ``quality`` (0..100) set the encoder's effort; both only affect the
    writer. Grayscale frames are stored as RGB with equal channels (WebP has no gray mode).
    """

    codec_id: ClassVar[str] = "webp"
    level_param: ClassVar[str | None] = "method"

    def __init__(self, method: int = 4, quality: int = 100) -> None:
        self.method = _check_int(self.codec_id, "method", method, 0, 6)
        self.quality = _check_int(self.codec_id, "quality", quality, 0, 100)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "method": self.method, "quality": self.quality}

    def encode(self, frame: np.ndarray) -> bytes:
        frame = _check_frame(frame)
        if max(frame.shape[:2]) > WEBP_MAX_DIMENSION:
            raise FrameError(
                f"webp: a {frame.shape[1]}x{frame.shape[0]} frame exceeds WebP's "
                f"{WEBP_MAX_DIMENSION} px limit; use another codec"
            )
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(frame)).save(
            buf, format="WEBP", lossless=True, quality=self.quality, method=self.method, exact=True
        )
        return _seal(buf.getvalue())

    def decode(self, data: bytes, width: int, height: int, channels: int) -> np.ndarray:
        _check_shape(self.codec_id, width, height, channels)
        bitstream = _unseal(self.codec_id, data)
        # A simple-format lossless file: RIFF size, then exactly one VP8L chunk.
        if len(bitstream) < 21 or bitstream[:4] != b"RIFF" or bitstream[8:16] != b"WEBPVP8L":
            raise CorruptError("webp: payload is not a lossless WebP (VP8L) image")
        if struct.unpack_from("<I", bitstream, 4)[0] != len(bitstream) - 8:
            raise CorruptError("webp: RIFF size does not match the payload")
        array = _pillow_decode("webp", "WEBP", bitstream, "RGB", (height, width, 3))
        if channels == 1:
            if not (
                np.array_equal(array[..., 0], array[..., 1])
                and np.array_equal(array[..., 0], array[..., 2])
            ):
                raise CorruptError("webp: a grayscale frame decoded with unequal channels")
            array = np.ascontiguousarray(array[..., 0])
        return array


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


@register_codec
class JxlCodec(LowresCodec):
    """Lossless JPEG XL (modular mode) through imagecodecs (libjxl): about 30 % smaller than
    PNG on photos. ``effort`` (1..10) only affects the writer. Needs ``imagecodecs``.
    """

    codec_id: ClassVar[str] = "jxl"
    level_param: ClassVar[str | None] = "effort"

    def __init__(self, effort: int = 7) -> None:
        self.effort = _check_int(self.codec_id, "effort", effort, 1, 10)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "effort": self.effort}

    def encode(self, frame: np.ndarray) -> bytes:
        frame = np.ascontiguousarray(_check_frame(frame))
        # distance=0 alone still codes lossily (XYB); lossless=True is the mathematically
        # lossless mode. A bare codestream (no ISOBMFF container) keeps the payload minimal.
        bitstream = _imagecodecs().jpegxl_encode(
            frame, lossless=True, effort=self.effort, usecontainer=False, numthreads=1
        )
        return _seal(bitstream)

    def decode(self, data: bytes, width: int, height: int, channels: int) -> np.ndarray:
        shape = _check_shape(self.codec_id, width, height, channels)
        bitstream = _unseal(self.codec_id, data)
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


__all__ += ["JxlCodec", "WebpCodec"]
