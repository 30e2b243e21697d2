"""Batching and tiling, shared by every engine (tiling.py): checked once per engine with the
trained tiny model, whose output differs from bicubic enough that a wrong tile, a swapped batch
member or a skipped network would show."""

import numpy as np
import pytest

from srcodec.engines.choose import make_restorer
from srcodec.resample import downscale, upscale

ENGINES = ["torch", "onnx"]


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int))


def test_the_network_is_applied_and_the_engines_agree(tiny_exported, photo):
    info, _ = tiny_exported
    hr = photo[:300, :340]
    lr = downscale(hr)
    torch_out = make_restorer(info, "cpu", "torch").restore(lr)
    onnx_out = make_restorer(info, "cpu", "onnx").restore(lr)
    bicubic = upscale(lr, (340, 300))
    assert torch_out.shape == onnx_out.shape == (300, 340, 3)
    assert _diff(torch_out, onnx_out).max() <= 1 and np.mean(torch_out != onnx_out) < 0.01
    far = _diff(torch_out, bicubic)
    assert far.mean() > 1.5 and far.max() > 20  # bicubic would be within one grey level


@pytest.mark.parametrize("engine", ENGINES)
def test_tiled_equals_untiled(tiny_exported, photo, engine):
    info, _ = tiny_exported
    lr = downscale(photo[:300, :340])  # 170x150 low-res: 4x4 tiles of 48
    whole = make_restorer(info, "cpu", engine, tile=512).restore(lr)
    tiled = make_restorer(info, "cpu", engine, tile=48).restore(lr)
    assert whole.shape == tiled.shape == (300, 340, 3)
    # the margin covers the receptive field: at most float-rounding differences
    assert _diff(whole, tiled).max() <= 1


@pytest.mark.parametrize("engine", ENGINES)
def test_batched_frames_are_each_restored_as_alone(tiny_exported, photo, engine):
    """Different frames of one size go through the network together, each coming back as its
    own unbatched restore, in its place among frames of other sizes and grayscale ones."""
    info, _ = tiny_exported
    restorer = make_restorer(info, "cpu", engine)
    same = [downscale(photo[y : y + 101, x : x + 77]) for y, x in ((0, 0), (200, 150), (380, 400))]
    other, gray = downscale(photo[:64, :64]), downscale(photo[100:150, 200:260, 1])
    frames = [same[0], other, same[1], gray, same[2]]
    sizes = [(77, 101), (64, 64), (77, 101), (60, 50), (77, 101)]
    batches = []
    forward = restorer._forward
    restorer._forward = lambda batch: batches.append(len(batch)) or forward(batch)
    outs = restorer.restore_batch(frames, sizes)
    assert 3 in batches  # the three frames of one size went through together
    del restorer._forward
    assert [o.shape for o in outs] == [
        (101, 77, 3),
        (64, 64, 3),
        (101, 77, 3),
        (50, 60),
        (101, 77, 3),
    ]
    assert all(o.dtype == np.uint8 for o in outs)
    for frame, size, out in zip(frames, sizes, outs, strict=True):
        assert np.array_equal(out, restorer.restore(frame, size))
