"""Inter-frame lossless codecs for a group of equal-size low-resolution frames (x264 qp 0 by
default): N frames to one self-checking payload and back, bit-exact, in memory through PyAV.

Each is also a ``LowresCodec`` (a frame is a group of one) registered in srcodec.lowres's
registry, so an archive header's codec config rebuilds it. Byte format: docs/format.md, 9.6.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Collection, Iterator, Sequence
from fractions import Fraction
from typing import Any, ClassVar

import av
import numpy as np

from ..archive.layout import MAX_GROUP_FRAMES
from ..errors import CorruptError, FormatError, FrameError
from ..pixels import check_frame
from .base import (
    LowresCodec,
    check_int,
    check_shape,
    pack_blobs,
    pack_uleb,
    unpack_blobs,
    unpack_uleb,
)

__all__ = [
    "MAX_GROUP_FRAMES",
    "Ffv1StreamCodec",
    "GroupEncoder",
    "StreamCodec",
    "X264StreamCodec",
    "X265StreamCodec",
]


_VERSION = 1
_PREFIX = struct.Struct("<BI")  # payload version, frame count
#: The compact payload (docs/format.md, 9.7b): LEB128 lengths, one pixel checksum a span of
#: frames, each packet without the prefix every packet of the codec starts with.
_COMPACT = 2
#: Frames a compact payload's pixel checksum covers: a seek decodes up to ``CHECK_SPAN - 1``
#: frames past the one it wants (a few ms each for dav1d at 768x576), for 0.5 byte a frame
#: instead of 4 (a frame of a lossy archive of a static camera is often under 300 bytes).
CHECK_SPAN = 8
#: A run of frames under one pixel checksum: (first frame, end, CRC-32).
Span = tuple[int, int, int]
_U32 = struct.Struct("<I")
_TIME_BASE = Fraction(1, 25)  # any rate will do: only the order of the frames matters


class StreamCodec(LowresCodec):
    """A lossless codec for a group of frames of one size and mode, coded as one stream.

    Subclasses name an FFmpeg encoder (and its pixel format and options) for each channel count,
    and the decoder that reads it back.
    """

    level_param: ClassVar[str | None] = None
    #: channels -> (encoder name, pixel format)
    encoders: ClassVar[dict[int, tuple[str, str]]]
    decoder: ClassVar[str]
    #: Whether the decoder takes the frame size from the caller (FFV1 does). Others must not
    #: be given it: FFmpeg's H.264 decoder would crop to it, hiding a size mismatch.
    sized_decoder: ClassVar[bool] = False
    #: Whether ``encode_group`` writes the compact payload (version 2, section 9.7b), which
    #: only format version 4 archives may hold; version 1 otherwise. Readers take both.
    compact: bool = False
    #: Bytes every packet of the codec starts with, left out of a compact payload and put back
    #: by its reader (AV1: the temporal delimiter OBU that opens each temporal unit).
    packet_prefix: ClassVar[bytes] = b""

    def options(self) -> dict[str, str]:
        """The encoder's options (lossless ones, and the speed the config asks for)."""
        return {}

    # -- the group API --

    def encode_group(self, frames: Sequence[np.ndarray]) -> bytes:
        """Encode 1..MAX_GROUP_FRAMES uint8 frames of one shape (HxW or HxWx3) into one payload."""
        return self.encode_group_kept(frames, ())[0]

    def encode_group_kept(
        self, frames: Sequence[np.ndarray], keep: Collection[int]
    ) -> tuple[bytes, dict[int, np.ndarray]]:
        """``encode_group``, and the frames at positions ``keep`` as a decoder gives them back
        (a lossy codec decodes its stream once, for the payload's checksums and these)."""
        if not 1 <= len(frames) <= MAX_GROUP_FRAMES:
            raise FrameError(f"{self.codec_id}: a group holds 1..{MAX_GROUP_FRAMES} frames")
        encoder = GroupEncoder(self, keep)
        for frame in frames:
            encoder.add(frame)
        return encoder.finish()

    def _open_encoder(self, shape: tuple[int, ...]) -> tuple[av.CodecContext, str]:
        """An encoder for frames of ``shape`` (as ``_prepare`` gives them) and its pixel
        format."""
        channels = 1 if len(shape) == 2 else 3
        encoder, pix_fmt = self.encoders[channels]
        ctx = av.CodecContext.create(encoder, "w")
        ctx.width, ctx.height = shape[1], shape[0]
        ctx.pix_fmt = pix_fmt
        ctx.time_base = _TIME_BASE
        ctx.options = self.options()
        return ctx, pix_fmt

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        """A frame as the encoder is given it (a lossy stream pads odd and small sizes)."""
        return frame

    def _encode_frame(
        self, ctx: av.CodecContext, pix_fmt: str, frame: np.ndarray | None, k: int = 0
    ) -> list[bytes]:
        """The packets ``ctx`` gives for ``frame``, the stream's ``k``-th (None: its end)."""
        picture = None
        if frame is not None:
            picture = self._picture(self._prepare(frame), pix_fmt)
            picture.pts = k
        try:
            return [bytes(p) for p in ctx.encode(picture)]
        except av.FFmpegError as exc:
            raise FrameError(f"{self.codec_id}: {ctx.name} failed ({exc})") from None

    def _encode_stream(self, frames: list[np.ndarray]) -> tuple[bytes, list[bytes]]:
        """The encoder's extradata and packets for ``frames`` (checked, of one shape)."""
        ctx, pix_fmt = self._open_encoder(self._prepare(frames[0]).shape)
        packets: list[bytes] = []
        for k, f in enumerate([*frames, None]):
            packets += self._encode_frame(ctx, pix_fmt, f, k)
        return bytes(ctx.extradata or b""), packets

    def _picture(self, frame: np.ndarray, pix_fmt: str) -> av.VideoFrame:
        """``frame`` (HxW grey or HxWx3 RGB) as the encoder's picture in ``pix_fmt``."""
        picture = av.VideoFrame.from_ndarray(frame, format="gray" if frame.ndim == 2 else "rgb24")
        return picture if picture.format.name == pix_fmt else picture.reformat(format=pix_fmt)

    @staticmethod
    def _pack(crcs: list[int], extradata: bytes, packets: list[bytes]) -> bytes:
        parts = [_PREFIX.pack(_VERSION, len(crcs))]
        parts += [_U32.pack(crc) for crc in crcs]
        parts.append(pack_blobs((extradata, *packets)))
        return b"".join(parts)

    @staticmethod
    def _pack_compact(crcs: list[int], count: int, extradata: bytes, packets: list[bytes]) -> bytes:
        """The compact payload: ``crcs`` one for each span of ``CHECK_SPAN`` frames."""
        parts = [bytes([_COMPACT]), pack_uleb(count), pack_uleb(CHECK_SPAN)]
        parts += [_U32.pack(crc) for crc in crcs]
        for blob in (extradata, *packets):
            parts += [pack_uleb(len(blob)), blob]
        return b"".join(parts)

    def decode_group(
        self,
        data: bytes,
        width: int,
        height: int,
        channels: int,
        count: int,
        upto: int | None = None,
    ) -> list[np.ndarray]:
        """Decode a payload to exactly ``count`` frames of ``height x width`` (x3 if RGB), each
        checked against its stored CRC-32; ``CorruptError`` otherwise. With ``upto`` (a seek),
        only frames 0..``upto`` are returned, decoded up to the end of the checksum span holding
        ``upto`` (one frame in a version-1 payload) and checked: the frames after are not read."""
        shape = check_shape(self.codec_id, width, height, channels)
        spans, extradata, packets = self._split(bytes(data), count)
        if upto is not None and not 0 <= upto < count:
            raise IndexError(f"{self.codec_id}: frame {upto} of a group of {count}")
        last = None if upto is None else next(stop for start, stop, _ in spans if upto < stop) - 1
        frames = self._decode_stream(extradata, packets, shape, count, last)
        for start, stop, crc in spans:
            if stop > len(frames):
                break
            if _span_crc(frames[start:stop]) != crc:
                which = (
                    f"frame #{start} fails its"
                    if stop - start == 1
                    else f"frames #{start}-#{stop - 1} fail their"
                )
                raise CorruptError(f"{self.codec_id}: {which} pixel checksum")
        return frames if upto is None else frames[: upto + 1]

    def _decode_stream(
        self,
        extradata: bytes,
        packets: list[bytes],
        shape: tuple[int, ...],
        count: int,
        upto: int | None = None,
    ) -> list[np.ndarray]:
        """Exactly ``count`` frames of ``shape`` decoded from the stream (CRCs not checked), or
        with ``upto`` frames 0..``upto`` only (decoding stops once they are out)."""
        frames: list[np.ndarray] = []
        for frame in self._iter_stream(extradata, packets, shape, count):
            frames.append(frame)
            if upto is not None and len(frames) > upto:
                break
        return frames

    def _iter_stream(
        self, extradata: bytes, packets: list[bytes], shape: tuple[int, ...], count: int
    ) -> Iterator[np.ndarray]:
        """The frames of the stream, one at a time (a writer checksums them without holding
        them all); ``CorruptError`` if it does not decode to exactly ``count`` of ``shape``."""
        ctx = self._open_decoder(extradata, shape)
        done = 0
        try:
            for blob in [*packets, None]:
                for picture in ctx.decode(None if blob is None else av.Packet(blob)):
                    if done == count:
                        raise CorruptError(f"{self.codec_id}: more than {count} frames")
                    yield self._stored_picture(picture, shape, done)
                    done += 1
        except av.FFmpegError as exc:
            raise CorruptError(f"{self.codec_id}: stream does not decode ({exc})") from None
        if done != count:
            raise CorruptError(f"{self.codec_id}: {done} frames decoded, {count} stored")

    def _open_decoder(self, extradata: bytes, shape: tuple[int, ...]) -> av.CodecContext:
        """A decoder for the stream of frames of ``shape`` (as the encoder was given them)."""
        ctx = av.CodecContext.create(self.decoder, "r")
        if self.sized_decoder:
            ctx.width, ctx.height = shape[1], shape[0]
        if extradata:
            ctx.extradata = extradata
        return ctx

    def _split(self, data: bytes, count: int) -> tuple[list[Span], bytes, list[bytes]]:
        """The payload's checksum spans (first frame, end, CRC-32), extradata and packets
        (docs/format.md, 9.6 and 9.7b)."""
        if len(data) < _PREFIX.size:
            raise CorruptError(f"{self.codec_id}: payload is cut off")
        if data[0] == _COMPACT:
            return self._split_compact(data, count)
        version, stored = _PREFIX.unpack_from(data)
        if version != _VERSION:
            raise CorruptError(f"{self.codec_id}: unknown payload version {version}")
        if stored != count:
            raise CorruptError(f"{self.codec_id}: payload holds {stored} frames, not {count}")
        pos = _PREFIX.size + count * _U32.size
        if pos > len(data):
            raise CorruptError(f"{self.codec_id}: payload is cut off")
        crcs = struct.unpack_from(f"<{count}I", data, _PREFIX.size)
        blobs, _ = unpack_blobs(self.codec_id, data, pos)
        if not blobs:
            raise CorruptError(f"{self.codec_id}: payload has no extradata field")
        spans = [(k, k + 1, crc) for k, crc in enumerate(crcs)]
        return spans, blobs[0], [b for b in blobs[1:] if b]

    def _split_compact(self, data: bytes, count: int) -> tuple[list[Span], bytes, list[bytes]]:
        stored, pos = unpack_uleb(self.codec_id, data, 1)
        if stored != count:
            raise CorruptError(f"{self.codec_id}: payload holds {stored} frames, not {count}")
        span, pos = unpack_uleb(self.codec_id, data, pos)
        if span < 1:
            raise CorruptError(f"{self.codec_id}: checksum span of {span} frames")
        starts = range(0, count, span)
        if pos + len(starts) * _U32.size > len(data):
            raise CorruptError(f"{self.codec_id}: payload is cut off")
        crcs = struct.unpack_from(f"<{len(starts)}I", data, pos)
        pos += len(starts) * _U32.size
        blobs = []
        while pos < len(data):
            size, pos = unpack_uleb(self.codec_id, data, pos)
            if pos + size > len(data):
                raise CorruptError(f"{self.codec_id}: truncated: blob {len(blobs)} is cut off")
            blobs.append(data[pos : pos + size])
            pos += size
        if not blobs:
            raise CorruptError(f"{self.codec_id}: payload has no extradata field")
        spans = [(k, min(k + span, count), crc) for k, crc in zip(starts, crcs, strict=True)]
        return spans, blobs[0], [self.packet_prefix + b for b in blobs[1:]]

    def _stored_picture(self, picture: av.VideoFrame, shape: tuple[int, ...], k: int) -> np.ndarray:
        """Decoded picture ``k`` as the stored frame of ``shape`` (a lossy stream crops its
        padding)."""
        return self._pixels(picture, shape, k)

    def _to_rgb(self, picture: av.VideoFrame) -> np.ndarray:
        """A decoded picture as RGB (swscale's default conversion)."""
        return picture.to_ndarray(format="rgb24")

    def _pixels(self, picture: av.VideoFrame, shape: tuple[int, ...], k: int) -> np.ndarray:
        if (picture.height, picture.width) != shape[:2]:
            raise CorruptError(
                f"{self.codec_id}: frame #{k} decodes to {picture.width}x{picture.height}, "
                f"not {shape[1]}x{shape[0]}"
            )
        if len(shape) == 3:
            return np.ascontiguousarray(self._to_rgb(picture))
        # A 4:0:0 stream may decode with neutral chroma planes added: the luma plane is the frame.
        if not picture.format.name.startswith(("gray", "yuv")):
            raise CorruptError(f"{self.codec_id}: frame #{k} decodes as {picture.format.name}")
        return np.ascontiguousarray(self._luma(picture, shape))

    def _luma(self, picture: av.VideoFrame, shape: tuple[int, ...]) -> np.ndarray:
        """The luma plane of a decoded picture as a grey frame of ``shape``: 8 bits, or a
        10-bit stream's (``srcodec.av1`` at ``bits`` 10) rounded to 8, as the stream says."""
        plane = picture.planes[0]
        if picture.format.name.endswith("10le"):
            rows = np.frombuffer(plane, "<u2").reshape(shape[0], plane.line_size // 2)
            # 4 levels to 1, rounded (1022 and 1023 round to 256: kept at 255).
            return np.minimum((rows[:, : shape[1]] + 2) >> 2, 255).astype(np.uint8)
        rows = np.frombuffer(plane, np.uint8).reshape(shape[0], plane.line_size)
        return rows[:, : shape[1]]

    # -- the one-frame LowresCodec API: a group of one --

    def encode(self, frame: np.ndarray) -> bytes:
        return self.encode_group([frame])

    def decode(self, data: bytes, width: int, height: int, channels: int) -> np.ndarray:
        return self.decode_group(data, width, height, channels, 1)[0]


class GroupEncoder:
    """One group coded as its frames come: ``add`` each (a recorder, as it receives them),
    then ``finish`` for the payload that ``encode_group`` gives for the same frames, and the
    decoded frames at positions ``keep``. The encoder works while the group fills, and a
    lossy stream's packets are decoded as they come out of it (its checksums are of the
    frames decoded): only the stream's tail is left for ``finish``. No frame is held but the
    ones kept."""

    def __init__(self, codec: StreamCodec, keep: Collection[int] = ()) -> None:
        self.codec, self.keep = codec, set(keep)
        self.count = 0
        self._lossy = bool(getattr(codec, "lossy", False))
        self._ctx: av.CodecContext | None = None
        self._decoder: av.CodecContext | None = None
        self._pix_fmt = ""
        self._shape: tuple[int, ...] = ()
        self._packets: list[bytes] = []
        # The checksums of the stored frames so far: each frame's, and each span's.
        self._crcs: list[int] = []
        self._spans: list[int] = []
        self._span = 0
        self._kept: dict[int, np.ndarray] = {}

    def add(self, frame: np.ndarray) -> None:
        """Code the group's next frame (uint8, HxW or HxWx3, the shape of the first)."""
        codec = self.codec
        frame = np.ascontiguousarray(check_frame(frame))
        if self._ctx is None:
            self._shape = frame.shape
            self._ctx, self._pix_fmt = codec._open_encoder(codec._prepare(frame).shape)
        elif frame.shape != self._shape:
            raise FrameError(
                f"{codec.codec_id}: frame #{self.count} is {frame.shape}, the group {self._shape}"
            )
        if self.count == MAX_GROUP_FRAMES:
            raise FrameError(f"{codec.codec_id}: a group holds 1..{MAX_GROUP_FRAMES} frames")
        packets = codec._encode_frame(self._ctx, self._pix_fmt, frame, self.count)
        self.count += 1
        self._coded(packets)
        if not self._lossy:
            self._stored(frame)  # a lossless stream stores the frame itself

    def _coded(self, packets: list[bytes]) -> None:
        self._packets += packets
        if not self._lossy:
            return
        if self._decoder is None:
            assert self._ctx is not None
            extradata = bytes(self._ctx.extradata or b"")
            self._decoder = self.codec._open_decoder(extradata, self._shape)
        for blob in packets:
            self._decode(av.Packet(blob))

    def _decode(self, packet: av.Packet | None) -> None:
        """The frames the decoder gives for ``packet`` (None: its last ones), stored."""
        codec = self.codec
        assert self._decoder is not None
        try:
            for picture in self._decoder.decode(packet):
                if len(self._crcs) == self.count:
                    raise CorruptError(f"{codec.codec_id}: more than {self.count} frames")
                self._stored(codec._stored_picture(picture, self._shape, len(self._crcs)))
        except av.FFmpegError as exc:
            raise CorruptError(f"{codec.codec_id}: stream does not decode ({exc})") from None

    def _stored(self, frame: np.ndarray) -> None:
        k = len(self._crcs)
        self._crcs.append(zlib.crc32(frame))
        self._span = zlib.crc32(frame, self._span)
        if (k + 1) % CHECK_SPAN == 0:
            self._spans.append(self._span)
            self._span = 0
        if k in self.keep:
            self._kept[k] = frame

    def finish(self) -> tuple[bytes, dict[int, np.ndarray]]:
        """The group's payload and its decoded frames at ``keep``; the encoder is done."""
        codec = self.codec
        if self._ctx is None:
            raise FrameError(f"{codec.codec_id}: a group holds 1..{MAX_GROUP_FRAMES} frames")
        self._coded(codec._encode_frame(self._ctx, self._pix_fmt, None))
        if self._decoder is not None:
            self._decode(None)  # the decoder's last frames
        if len(self._crcs) != self.count:
            raise CorruptError(
                f"{codec.codec_id}: {len(self._crcs)} frames decoded, {self.count} coded"
            )
        if self.count % CHECK_SPAN:
            self._spans.append(self._span)
        packets, extradata = self._packets, bytes(self._ctx.extradata or b"")
        kept = self._kept
        self._ctx = self._decoder = None
        self._packets, self._kept = [], {}
        prefix = codec.packet_prefix
        if codec.compact and all(p.startswith(prefix) for p in packets):
            bodies = [p[len(prefix) :] for p in packets if p]
            return codec._pack_compact(self._spans, self.count, extradata, bodies), kept
        return codec._pack(self._crcs, extradata, packets), kept


def _span_crc(frames: Sequence[np.ndarray]) -> int:
    """The CRC-32 of ``frames``' pixels, one after the other."""
    crc = 0
    for frame in frames:
        crc = zlib.crc32(frame, crc)
    return crc


# x264/x265 presets, fastest to slowest (lossless sizes and speeds: docs/footage.md).
PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


class _PresetStreamCodec(StreamCodec):
    """A stream codec whose one parameter is its encoder's preset (its speed)."""

    default_preset: ClassVar[str]

    def __init__(self, preset: str | None = None):
        preset = self.default_preset if preset is None else preset
        if preset not in PRESETS:
            raise FormatError(
                f"{self.codec_id}: preset {preset!r} is not one of {', '.join(PRESETS)}"
            )
        self.preset = preset

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "preset": self.preset}


