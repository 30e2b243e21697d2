import math

import numpy as np
import pytest

from srcodec.metrics import psnr, rgb_to_y


def test_psnr_standard_definition():
    a = np.zeros((10, 10, 3), np.uint8)
    b = a.copy()
    b[2:-2, 2:-2] = 10  # MSE 100 inside the shaved border
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100))
    assert psnr(a, a) == math.inf
    c = a.copy()
    c[0, 0] = 255  # only in the shaved border: does not count
    assert psnr(a, c) == math.inf
    assert psnr(a, c, border=0) < 60


def test_psnr_y_uses_bt601_luma():
    white = np.full((4, 4, 3), 255, np.uint8)
    assert rgb_to_y(white)[0, 0] == pytest.approx(235.0)
    assert rgb_to_y(np.zeros((1, 1, 3), np.uint8))[0, 0] == pytest.approx(16.0)


def test_psnr_refuses_mismatched_or_float_frames():
    with pytest.raises(ValueError, match="shapes"):
        psnr(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)))


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 2, 3), (3, 1, 3), (1, 5, 3), (4, 9)])
def test_psnr_of_frames_smaller_than_the_border_is_measured_whole(shape):
    """Shaving 2 px off a 1x1 .. 4x9 frame left nothing: a NaN PSNR (and a numpy warning)."""
    a = np.zeros(shape, np.uint8)
    b = a.copy()
    b.flat[0] = 255
    value = psnr(a, b)
    assert math.isfinite(value) and value == psnr(a, b, border=0)
    assert psnr(a, a) == math.inf
