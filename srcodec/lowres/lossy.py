"""Lossy codecs for the frames of a lossy archive (``--quality``/``--bpp``): ``srcodec.hevc``
(x265 at a constant rate factor, 4:2:0, an inter-frame stream coding a group of frames),
``srcodec.av1`` (the same through SVT-AV1, decoded by dav1d) and ``srcodec.avif`` (one AVIF
still per frame, through Pillow).

A ``srcodec.hevc`` or ``srcodec.av1`` payload stores the CRC-32 of the frames its decoder gives
back, computed at encode time by decoding what was just coded, so that a damaged payload is still a
``CorruptError`` and a decoder that rounds differently is caught rather than trusted; an AVIF
payload is sealed with the CRC-32 of its bitstream. ``lossy = True`` tells the writer
that the stored frames are not the frames it was given. Byte formats: docs/format.md, 9.7-9.8.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any, ClassVar, TypeVar

import av
import numpy as np
from av.video.reformatter import Interpolation
from PIL import Image

from ..errors import FormatError, FrameError
from ..pixels import to_rgb
from ..video import quiet_svt
from .base import LowresCodec, check_frame, check_int, check_shape, pillow_decode, seal, unseal
from .stream import PRESETS, StreamCodec

__all__ = [
    "Av1Codec",
    "AvifCodec",
    "HevcCodec",
    "code_frames",
    "code_kept",
    "is_lossy",
    "rgb_for",
    "runs",
    "setting_for_quality",
]

T = TypeVar("T")


def is_lossy(codec: LowresCodec) -> bool:
    """Whether ``codec`` stores other pixels than it is given."""
    return bool(getattr(codec, "lossy", False))


def setting_for_quality(cls: type, quality: float) -> int:
    """A lossy codec's quality parameter for ``quality`` 0..100 (higher is better): a straight
    line from its ``settings`` worst to best (x265: CRF 51 at 0 to CRF 0 at 100)."""
    worst, best = cls.settings
    return round(worst + (best - worst) * quality / 100)


def code_frames(codec: LowresCodec, frames: list[np.ndarray]) -> tuple[int, list[np.ndarray]]:
    """``frames`` (one shape) coded by ``codec`` and decoded: the bytes and the decoded frames
    (one stream if the codec codes groups, else each frame alone)."""
    nbytes, decoded = code_kept(codec, frames, range(len(frames)))
    return nbytes, [decoded[k] for k in range(len(frames))]


def code_kept(
    codec: LowresCodec, frames: list[np.ndarray], keep: Collection[int]
) -> tuple[int, dict[int, np.ndarray]]:
    """``frames`` (one shape) coded by ``codec``: the bytes, and the decoded frames at positions
    ``keep`` only (a rate search codes many settings of a long sample; holding every decoded
    frame of each would cost a group's pixels again)."""
    if isinstance(codec, StreamCodec):
        data, kept = codec.encode_group_kept(frames, set(keep))
        return len(data), kept
    h, w = frames[0].shape[:2]
    channels = 1 if frames[0].ndim == 2 else 3
    payloads = [codec.encode(f) for f in frames]
    kept = {k: codec.decode(payloads[k], w, h, channels) for k in keep}
    return sum(map(len, payloads)), kept


def runs(items: Iterable[T], key: Callable[[T], object], limit: int) -> Iterator[list[T]]:
    """``items`` cut into runs of consecutive items of equal ``key`` (a frame's shape: what one
    stream can code), each of at most ``limit`` items."""
    run: list[T] = []
    for item in items:
        if run and (len(run) == limit or key(item) != key(run[0])):
            yield run
            run = []
        run.append(item)
    if run:
        yield run


#: The smallest width and height libx265 is given: smaller 4:2:0 pictures corrupt its heap
#: (libx265 3.5 through FFmpeg, seen at 40x32 and 48x32), so they are padded up to this.
MIN_CODED = 64


def _coded_size(height: int, width: int) -> tuple[int, int]:
    """The size a frame is coded at: even (4:2:0 needs it) and at least ``MIN_CODED``."""
    return max(MIN_CODED, height + height % 2), max(MIN_CODED, width + width % 2)


def _pad(frame: np.ndarray) -> np.ndarray:
    """``frame`` with its last row/column repeated to its coded size."""
    h, w = frame.shape[:2]
    ch, cw = _coded_size(h, w)
    if (ch, cw) == (h, w):
        return frame
    pad = ((0, ch - h), (0, cw - w)) + (((0, 0),) if frame.ndim == 3 else ())
    return np.ascontiguousarray(np.pad(frame, pad, mode="edge"))


#: The YUV 4:2:0 -> RGB conversions a lossy stream's decoder may apply (config key ``"rgb"``),
#: as swscale flags. ``fast``: swscale's default, the one FFmpeg and PyAV use unless told
#: otherwise; its table-driven path is not the inverse of the encoder's conversion (an
#: uncoded round trip of vtest frames comes back at 45.7 dB RGB / 47.8 dB Y, about one level
#: low on average) and was the only one before ``rgb`` was recorded, so a config without the
#: key means it. ``nearest`` and ``bilinear``: accurate rounding, every pixel's own chroma
#: (``FULL_CHR_H_INT``), bit-exact C code so that the stored CRCs hold on any CPU, the chroma
#: sample repeated (the same round trip: 50.2 / 57.4 dB) or interpolated. ``nearest`` fits
#: frames whose chroma came from 4:2:0 video by FFmpeg's default conversion (a camera's frames,
#: which repeat each chroma sample over 2x2 pixels), ``bilinear`` true RGB (photographs);
#: ``rgb_for`` tells which. Chosen on validation data: ``benchmarks.studies.lossy_rgb``.
RGB_CONVERSIONS: dict[str, int | None] = {
    "fast": None,
    "nearest": int(
        Interpolation.POINT
        | Interpolation.ACCURATE_RND
        | Interpolation.FULL_CHR_H_INT
        | Interpolation.BITEXACT
    ),
    "bilinear": int(
        Interpolation.BILINEAR
        | Interpolation.ACCURATE_RND
        | Interpolation.FULL_CHR_H_INT
        | Interpolation.BITEXACT
    ),
}
#: What a lossy stream's config means without ``"rgb"`` (archives written before it).
LEGACY_RGB = "fast"
#: What a lossy codec built without ``rgb`` decodes with.
DEFAULT_RGB = "nearest"
#: The bit depth of an AV1 stream whose config has no ``"bits"`` (archives written before it).
LEGACY_BITS = 8
#: The bit depth new AV1 streams are coded at: the same 8-bit frames converted to 4:2:0 with
#: two more bits, so that the conversion rounds less and the codec predicts and filters at 10
#: bits. On validation vtest frames 476-635 (one stream, CRF 30-62) SVT-AV1 needs 4.9 % fewer
#: bytes RGB / 3.1 % Y than at 8 bits for the same PSNR (``benchmarks.studies.lossy_bitdepth``,
#: benchmarks/results/lossy_bitdepth.json), encoding 5-10 % slower (docs/lossy.md).
DEFAULT_BITS = 10
#: The accurate conversions ``rgb_for`` chooses between.
ACCURATE_RGB = ("nearest", "bilinear")
#: Frames ``rgb_for`` measures (spread over those given).
RGB_SAMPLE = 4


class _LossyStream(StreamCodec):
    """A lossy inter-frame stream of a group: odd and small sizes padded (``_coded_size``) by
    repeating the edge and cropped back on decode; the payload's CRCs are those of the frames
    as decoded (the encoder decodes what it coded), not of the frames given."""

    level_param: ClassVar[str | None] = None
    lossy: ClassVar[bool] = True
    #: The quality parameter (``--quality`` 0..100 maps onto ``settings``, its (worst, best)).
    quality_param: ClassVar[str] = "crf"
    #: swscale's filter for the RGB -> 4:2:0 conversion in front of the encoder: area averaging
    #: of the chroma (on validation vtest frames, SVT-AV1: -4.0 % BD-rate RGB, +0.3 % Y against
    #: PyAV's default, bilinear; FFmpeg's command line uses bicubic, -2.6 %; the study is
    #: ``benchmarks.studies.lossy_colour``). Only the encoder sees it: the decoded frames, and
    #: so the stored CRCs, do not depend on it.
    interpolation: ClassVar[str] = "AREA"
    #: The compact payload (section 9.7b: a lossy frame of a static camera is often a few
    #: hundred bytes, of which version 1 spent 8 on its length and checksum), in archives of
    #: format version 4; a writer appending to an older archive turns it off.
    compact: bool = True
    crf: int
    preset: int | str
    #: The YUV -> RGB conversion on decode (``RGB_CONVERSIONS``).
    rgb: str = DEFAULT_RGB

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LowresCodec:
        # A stream recorded without "rgb" was decoded by swscale's default conversion.
        if isinstance(config, dict) and "rgb" not in config:
            config = {**config, "rgb": LEGACY_RGB}
        return super().from_config(config)

    def _set_rgb(self, rgb: str) -> None:
        if rgb not in RGB_CONVERSIONS:
            raise FormatError(
                f"{self.codec_id}: rgb {rgb!r} is not one of {', '.join(RGB_CONVERSIONS)}"
            )
        self.rgb = rgb

    def get_config(self) -> dict[str, Any]:
        config = {"id": self.codec_id, "crf": self.crf, "preset": self.preset}
        # "fast" is left out, as archives before the key wrote it (older readers read them).
        return config if self.rgb == LEGACY_RGB else {**config, "rgb": self.rgb}

    def _to_rgb(self, picture: av.VideoFrame) -> np.ndarray:
        flags = RGB_CONVERSIONS[self.rgb]
        if flags is None:
            return super()._to_rgb(picture)
        return picture.reformat(format="rgb24", interpolation=flags).to_ndarray()

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        return _pad(frame)

    def _picture(self, frame: np.ndarray, pix_fmt: str) -> av.VideoFrame:
        if frame.ndim == 2:
            return super()._picture(frame, pix_fmt)
        picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
        return picture.reformat(format=pix_fmt, interpolation=self.interpolation)

    def _stored_picture(self, picture: av.VideoFrame, shape: tuple[int, ...], k: int) -> np.ndarray:
        h, w = shape[:2]
        coded = (*_coded_size(h, w), *shape[2:])
        return np.ascontiguousarray(self._pixels(picture, coded, k)[:h, :w])


def rgb_for(frames: Iterable[np.ndarray]) -> str:
    """The accurate conversion (``ACCURATE_RGB``) under which ``frames`` (RGB, some of them:
    ``RGB_SAMPLE`` spread over them are measured) come back closest from 4:2:0 before any
    coding: the lossy stream's own RGB -> YUV conversion and back, squared error summed.
    Grey frames (nothing to convert) get ``DEFAULT_RGB``."""
    frames = list(frames)
    colour = [f for f in frames if f.ndim == 3]
    if not colour:
        return DEFAULT_RGB
    picks = sorted({round(k) for k in np.linspace(0, len(colour) - 1, RGB_SAMPLE)})
    errors = dict.fromkeys(ACCURATE_RGB, 0.0)
    for k in picks:
        frame = _pad(colour[k])
        yuv = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
            format="yuv420p", interpolation=_LossyStream.interpolation
        )
        for name in ACCURATE_RGB:
            back = yuv.reformat(format="rgb24", interpolation=RGB_CONVERSIONS[name]).to_ndarray()
            errors[name] += float(np.sum((back.astype(np.int32) - frame) ** 2))
    return min(ACCURATE_RGB, key=lambda name: errors[name])


