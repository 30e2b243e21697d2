import numpy as np
import pytest

from srcodec.resample import downscale, lowres_size, upscale


@pytest.mark.parametrize("w,h", [(400, 400), (401, 301), (1, 1), (2, 3), (768, 576), (33, 17)])
def test_downscale_sizes_round_up(w, h):
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    lr = downscale(frame)
    assert lr.shape == (-(-h // 2), -(-w // 2), 3) == (*lowres_size(w, h)[::-1], 3)
    assert lr.dtype == np.uint8
    assert upscale(lr, (w, h)).shape == (h, w, 3)


def test_downscale_keeps_grayscale_and_flat_colour():
    gray = np.full((37, 50), 123, np.uint8)
    lr = downscale(gray)
    assert lr.shape == (19, 25)
    assert np.all(lr == 123)  # a flat frame stays flat: no ringing, no offset


def test_downscale_is_antialiased(photo):
    # A one-pixel checkerboard must average to grey, not alias into a pattern.
    board = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    lr = downscale(board)
    assert abs(float(lr.mean()) - 127.5) < 1 and lr.std() < 2


def test_downscale_rejects_bad_arrays():
    with pytest.raises(ValueError, match="uint8"):
        downscale(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="channels"):
        downscale(np.zeros((8, 8, 4), np.uint8))
