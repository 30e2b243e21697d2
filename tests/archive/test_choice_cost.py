"""What the lossy candidate choice spends (issue 26: four cameras recording at once): the
bundled x2 candidate is measured only where it can win (``X2_FROM_SETTING``), a choice can be
made on a stream already coded (a recorder's first group), and a rate search holds only the
decoded frames it measures."""

from __future__ import annotations

import numpy as np
import pytest

from srcodec.archive.candidates import (
    X2_FROM_SETTING,
    Sample,
    choose,
    default_candidates,
    lossy_codec,
    measured_positions,
    quality_setting,
    scale1_decides,
    usable_candidates,
)
from srcodec.lowres.lossy import Av1Codec, code_frames, code_kept, rgb_for


@pytest.fixture(scope="module")
def clip(photo) -> list[np.ndarray]:
    """Twenty 128x96 frames of a real photo panning."""
    return [np.ascontiguousarray(photo[100:196, 50 + 3 * k : 178 + 3 * k]) for k in range(20)]


@pytest.fixture(scope="module")
def usable():
    return [(c, r) for c, r, _ in usable_candidates(None, "srcodec.av1")]


def test_x2_is_measured_only_from_its_setting_on(clip, usable):
    """--quality 50 (CRF 32): x2 trails x1 by 2-8 dB at such settings on validation data
    (x2_region.json) and is not measured, saying why; --quality 10 (CRF 57, past CRF 55)
    measures it, as does a rate no full-resolution stream gets down to."""
    assert X2_FROM_SETTING["srcodec.av1"] == 55
    sample = Sample(clip)
    _, trials = choose(sample, usable, quality=50)
    x2 = next(t for t in trials if t.candidate == "x2")
    assert "crf 32" in x2.skipped and np.isnan(x2.psnr)
    assert all(not t.skipped and np.isfinite(t.psnr) for t in trials if t.scale == 1)
    assert not any((2, s) in sample._coded for s in range(64))  # x2 coded nothing
    _, trials = choose(sample, usable, quality=10)
    assert all(not t.skipped and np.isfinite(t.psnr) for t in trials)
    lowest = sample.bpp(1, 63)
    best, trials = choose(sample, usable, bpp=lowest / 2)
    assert all(not t.skipped for t in trials) and best.candidate == "x2"


def test_a_user_given_x2_model_is_always_measured(clip, usable):
    from srcodec.archive.candidates import Candidate

    given = [(Candidate("x2-profile", 2, c.model, given=True), r) if c.scale == 2 else (c, r)
             for c, r in usable]  # fmt: skip
    _, trials = choose(Sample(clip), given, quality=50)
    assert not any(t.skipped for t in trials)
    assert not scale1_decides([c for c, _ in given], "srcodec.av1", 50)


def test_scale1_decides_where_x2_is_not_measured():
    candidates = default_candidates("srcodec.av1")
    assert scale1_decides(candidates, "srcodec.av1", 50)
    assert not scale1_decides(candidates, "srcodec.av1", 10)  # CRF 57: x2 measured
    assert not scale1_decides(candidates, "srcodec.av1", None)  # --bpp: a search first
    assert not scale1_decides(default_candidates("srcodec.hevc"), "srcodec.hevc", 50)


def test_a_choice_on_the_coded_stream_equals_the_choice_on_the_frames(clip, usable):
    """``Sample.of_stream``: a recorder's first group, coded once at the quality's setting,
    gives every scale-1 candidate the trial (bytes, PSNR) a fresh sample gives."""
    setting = quality_setting("srcodec.av1", 50)
    picks, _ = measured_positions(len(clip), clip[0].shape)
    rgb = rgb_for(clip)
    payload, decoded = lossy_codec("srcodec.av1", setting, rgb).encode_group_kept(clip, picks)
    coded = Sample.of_stream({k: clip[k] for k in picks}, len(clip), "srcodec.av1", setting,
                             len(payload), decoded, rgb)  # fmt: skip
    best, trials = choose(coded, usable, quality=50)
    fresh_best, fresh = choose(Sample(clip), usable, quality=50)
    assert best == fresh_best
    for a, b in zip(trials, fresh, strict=True):
        assert (a.candidate, a.bytes, a.skipped) == (b.candidate, b.bytes, b.skipped)
        assert a.psnr == pytest.approx(b.psnr, abs=1e-9) or a.skipped
    with pytest.raises(Exception, match="scale 1 only"):
        coded.coded(2, 40)


