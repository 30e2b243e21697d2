"""Which low-resolution codec ``encode`` uses when none is asked for: an inter-frame stream for
footage and frames that look like a sequence, per-frame coding for unrelated stills.

The rule, on the first ``PROBE_FRAMES`` frames (read for encoding anyway): frames that could be
a sequence (one size and mode, every two consecutive ones within ``MAX_MEAN_DIFFERENCE`` grey
levels on average over ``THUMBNAIL_WIDTH``-pixel-wide grey thumbnails) are coded both ways, as
one stream and frame by frame, and the smaller wins; anything else is coded frame by frame.
Measured: held-out vtest frames (CCTV, 10 fps) differ by 1.1 on average (at most 2.0) from one
to the next, by at most 4.5 six frames apart, by 9-10 fifty frames apart (samples/frames: there
the stream was 33 % larger than JPEG XL, so the trial matters); unrelated photos by 49-79.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

__all__ = [
    "MAX_MEAN_DIFFERENCE",
    "PER_FRAME_CODEC",
    "PROBE_FRAMES",
    "STREAM_CODEC",
    "choose_codec",
    "looks_like_sequence",
]

#: The codec of unrelated stills: lossless JPEG XL, the smallest per-frame codec on the sample
#: frames (docs/benchmarks.md, section 1).
PER_FRAME_CODEC = "jxl"
#: The codec of footage: x264 qp 0 groups, 2.3x smaller than JPEG XL on CCTV (docs/footage.md).
STREAM_CODEC = "x264"
PROBE_FRAMES = 8
THUMBNAIL_WIDTH = 48
MAX_MEAN_DIFFERENCE = 20.0


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    """A small grey float image: block means of the frame's channel mean."""
    grey = frame.astype(np.float32)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    block = max(1, grey.shape[1] // THUMBNAIL_WIDTH)
    h, w = grey.shape[0] // block * block, grey.shape[1] // block * block
    return grey[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def looks_like_sequence(frames: Sequence[np.ndarray]) -> bool:
    """Whether ``frames`` (two or more) look like consecutive footage (the module's rule)."""
    if len(frames) < 2 or any(f.shape != frames[0].shape for f in frames):
        return False
    thumbs = [_thumbnail(f) for f in frames]
    return all(float(np.abs(b - a).mean()) <= MAX_MEAN_DIFFERENCE for a, b in pairwise(thumbs))


def choose_codec(first_frames: Sequence[np.ndarray], video: bool = False, scale: int = 2) -> str:
    """The codec id for input whose first frames are ``first_frames``: the stream codec for a
    video; for frames that may be a sequence, whichever of the two codes their low-resolution
    frames (reduced by ``scale``) smaller; the per-frame codec otherwise."""
    if video:
        return STREAM_CODEC
    if not looks_like_sequence(first_frames):
        return PER_FRAME_CODEC
    from ..lowres import get_codec
    from ..resample import downscale

    lows = [downscale(f, scale) for f in first_frames]
    stream = len(get_codec(STREAM_CODEC).encode_group(lows))
    per_frame = get_codec(PER_FRAME_CODEC)
    return STREAM_CODEC if stream < sum(len(per_frame.encode(f)) for f in lows) else PER_FRAME_CODEC