class X264StreamCodec(_PresetStreamCodec):
    """H.264 at qp 0: libx264rgb codes RGB directly (High 4:4:4), libx264 grey as 4:0:0."""

    codec_id = "srcodec.x264"
    aliases: ClassVar[tuple[str, ...]] = ("x264",)
    encoders = {3: ("libx264rgb", "rgb24"), 1: ("libx264", "gray")}
    decoder = "h264"
    # On CCTV (docs/footage.md) "fast" is within 0.3 % of "medium"'s size and faster.
    default_preset = "fast"

    def options(self) -> dict[str, str]:
        return {"qp": "0", "preset": self.preset}


class X265StreamCodec(_PresetStreamCodec):
    """HEVC in x265's lossless mode (planar RGB, or grey 4:0:0)."""

    codec_id = "srcodec.x265"
    aliases: ClassVar[tuple[str, ...]] = ("x265",)
    encoders = {3: ("libx265", "gbrp"), 1: ("libx265", "gray")}
    decoder = "hevc"
    default_preset = "medium"

    def options(self) -> dict[str, str]:
        return {"preset": self.preset, "x265-params": "lossless=1:log-level=error"}


class Ffv1StreamCodec(StreamCodec):
    """FFV1 version 3 (intra-only, lossless by design): the reference point for the others."""

    codec_id = "srcodec.ffv1"
    aliases: ClassVar[tuple[str, ...]] = ("ffv1",)
    encoders = {3: ("ffv1", "bgr0"), 1: ("ffv1", "gray")}
    decoder = "ffv1"
    sized_decoder = True

    def __init__(self, context: int = 1):
        self.context = check_int(self.codec_id, "context", context, 0, 1)

    def options(self) -> dict[str, str]:
        # Version 3 keeps its configuration in extradata, which FFmpeg emits only for a global
        # header; its slice CRCs are redundant with the payload's pixel CRCs.
        return {
            "level": "3",
            "context": str(self.context),
            "slicecrc": "0",
            "flags": "+global_header",
        }

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "context": self.context}