class HevcCodec(_LossyStream):
    """HEVC through libx265 at constant rate factor ``crf`` (0..51, lower is better), 4:2:0
    (grey frames 4:0:0), preset ``preset``: what a camera stream would use."""

    codec_id: ClassVar[str] = "srcodec.hevc"
    aliases: ClassVar[tuple[str, ...]] = ("hevc",)
    settings: ClassVar[tuple[int, int]] = (51, 0)
    encoders = {3: ("libx265", "yuv420p"), 1: ("libx265", "gray")}
    decoder = "hevc"

    def __init__(self, crf: int = 28, preset: str = "medium", rgb: str = DEFAULT_RGB) -> None:
        self.crf = check_int(self.codec_id, "crf", crf, 0, 51)
        if preset not in PRESETS:
            raise FrameError(f"{self.codec_id}: preset {preset!r} is not one of {PRESETS}")
        self.preset = preset
        self._set_rgb(rgb)

    def options(self) -> dict[str, str]:
        # info=0: no SEI spelling out the encoder settings (about 2 kB a stream, on every group).
        return {
            "crf": str(self.crf),
            "preset": self.preset,
            "x265-params": "log-level=error:info=0",
        }


class Av1Codec(_LossyStream):
    """AV1 through SVT-AV1 at constant rate factor ``crf`` (1..63, lower is better), 4:2:0 at
    ``bits`` 8 or 10, ``preset`` 0..13 (lower is slower and smaller), one key frame per group;
    decoded by dav1d. A grey frame is coded with neutral chroma; its decoded luma plane is the
    frame."""

    codec_id: ClassVar[str] = "srcodec.av1"
    aliases: ClassVar[tuple[str, ...]] = ("av1",)
    #: Not 0: FFmpeg's SVT-AV1 wrapper reads crf 0 as "unset" and codes at its default (35).
    settings: ClassVar[tuple[int, int]] = (63, 1)
    decoder = "libdav1d"
    #: The 4:2:0 pixel format coded at each bit depth (config key ``bits``).
    FORMATS: ClassVar[dict[int, str]] = {8: "yuv420p", 10: "yuv420p10le"}
    #: Each temporal unit opens with a temporal delimiter OBU (type 2, no payload).
    packet_prefix: ClassVar[bytes] = b"\x12\x00"
    #: SVT-AV1's level of parallelism (``lp``; None: its default, every core). Not part of the
    #: config: SVT-AV1's stream does not depend on it. A recorder codes each camera on one
    #: core (``lp=1``: 44 MB less memory at 768x576, the same bytes).
    threads: int | None = None
    #: SVT-AV1's look-ahead in frames (None: its default, which for a group of 60 holds every
    #: frame until the last). A recorder sets 16 so that the encoder codes while the group
    #: fills and only its tail is left at the group's end (0.37 s instead of 1.0 s for 60
    #: frames of 768x576); the stream changes: on validation vtest frames in streams of 60,
    #: +1.5 % BD-rate RGB, -0.4 % Y (lossy_svt_lookahead.json). Not part of the config.
    lookahead: int | None = None

    #: The bit depth of a codec built without ``bits``.
    default_bits: ClassVar[int] = DEFAULT_BITS

    def __init__(
        self, crf: int = 35, preset: int = 6, rgb: str = DEFAULT_RGB, bits: int | None = None
    ) -> None:
        self.crf = check_int(self.codec_id, "crf", crf, 1, 63)
        self.preset = check_int(self.codec_id, "preset", preset, 0, 13)
        self._set_rgb(rgb)
        bits = self.default_bits if bits is None else bits
        if bits not in self.FORMATS or isinstance(bits, bool):
            raise FormatError(f"{self.codec_id}: bits {bits!r} is not one of 8, 10")
        self.bits = bits

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LowresCodec:
        # A stream recorded without "bits" was coded at 8 bits.
        if isinstance(config, dict) and "bits" not in config:
            config = {**config, "bits": LEGACY_BITS}
        return super().from_config(config)

    @property
    def encoders(self) -> dict[int, tuple[str, str]]:  # type: ignore[override]
        fmt = self.FORMATS[self.bits]
        return {3: ("libsvtav1", fmt), 1: ("libsvtav1", fmt)}

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        # 8 is left out, as archives before the key wrote it (older readers read them).
        return config if self.bits == LEGACY_BITS else {**config, "bits": self.bits}

    def options(self) -> dict[str, str]:
        # keyint=-1: the group's first frame is its only key frame (a group is random access's
        # unit already); PSNR tuning is SVT-AV1's default.
        params = "keyint=-1" + (f":lp={self.threads}" if self.threads else "")
        params += f":lookahead={self.lookahead}" if self.lookahead is not None else ""
        return {"crf": str(self.crf), "preset": str(self.preset), "svtav1-params": params}

    def _open_encoder(self, shape: tuple[int, ...]) -> tuple[av.CodecContext, str]:
        quiet_svt()
        return super()._open_encoder(shape)

    def _picture(self, frame: np.ndarray, pix_fmt: str) -> av.VideoFrame:
        if frame.ndim == 3:
            return super()._picture(frame, pix_fmt)
        # SVT-AV1 codes no 4:0:0: the grey values themselves are the luma plane (no range
        # conversion, which a gray -> yuv420p reformat would make), chroma neutral; at 10 bits
        # the values times 4.
        h, w = frame.shape
        if self.bits == 8:
            planes = np.full((h * 3 // 2, w), 128, np.uint8)
            planes[:h] = frame
        else:
            planes = np.full((h * 3 // 2, w), 512, np.uint16)
            planes[:h] = frame.astype(np.uint16) << 2
        return av.VideoFrame.from_ndarray(planes, format=pix_fmt)


class AvifCodec(LowresCodec):
    """One AVIF still per frame through Pillow (libavif), ``quality`` 0..100 (higher is
    better), 4:2:0, sealed with a CRC-32 (AV1 does not checksum its pixels)."""

    codec_id: ClassVar[str] = "srcodec.avif"
    aliases: ClassVar[tuple[str, ...]] = ("avif",)
    level_param: ClassVar[str | None] = "speed"
    lossy: ClassVar[bool] = True
    quality_param: ClassVar[str] = "quality"
    settings: ClassVar[tuple[int, int]] = (0, 100)

    def __init__(self, quality: int = 60, speed: int = 6) -> None:
        self.quality = check_int(self.codec_id, "quality", quality, 0, 100)
        self.speed = check_int(self.codec_id, "speed", speed, 0, 10)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "quality": self.quality, "speed": self.speed}

    def encode(self, frame: np.ndarray) -> bytes:
        frame = check_frame(frame)
        buf = io.BytesIO()
        try:
            Image.fromarray(np.ascontiguousarray(to_rgb(frame))).save(
                buf, format="AVIF", quality=self.quality, speed=self.speed, subsampling="4:2:0"
            )
        except (OSError, ValueError) as exc:
            raise FrameError(f"{self.codec_id}: encoding failed ({exc})") from None
        return seal(buf.getvalue())

    def decode(self, data: bytes, width: int, height: int, channels: int) -> np.ndarray:
        check_shape(self.codec_id, width, height, channels)
        bitstream = unseal(self.codec_id, data)
        array = pillow_decode(self.codec_id, "AVIF", bitstream, "RGB", (height, width, 3))
        # A grey frame decodes to the luma of its RGB copy: a lossy codec keeps no equality.
        return np.ascontiguousarray(array[..., 1]) if channels == 1 else array
