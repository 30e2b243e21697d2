"""Image quality measured the standard way: PSNR on 8-bit frames, peak 255, a border of
``scale`` pixels shaved, on RGB and on the luma (Y of ITU-R BT.601, as in SR papers).
"""

from __future__ import annotations

import math

import numpy as np


def _shave(a: np.ndarray, border: int) -> np.ndarray:
    # A frame no larger than its two borders keeps every pixel: shaving would leave none to
    # measure (a mean over nothing is NaN).
    if not border or min(a.shape[:2]) <= 2 * border:
        return a
    return a[border:-border, border:-border]


#: BT.601 luma from RGB in [0, 255]: Y = 16 + (R, G, B) . LUMA / 255.
LUMA = (65.481, 128.553, 24.966)


def rgb_to_y(array: np.ndarray) -> np.ndarray:
    """BT.601 luma in [16, 235] from uint8 RGB (float64), the Y channel SR papers report."""
    a = array.astype(np.float64)
    if a.ndim == 2:
        return a
    return 16.0 + (LUMA[0] * a[..., 0] + LUMA[1] * a[..., 1] + LUMA[2] * a[..., 2]) / 255.0


def psnr(reference: np.ndarray, test: np.ndarray, *, border: int = 2, y: bool = False) -> float:
    """PSNR in dB between two uint8 frames of equal shape, peak 255, ``border`` px shaved.

    With ``y=True`` it is computed on the BT.601 luma instead of all RGB channels.
    Identical frames give ``inf``. A frame of at most ``2 * border`` pixels on a side is
    measured whole.
    """
    if reference.shape != test.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {test.shape}")
    if reference.dtype != np.uint8 or test.dtype != np.uint8:
        raise ValueError("PSNR is defined here on uint8 frames; round and clip first")
    if y:
        ref, tst = rgb_to_y(reference), rgb_to_y(test)
    else:
        ref, tst = reference.astype(np.float64), test.astype(np.float64)
    mse = float(np.mean((_shave(ref, border) - _shave(tst, border)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)
