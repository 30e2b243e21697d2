"""Which low-resolution codec ``encode`` uses when none is asked for: an inter-frame stream for
footage and frames that look like a sequence, per-frame coding for unrelated stills.

The rule (cheap, on the first ``PROBE_FRAMES`` frames, which are read for encoding anyway):
frames are a sequence when they all have one size and mode and every two consecutive ones differ
by at most ``MAX_MEAN_DIFFERENCE`` grey levels on average over ``THUMBNAIL_WIDTH``-pixel-wide
grey thumbnails. Measured: held-out vtest frames (CCTV, 10 fps) differ by 1.1 on average (at
most 2.0) from one to the next, by at most 4.5 six frames apart and by 9-10 fifty frames apart
(samples/frames); unrelated photos (scikit-image crops) by 49-79.
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


def choose_codec(first_frames: Sequence[np.ndarray], video: bool = False) -> str:
    """The codec id for input whose first frames are ``first_frames``: the stream codec for a
    video or a sequence, the per-frame codec otherwise."""
    return STREAM_CODEC if video or looks_like_sequence(first_frames) else PER_FRAME_CODEC
