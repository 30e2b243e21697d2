"""A camera profile's scene plate (``srcodec.engines.plate``): the blend towards it, its storage
in the weights file, and a restorer that applies it to whole frames and to crops alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from srcodec.engines.choose import make_restorer
from srcodec.engines.identity import IdentityRestorer
from srcodec.engines.plate import (
    CHROMA_STRENGTHS,
    STRENGTHS,
    PlateRestorer,
    blend,
    median_plate,
    read_plate,
    set_plate,
)
from srcodec.errors import ModelError
from srcodec.metrics import psnr
from srcodec.models.store import inspect_weights, load_weights

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny-test-x2.safetensors"


@pytest.fixture(scope="module")
def scene(photo) -> np.ndarray:
    return np.ascontiguousarray(photo[100:196, 100:228])


def _noisy(scene: np.ndarray, seed: int, sigma: float = 4.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(scene + rng.normal(0, sigma, scene.shape)), 0, 255).astype(np.uint8)


def test_the_blend_restores_the_static_scene_and_leaves_what_moved(scene):
    frames = [_noisy(scene, k) for k in range(9)]
    plate = median_plate(frames)
    assert psnr(scene, plate) > psnr(scene, frames[0]) + 5  # the median averages noise out
    frame = frames[0].copy()
    frame[20:60, 30:70] = 255 - frame[20:60, 30:70]  # something in front of the scene
    out = blend(frame, plate, 1.5)
    static = np.ones(scene.shape[:2], bool)
    static[15:65, 25:75] = False  # the object and the 5x5 mean's reach around it
    assert (
        psnr(scene[static], out[static], border=0)
        > psnr(scene[static], frame[static], border=0) + 3
    )
    assert np.array_equal(out[25:55, 35:65], frame[25:55, 35:65])  # what moved is kept


def test_a_plate_in_a_weights_file_round_trips_and_the_network_loads_as_before(tmp_path, scene):
    path = tmp_path / "cam.safetensors"
    shutil.copy(TINY, path)
    plate = scene[:, :, ::-1].copy()
    set_plate(path, plate, {"strength": 8.0, "frames": 9})
    found = read_plate(path)
    assert found is not None and np.array_equal(found[0], plate) and found[1:] == (8.0, {})
    assert inspect_weights(path).card["plate"]["frames"] == 9
    load_weights(path)  # the plate is not a weight: strict loading still works
    set_plate(path, None, out=tmp_path / "bare.safetensors")
    assert read_plate(tmp_path / "bare.safetensors") is None
    assert inspect_weights(tmp_path / "bare.safetensors").sha256 == inspect_weights(TINY).sha256
    (tmp_path / "junk.safetensors").write_bytes(
        path.read_bytes().replace(b'\\"strength\\"', b'\\"strengtx\\"')
    )
    with pytest.raises(ModelError, match="plate"):
        read_plate(tmp_path / "junk.safetensors")


def test_make_restorer_applies_the_plate_its_file_carries(tmp_path, scene):
    path = tmp_path / "cam.safetensors"
    shutil.copy(TINY, path)
    h, w = scene.shape[:2]
    set_plate(path, scene, {"strength": 1.5})
    restorer = make_restorer(inspect_weights(path), engine="torch")
    assert isinstance(restorer, PlateRestorer) and restorer.scale == 2
    low = scene[::2, ::2]
    plain = restorer.inner.restore(low)
    assert not np.array_equal(restorer.restore(low), plain)
    assert psnr(scene, restorer.restore(low)) > psnr(scene, plain)
    # A frame of another size is not this camera's: restored as by the network alone.
    assert np.array_equal(restorer.restore(low[:20, :20]), restorer.inner.restore(low[:20, :20]))


def test_crops_are_blended_with_their_part_of_the_plate(scene):
    """The candidate choice restores quarters of frames with context (``Sample.measure``): a
    crop restored at its origin comes out as the whole frame restored does there."""
    plate = median_plate([_noisy(scene, k) for k in range(9)])
    restorer = PlateRestorer(IdentityRestorer(), plate, 1.5)
    frame = _noisy(scene, 99)
    h, w = frame.shape[:2]
    whole = restorer.restore_batch([frame], [(w, h)])[0]
    crop = restorer.restore_batch([frame[30:90, 40:120]], [(80, 60)], [(30, 40)])[0]
    # The blend's scale is the median difference of what it sees: a crop's is close to its
    # frame's, not equal.
    assert psnr(whole[32:88, 42:118], crop[2:-2, 2:-2], border=0) > 40
    assert psnr(scene, whole) > psnr(scene, frame) + 3


def test_the_strength_follows_the_codec_setting_of_the_frames(scene):
    """A profile's card holds a strength for each setting it was checked at: the restorer takes
    the nearest to the frames' (0: the frames as the network restored them)."""
    plate = median_plate([_noisy(scene, k) for k in range(9)])
    restorer = PlateRestorer(IdentityRestorer(), plate, 1.5, {16: 0.0, 48: 1.5, 63: 3.0})
    frame = _noisy(scene, 99)
    h, w = frame.shape[:2]
    assert restorer.strength == 1.5  # before any setting: the one for all of them
    restorer.use_setting(58)
    assert restorer.strength == 3.0
    restorer.use_setting(20)
    assert np.array_equal(restorer.restore_batch([frame], [(w, h)])[0], frame)
    restorer.use_setting(None)  # a lossless archive: unchanged
    assert restorer.strength == 0.0


