"""The one resampling of srcodec: the antialiased bicubic x2 downscale that makes low-resolution
frames (encoder, training and benchmarks all call it), the bicubic upscale used as baseline, and
the identity at x1 (restoration-only archives).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SCALE = 2


def lowres_size(width: int, height: int, scale: int = SCALE) -> tuple[int, int]:
    """Size of the low-resolution frame for a ``width`` x ``height`` original (rounded up)."""
    return -(-width // scale), -(-height // scale)


def _to_pil(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 HxW or HxWx3 array, got {array.dtype} {array.shape}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] != 3:
        raise ValueError(f"expected 1 or 3 channels, got {array.shape[2]}")
    return Image.fromarray(array)


def downscale(array: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """Antialiased bicubic downscale of a uint8 frame by ``scale``.

    Odd sizes are first padded by repeating the last row/column, so the result is
    ``lowres_size(w, h)`` and the restored frame is cropped back to exactly ``w`` x ``h``.
    """
    if scale == 1:  # an x1 (restoration) archive stores the frame itself
        return np.ascontiguousarray(array)
    height, width = array.shape[:2]
    lw, lh = lowres_size(width, height, scale)
    pad_h, pad_w = lh * scale - height, lw * scale - width
    if pad_h or pad_w:
        pad = ((0, pad_h), (0, pad_w)) + (((0, 0),) if array.ndim == 3 else ())
        array = np.pad(array, pad, mode="edge")
    # PIL's BICUBIC widens its kernel by the reduction factor when shrinking (antialiasing);
    # reducing_gap=None keeps it a single exact filter pass, deterministic across platforms.
    image = _to_pil(array).resize((lw, lh), Image.Resampling.BICUBIC, reducing_gap=None)
    return np.asarray(image)


def upscale(array: np.ndarray, size: tuple[int, int], scale: int = SCALE) -> np.ndarray:
    """Bicubic upscale of a low-resolution uint8 frame by ``scale``, cropped to ``size`` (w, h).

    This is the baseline every restored frame is compared against, and the ``--bicubic`` preview.
    """
    if scale == 1:
        return np.ascontiguousarray(array[: size[1], : size[0]])
    height, width = array.shape[:2]
    image = _to_pil(array).resize((width * scale, height * scale), Image.Resampling.BICUBIC)
    out = np.asarray(image)
    return np.ascontiguousarray(out[: size[1], : size[0]])
