"""Codec-in-the-loop degradations for training restoration models on a codec's artefacts.

A spec such as ``hevc:crf=22-38,copies=3,clip=8`` names a lossy codec of srcodec.lowres, the
range of its quality parameter, how many coded copies each frame gets (qualities drawn one from
each equal band of the range, so every run covers it) and how many consecutive frames of one
size are coded together as one clip (inter prediction: a camera's artefacts are those of P and
B frames, not of stills). Other ``key=value`` pairs are the codec's own parameters; a lossy
stream's ``rgb`` (its decoder's YUV -> RGB conversion) left out means the conversion of
archives before it (``fast``), and ``rgb=auto`` picks for each clip the one an archive of it
would use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import SrcodecError
from ..lowres import LowresCodec, codec_class, get_codec, is_lossy
from ..lowres.lossy import DEFAULT_RGB, code_frames, rgb_for, runs

__all__ = ["Degradation", "parse_degradation"]


@dataclass(frozen=True)
class Degradation:
    """A lossy codec at qualities ``low``..``high`` of its quality parameter."""

    codec: str
    low: int
    high: int
    copies: int = 1
    clip: int = 8
    params: dict = field(default_factory=dict)

    def codec_at(self, quality: int, rgb: str | None = None) -> LowresCodec:
        """The codec at ``quality``; with ``rgb=auto`` in the spec, decoding to RGB by ``rgb``
        (the conversion an archive of the frames would use, ``rgb_for``; ``DEFAULT_RGB`` if
        None)."""
        cls = codec_class(self.codec)
        params = dict(self.params)
        if params.get("rgb") == "auto":
            params["rgb"] = rgb or DEFAULT_RGB
        return get_codec({"id": cls.codec_id, **params, cls.quality_param: quality})

    def qualities(self, rng: np.random.Generator) -> list[int]:
        """One quality per copy, drawn uniformly from each of ``copies`` equal bands."""
        edges = np.linspace(self.low, self.high + 1, self.copies + 1)
        bands = zip(edges[:-1].astype(int), edges[1:].astype(int), strict=True)
        return [int(rng.integers(a, max(a + 1, b))) for a, b in bands]

    def apply(
        self, frames: Sequence[np.ndarray], rng: np.random.Generator
    ) -> list[list[tuple[int, np.ndarray]]]:
        """``copies`` coded versions of ``frames``, each a list of (quality, decoded frame) in
        the frames' order; runs of consecutive frames of one shape are coded in clips of up to
        ``clip`` frames."""
        clips = list(runs(range(len(frames)), lambda k: frames[k].shape, self.clip))
        per_clip = [self.qualities(rng) for _ in clips]
        # Each clip's conversion, once for all its copies (``rgb=auto``).
        auto = self.params.get("rgb") == "auto"
        conversions = [rgb_for([frames[k] for k in clip]) if auto else None for clip in clips]
        out = []
        for copy in range(self.copies):
            coded: list[tuple[int, np.ndarray]] = [(0, np.empty(0))] * len(frames)
            for clip, qs, rgb in zip(clips, per_clip, conversions, strict=True):
                group = [frames[k] for k in clip]
                codec = self.codec_at(qs[copy], rgb)
                for k, frame in zip(clip, code_frames(codec, group)[1], strict=True):
                    coded[k] = (qs[copy], frame)
            out.append(coded)
        return out


def parse_degradation(spec: str) -> Degradation:
    """The degradation ``spec`` describes (see the module); ``SrcodecError`` if it is invalid."""
    name, _, rest = spec.partition(":")
    try:
        cls = codec_class(name.strip())
    except SrcodecError as exc:
        raise SrcodecError(f"degradation {spec!r}: {exc}") from None
    if not is_lossy(cls):
        raise SrcodecError(f"degradation {spec!r}: {cls.codec_id} is lossless")
    quality = cls.quality_param  # type: ignore[attr-defined]
    params: dict = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise SrcodecError(f"degradation {spec!r}: {item!r} is not key=value")
        params[key.strip()] = value.strip()
    if quality not in params:
        raise SrcodecError(f"degradation {spec!r}: give {quality}=LOW-HIGH (or one value)")
    try:
        low, _, high = params.pop(quality).partition("-")
        low_q, high_q = int(low), int(high or low)
        copies, clip = int(params.pop("copies", 1)), int(params.pop("clip", 8))
        params = {k: int(v) if v.lstrip("-").isdigit() else v for k, v in params.items()}
    except ValueError:
        raise SrcodecError(f"degradation {spec!r}: numbers expected") from None
    if low_q > high_q or copies < 1 or clip < 1:
        raise SrcodecError(f"degradation {spec!r}: needs LOW <= HIGH, copies >= 1, clip >= 1")
    degradation = Degradation(cls.codec_id, low_q, high_q, copies, clip, params)
    degradation.codec_at(low_q), degradation.codec_at(high_q)  # invalid parameters fail here
    return degradation