def test_each_strength_from_one_run_of_the_network_and_a_recorded_strength_wins(scene):
    """The encoder scores every pair of strengths (luma, chroma) on one restoration
    (``score_strengths``), each as ``restore_batch`` gives it; the strengths an archive records
    (``use_strength``) hold whatever setting the reader then names."""
    plate = median_plate([_noisy(scene, k) for k in range(9)])
    calls = []

    class Counting(IdentityRestorer):
        def restore_batch(self, frames, sizes, origins=None):
            calls.append(len(frames))
            return super().restore_batch(frames, sizes, origins)

    restorer = PlateRestorer(Counting(), plate, 1.5, {16: 0.0, 63: 3.0})
    frame = _noisy(scene, 99)
    h, w = frame.shape[:2]
    crop = [frame[30:90, 40:120]]
    seen = {}

    def score(out):
        seen[len(seen)] = out[0]
        return psnr(scene[30:90, 40:120], out[0], border=0)

    scored = restorer.score_strengths(crop, [(80, 60)], [(30, 40)], score)
    pairs = [(s, c) for s in STRENGTHS for c in CHROMA_STRENGTHS]
    assert list(scored) == pairs and calls == [1] and STRENGTHS[0] == CHROMA_STRENGTHS[0] == 0
    assert np.array_equal(seen[0], crop[0])  # (0, 0): as the network restored it
    for s, c in ((1.5, 1.5), (1.0, 3.0), (3.0, 0.0)):
        restorer.use_strength(s, c)
        out = restorer.restore_batch(crop, [(80, 60)], [(30, 40)])[0]
        assert np.array_equal(out, seen[pairs.index((s, c))])
    restorer.use_strength(0.5)
    restorer.use_setting(63)  # the reader names the archive's setting after: 0.5 stays
    assert (restorer.strength, restorer.chroma) == (0.5, None)
    restorer.use_strength(0.0)
    assert np.array_equal(restorer.restore_batch([frame], [(w, h)])[0], frame)


def test_the_luma_and_chroma_parts_blend_apart(scene):
    """``blend(frame, plate, luma, chroma)``: the luma part of the difference is ``Y(delta)`` on
    every channel, the rest chroma. Blending only the chroma part leaves the frame's luma (to
    rounding and clipping) and brings its chroma to the plate's where they agree; one strength
    for both is the joint blend exactly."""
    plate = median_plate([_noisy(scene, k) for k in range(9)])
    frame = _noisy(scene, 99)
    y = lambda a: a.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)  # noqa: E731
    chroma_only = blend(frame, plate, 0.0, 4.0)
    moved = np.abs(y(chroma_only) - y(frame))  # rounding, and clipping near black and white
    assert moved.mean() < 0.3 and np.percentile(moved, 99) <= 1.0
    cdist = lambda a: np.abs((a - y(a)[..., None]) - (plate - y(plate)[..., None])).mean()  # noqa: E731
    assert cdist(chroma_only.astype(np.float32)) < 0.5 * cdist(frame.astype(np.float32))
    assert np.array_equal(blend(frame, plate, 1.5, 1.5), blend(frame, plate, 1.5))
    assert not np.array_equal(blend(frame, plate, 1.5, 3.0), blend(frame, plate, 1.5))