def test_kept_frames_are_the_decoded_ones(clip):
    codec = Av1Codec(crf=50)
    _, every = code_frames(codec, clip)
    nbytes, kept = code_kept(codec, clip, [0, 7, 19])
    assert sorted(kept) == [0, 7, 19]
    assert all(np.array_equal(kept[k], every[k]) for k in kept)
    h, w = clip[0].shape[:2]
    payload = codec.encode_group(clip)
    assert nbytes == len(payload)
    decoded = codec.decode_group(payload, w, h, 3, len(clip))
    assert all(np.array_equal(kept[k], decoded[k]) for k in kept)


def test_svt_av1_on_one_core_codes_the_same_stream(clip):
    """A recorder codes each camera with ``lp=1`` (less memory): the stream must not change."""
    one = Av1Codec(crf=40)
    one.threads = 1
    assert "lp=1" in one.options()["svtav1-params"]
    assert one.encode_group(clip) == Av1Codec(crf=40).encode_group(clip)
    assert one.get_config() == Av1Codec(crf=40).get_config()


def test_a_group_fed_frame_by_frame_codes_while_it_fills(clip):
    """A recorder feeds each frame to the encoder as it arrives (``GroupEncoder``). With
    SVT-AV1's default look-ahead nothing is coded before the group's last frame (1.0 s of
    coding after it for 60 frames of 768x576); with the recorder's look-ahead of 16 packets
    come out while the group fills, and are decoded for the payload's checksums as they come
    (no frame is held). Either way the payload is the group's, decoding to it."""
    from srcodec.lowres.stream import GroupEncoder
    from srcodec.recording.recorder import LIVE_LOOKAHEAD

    frames = (clip * 3)[:50]
    h, w = frames[0].shape[:2]
    for lookahead, early in ((None, False), (LIVE_LOOKAHEAD, True)):
        codec = Av1Codec(crf=40)
        codec.lookahead = lookahead
        encoder = GroupEncoder(codec, keep=[3])
        for frame in frames:
            encoder.add(frame)
        assert bool(encoder._packets) == early
        assert bool(encoder._crcs) == early  # decoded and checksummed as they came
        payload, kept = encoder.finish()
        assert payload == codec.encode_group(frames)
        decoded = codec.decode_group(payload, w, h, 3, len(frames))
        assert np.array_equal(kept[3], decoded[3])


def test_a_recorder_loads_only_the_candidates_its_quality_measures():
    from srcodec.archive.candidates import measured_candidates

    assert [c.name for c in measured_candidates("srcodec.av1", 50)] == ["base", "x1"]
    assert [c.name for c in measured_candidates("srcodec.av1", 10)] == ["base", "x1", "x2"]
    assert [c.name for c in measured_candidates("srcodec.av1", None)] == ["base", "x1", "x2"]
    assert len(measured_candidates("srcodec.hevc", 50)) == 3


def test_x2_waits_from_quality_14_on():
    """``--quality`` 13 codes at CRF 55, where x2 is measured; 14 at CRF 54, where it is not
    (the docs say so)."""
    from srcodec.archive.candidates import measured_candidates

    assert quality_setting("srcodec.av1", 13) == 55
    assert len(measured_candidates("srcodec.av1", 13)) == 3
    assert quality_setting("srcodec.av1", 14) == 54
    assert len(measured_candidates("srcodec.av1", 14)) == 2
