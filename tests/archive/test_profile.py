"""Camera profiles (srcodec/profile.py, ``srcodec adapt``) and the models a lossy archive is
given (``encode --quality Q --weights FILE`` / ``--model NAME``): tuned on real frames as AV1
decodes them, checked on later frames, used as the candidate of their kind, listed, exported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import srcodec
from srcodec.archive.lossywriter import default_candidates, encode_lossy
from srcodec.archive.profile import coded_pairs, make_profile, plan_profile, profile_config
from srcodec.cli import main
from srcodec.engines.plate import CHROMA_STRENGTHS, STRENGTHS
from srcodec.errors import ModelError, SrcodecError
from srcodec.metrics import psnr
from srcodec.models.store import get_model, inspect_weights
from srcodec.training.adapt import split_later, tune_camera
from srcodec.training.adaptconfig import AdaptConfig

QUALITY = 20
#: Enough tuning of the AV1 x1 model to beat it on the frames it was tuned on, in seconds.
FAST = {"seconds": None, "steps": 80, "patch": 32, "batch": 8, "lr": 2e-3, "threads": 1}


def _pan(image: np.ndarray, top: int, left: int, prefix: str) -> list[tuple[str, np.ndarray]]:
    """Eight 128x96 frames panning over ``image`` 2 pixels a frame: a fixed scene seen by one
    camera."""
    return [
        (
            f"{prefix}{k:02d}.png",
            np.ascontiguousarray(image[top : top + 96, left + 2 * k :][:, :128]),
        )
        for k in range(8)
    ]


def _saved(frames: list[tuple[str, np.ndarray]], folder: Path) -> Path:
    for name, frame in frames:
        Image.fromarray(frame).save(folder / name)
    return folder


@pytest.fixture(scope="module")
def clip(photo) -> list[tuple[str, np.ndarray]]:
    """A real photo (true RGB) panning."""
    return _pan(photo, 120, 40, "f")


@pytest.fixture(scope="module")
def folder(clip, tmp_path_factory) -> Path:
    return _saved(clip, tmp_path_factory.mktemp("cam"))


@pytest.fixture(scope="module")
def scene(sample_frames) -> list[tuple[str, np.ndarray]]:
    """A held-out vtest frame panning: a camera's footage, chroma as its video decodes (each
    sample over 2x2 pixels, kept by even steps), on which the bundled AV1 x1 model beats the
    codec's own frames (on the photo ``clip``, true RGB, no x1 model does since archives
    decode accurately)."""
    return _pan(np.asarray(Image.open(sample_frames[1]).convert("RGB")), 240, 200, "s")


@pytest.fixture(scope="module")
def scene_folder(scene, tmp_path_factory) -> Path:
    return _saved(scene, tmp_path_factory.mktemp("scene"))


@pytest.fixture(scope="module")
def profile(scene, tmp_path_factory) -> Path:
    """The AV1 x1 model tuned on ``scene`` as AV1 decodes it at ``QUALITY`` (the frames the
    archive below holds): better than the bundled model on them, by construction."""
    info = get_model("srcodec-av1-x1-v3")
    plan = plan_profile(info, quality_range=(QUALITY, QUALITY))
    pairs = coded_pairs(iter(scene), dict.fromkeys(range(8), "tune"), plan, 8)
    train = [p for k in range(8) for p in pairs[k]]
    path = tmp_path_factory.mktemp("profile") / "cam1.safetensors"
    card = {"profile": {"camera": "gate", "footage": "cam1/", "footage_frames": 8}}
    config = AdaptConfig(**{**FAST, "lr": 5e-4, "steps": 300})
    tune_camera(info, train, train[-2:], path, config, name="cam1", card=card)
    return path


def test_held_back_frames_are_later_than_every_tuned_frame():
    tuned, held = split_later(100, 6)
    assert max(tuned) < min(held) and held[-1] == 99 and len(held) == 6
    assert tuned == list(range(90)) and split_later(100, 6, most=10)[0][-1] == 89
    assert split_later(2, 4) == ([0], [1])
    with pytest.raises(SrcodecError):
        split_later(1, 4)


def test_plans_and_refusals():
    x1 = get_model("srcodec-av1-x1-v3")
    plan = plan_profile(x1)
    assert plan.codec == "srcodec.av1" and plan.scale == 1  # the codec it was trained on
    assert plan.settings == (63, 48, 32, 16)
    assert plan_profile(get_model("srcodec-hevc-x1-v2"), "hevc", (20, 40)).codec == "srcodec.hevc"
    assert profile_config(AdaptConfig(), plan).patch == 64
    # An x1 model on frames no codec degraded would learn the identity: refused.
    with pytest.raises(SrcodecError, match="identity"):
        plan_profile(x1, "png")
    x2 = get_model("srcodec-photo-x2")
    assert plan_profile(x2).codec is None and plan_profile(x2, "av1").scale == 2
    with pytest.raises(SrcodecError, match="lossy codec"):
        plan_profile(x2, None, (10, 20))


def test_cli_adapt_x1_tunes_on_decoded_frames_and_refuses_clean_ones(folder, tmp_path):
    """Before profiles, ``adapt --model srcodec-av1-x1`` tuned on clean frames and reported
    "+inf dB"; now it tunes on AV1's decoded frames (or refuses clean ones in one line)."""
    out = tmp_path / "cam.safetensors"
    base = ["adapt", str(folder), "-o", str(out), "--model", "srcodec-av1-x1-v3"]
    r = CliRunner().invoke(main, [*base, "--codec", "png", "--steps", "2"])
    assert r.exit_code == 1 and "identity" in r.output and len(r.output.splitlines()) == 1
    assert not out.exists()
    r = CliRunner().invoke(main, [*base, "--steps", "40", "--camera", "gate", "--threads", "1"])
    assert "inf dB" not in r.output and "srcodec.av1" in r.output, r.output
    if r.exit_code == 0:  # it gained on the later frame: the card says what it was tuned on
        p = inspect_weights(out).card["adapted"]["profile"]
        assert p["camera"] == "gate" and p["codec"] == "srcodec.av1"
        assert p["held_back_frames"] == [7] and p["footage_frames"] == 8
        # its network sees the scene plate, unless it was not tuned (the general one, untuned)
        assert inspect_weights(out).config.plate or "untuned" in r.output
        assert "untuned" in r.output or "RGB by setting: 63 " in r.output, r.output
    else:
        assert "not written" in r.output and not out.exists()
    r = CliRunner().invoke(main, [*base, "--steps", "40", "--threads", "1", "--no-plate-input",
                                  "--force"])  # fmt: skip
    if r.exit_code == 0:
        assert not inspect_weights(out).config.plate
    else:
        assert "not written" in r.output


def test_make_profile_from_a_video(clip, tmp_path):
    """FOOTAGE may be a video: its frames are counted, then tuned on in time order."""
    from srcodec.video import write_video

    video = tmp_path / "cam.mkv"
    write_video(video, (f for _, f in clip), fps=10)
    info = get_model("srcodec-av1-x1-v3")
    plan = plan_profile(info, quality_range=(30, 60))
    cfg = AdaptConfig(**{**FAST, "steps": 120})
    try:
        new, r, _ = make_profile(info, video, tmp_path / "p.safetensors", cfg, plan=plan,
                                 name="p", camera="c")  # fmt: skip
    except SrcodecError as exc:
        assert "not written" in str(exc)
        return
    assert r.held_back == [f"frame_000007@{s}" for s in plan.settings]  # as encode names it
    # the gain at each setting, which the mean over the settings hides (each has one frame)
    by_setting = r.gains_by_setting()
    assert list(by_setting) == [str(s) for s in plan.settings]
    assert np.mean([rgb for rgb, _ in by_setting.values()]) == pytest.approx(r.gain_db)
    assert np.mean([y for _, y in by_setting.values()]) == pytest.approx(r.gain_y_db)
    assert new.card["adapted"]["gain_by_setting"] == {
        s: [round(g, 3) for g in v] for s, v in by_setting.items()
    }
    assert new.card["adapted"]["profile"]["footage"] == str(video)


def test_footage_may_be_a_cameras_recording(clip, tmp_path):
    """FOOTAGE may be what ``srcodec record`` wrote for one camera: its frames are counted
    from the segments' indexes and read in time order as the recording decodes them (before,
    a recording folder was refused: no image frames in it)."""
    from srcodec.cli.adapt import recording_footage
    from srcodec.recording import record
    from srcodec.video import write_video

    video = tmp_path / "cam.mkv"
    write_video(video, (f for _, f in clip), fps=10)
    record(video, tmp_path / "rec", name="gate")
    assert recording_footage(tmp_path / "cam.mkv") is None
    for where in (tmp_path / "rec", tmp_path / "rec" / "gate"):
        footage = recording_footage(where)
        assert footage is not None and footage.count == len(clip)
        frames = list(footage.frames())
        assert [n for n, _ in frames] == sorted(n for n, _ in frames)
        assert all(f.shape == clip[0][1].shape for _, f in frames)
    out = tmp_path / "p.safetensors"
    args = ["adapt", str(tmp_path / "rec"), "-o", str(out), "--model", "srcodec-av1-x1-v3"]
    r = CliRunner().invoke(main, [*args, "--steps", "40", "--threads", "1"])
    assert "srcodec.av1" in r.output, r.output
    if r.exit_code == 0:
        p = inspect_weights(out).card["adapted"]["profile"]
        assert p["footage"].startswith("recording ") and p["footage_frames"] == len(clip)


@pytest.mark.parametrize("content", [None, b"junk", b"\x10" + bytes(7) + b"{}"])
def test_lossy_encode_refuses_missing_or_junk_weights(folder, tmp_path, content):
    """Issue 24, item 6: a missing or junk --weights file wrote a base-codec archive
    ("nan dB"), exit 0; now it is one error line, exit 1, nothing written."""
    weights = tmp_path / "cam.safetensors"
    if content is not None:
        weights.write_bytes(content)
    out = tmp_path / "a.src"
    args = ["encode", str(folder), "-o", str(out), "--quality", "60", "--weights", str(weights)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1 and "cam.safetensors" in r.output and "nan" not in r.output
    assert not out.exists()


def test_a_profile_is_the_candidate_of_its_kind(scene, scene_folder, profile, tmp_path):
    """Issue 24, item 6: a valid model given by --weights was ignored (the header named
    srcodec-av1-x1); now it competes as the x1 candidate and the archive names it."""
    info = inspect_weights(profile)
    assert profile.stat().st_size < 1 << 20
    out = tmp_path / "a.src"
    args = ["encode", str(scene_folder), "-o", str(out), "--quality", str(QUALITY)]
    r = CliRunner().invoke(main, [*args, "--weights", str(profile)])
    assert r.exit_code == 0, r.output
    assert f"candidate x1-profile (x1, {info.short_id})" in r.output
    assert f"with model {info.short_id}" in r.output
    with srcodec.open(out, weights=[profile]) as archive:
        assert archive.header.model_id == info.id
        assert archive.header.extra["lossy"]["candidate"] == "x1-profile"
        restored = dict(archive.frames())
    plain = encode_lossy(scene, tmp_path / "b.src", quality=QUALITY)
    assert plain.chosen.candidate in ("base", "x1")  # the bundled candidates' best
    with srcodec.open(plain.path) as archive:
        general = dict(archive.frames())
    hr = dict(scene)
    mean = lambda out: np.mean([srcodec.psnr(hr[n], out[n]) for n in hr])  # noqa: E731
    assert mean(restored) > mean(general)
    # --model, accepted in lossy mode: the installed profile by name, or the bundled model.
    assert CliRunner().invoke(main, ["models", "--install", str(profile)]).exit_code == 0
    r = CliRunner().invoke(main, [*args[:3], str(tmp_path / "c.src"), *args[4:], "--model",
                                  "cam1"])  # fmt: skip
    assert r.exit_code == 0 and f"with model {info.short_id}" in r.output, r.output
    r = CliRunner().invoke(
        main, [*args[:3], str(tmp_path / "d.src"), *args[4:], "--model", "srcodec-av1-x1-v3"]
    )
    assert r.exit_code == 0 and "x1-profile" not in r.output, r.output


def test_a_profile_that_does_not_help_loses_to_the_bundled_model(clip, tmp_path):
    """The candidate check still guards: a model worse than the bundled one is not used."""
    from srcodec.models.store import load_weights, save_model

    base = get_model("srcodec-av1-x1-v3")
    model, _ = load_weights(base.path)
    for p in model.parameters():
        p.data.mul_(0.5)
    bad = save_model(model, tmp_path / "bad.safetensors", "bad")
    s = encode_lossy(clip, tmp_path / "a.src", quality=QUALITY, weights=[bad.path])
    assert "x1-profile" in [t.candidate for t in s.trials]
    assert s.chosen.candidate != "x1-profile" and not s.model_id.startswith("bad@")
    x2_only = [c for c in default_candidates() if c.scale == 2]
    with pytest.raises(ModelError, match="x2"):  # a profile of no candidate's kind
        encode_lossy(
            clip, tmp_path / "b.src", quality=QUALITY, weights=[bad.path], candidates=x2_only
        )


def test_models_lists_profiles_and_exports_them(folder, profile, tmp_path):
    """``srcodec models`` names the camera and footage a profile was tuned on; its ONNX fp32
    and int8 exports work as a bundled model's, and decode the archive."""
    r = CliRunner().invoke(main, ["models", "--weights", str(profile)])
    assert r.exit_code == 0 and "profile of camera 'gate'" in r.output and "cam1/" in r.output
    onnx = tmp_path / "onnx"
    args = ["models", "--export-onnx", str(profile), "--int8", "--calibration", str(folder)]
    r = CliRunner().invoke(main, [*args, "--onnx-dir", str(onnx)])
    assert r.exit_code == 0, r.output
    assert len(list(onnx.glob("cam1-*.onnx"))) == 2
    weights = onnx / profile.name
    weights.write_bytes(profile.read_bytes())
    out = tmp_path / "a.src"
    r = CliRunner().invoke(main, ["encode", str(folder), "-o", str(out), "--quality",
                                  str(QUALITY), "--weights", str(weights)])  # fmt: skip
    assert r.exit_code == 0, r.output
    for precision in ("fp32", "int8"):
        with srcodec.open(out, weights=[weights], engine="onnx", precision=precision) as archive:
            assert len(dict(archive.frames())) == 8


def test_a_recording_given_a_profile_starts_with_it(scene, profile, tmp_path):
    """``srcodec record --quality Q --weights cam.safetensors``: the first group is stored at
    once with the profile (the candidate expected to win) in the header, then the choice on
    that group keeps it, as it beats the bundled model on these frames."""
    import av

    from srcodec.archive.reader import ArchiveReader
    from srcodec.models.store import inspect_weights
    from srcodec.recording.recorder import record

    video = tmp_path / "cam.mkv"
    with av.open(str(video), "w") as out:
        stream = out.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "bgr0"
        for _, frame in scene:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))
    summary = record(video, tmp_path / "rec", name="gate", quality=QUALITY, group=4,
                     weights=[profile])  # fmt: skip
    first, *rest = summary.segments
    assert first.candidate == "x1-profile" and first.choice_cpu_s > 0
    assert not rest and summary.frames_stored == len(scene)  # the profile won: no cut
    with ArchiveReader(first.path) as reader:
        assert reader.header.model_id == inspect_weights(profile).id


def test_a_profile_keeps_a_scene_plate_only_where_it_pays(scene, clip):
    """``scene_plate``: the median of the frames tuned on is kept, with the strength that
    restores the later (held-back) frames best, when it gains there; footage whose later frames
    show another scene (the camera moved) or have another size gets none."""
    from srcodec.archive.profile import PLATE_MIN_GAIN, scene_plate
    from srcodec.training.trainer import Pair

    still = scene[0][1]
    rng = np.random.default_rng(3)

    def noisy(frame: np.ndarray, sigma: float) -> np.ndarray:
        return np.clip(np.rint(frame + rng.normal(0, sigma, frame.shape)), 0, 255).astype(np.uint8)

    tuned = [noisy(still, 1.0) for _ in range(12)]
    later = [noisy(still, 1.0) for _ in range(3)]
    check = [Pair(f"c{k}", hr, noisy(hr, 6.0)) for k, hr in enumerate(later)]
    info = get_model("srcodec-av1-x1-v3")
    found = scene_plate(info, tuned, check)
    assert found is not None
    plate, card = found
    assert plate.shape == still.shape and card["frames"] == 12 and card["size"] == [128, 96]
    assert card["gain_db"] >= PLATE_MIN_GAIN and card["strength"] > 0
    assert set(card["strengths"]) == {"0"}  # the pairs name no codec setting
    elsewhere = clip[0][1]  # another scene: the camera was moved
    moved = [Pair(f"m{k}", hr, noisy(hr, 2.0)) for k, hr in enumerate([elsewhere] * 3)]
    assert scene_plate(info, tuned, moved) is None
    assert scene_plate(info, [t[:64] for t in tuned], check) is None


def test_a_static_cameras_profile_is_its_plate_when_tuning_does_not_gain(
    scene, tmp_path, monkeypatch
):
    """A fixed camera's footage: when the tuned network does not gain on the later frames, the
    profile is the general network with the camera's scene plate (which gains there on its
    own); ``models`` says so, and ``encode --weights`` picks it over the bundled candidates on
    the same camera's next frames, whose archive decodes with the plate."""
    import srcodec.training.adapt as adapt_module
    from srcodec.engines.plate import read_plate

    still = scene[0][1]
    rng = np.random.default_rng(7)

    def frame(k: int) -> np.ndarray:
        f = still + rng.normal(0, 2.0, still.shape)
        f[30:50, 4 * k % 100 : 4 * k % 100 + 20] = 40  # someone walking past
        return np.clip(np.rint(f), 0, 255).astype(np.uint8)

    footage = [(f"f{k:03d}.png", frame(k)) for k in range(40)]

    def refuse(*args, **kwargs):
        raise SrcodecError("the tuned model gains -0.01 dB on the held-back frames")

    monkeypatch.setattr(adapt_module, "tune_camera", refuse)
    info = get_model("srcodec-av1-x1-v3")
    plan = plan_profile(info, quality_range=(5, 30))
    out = tmp_path / "static.safetensors"
    new, result, _ = make_profile(info, footage, out, AdaptConfig(**FAST), plan=plan, name="static")
    assert result is None and read_plate(out) is not None
    assert "untuned" in new.card["adapted"] and new.card["plate"]["gain_db"] > 0
    r = CliRunner().invoke(main, ["models", "--weights", str(out)])
    assert "untuned (it did not gain)" in r.output and "scene plate" in r.output, r.output
    later = [(f"g{k:03d}.png", frame(k)) for k in range(40, 48)]
    s = encode_lossy(later, tmp_path / "a.src", quality=10, weights=[out])
    assert s.chosen.candidate == "x1-profile" and s.model_id == new.id
    strengths = {int(k): v for k, v in new.card["plate"]["strengths"].items()}
    assert sorted(strengths) == sorted(plan.settings)
    # The encoder chose the strength on the frames it measured and the archive records it;
    # its reader blends at it.
    luma, chroma = s.chosen.plate
    assert luma in STRENGTHS and chroma in CHROMA_STRENGTHS and max(luma, chroma) > 0
    with srcodec.open(s.path, weights=[out]) as archive:
        restored = dict(archive.frames())
        recorded = archive.header.extra["lossy"]["plate"]
        assert recorded == (luma if luma == chroma else [luma, chroma])
        assert archive.plate_strength == (luma, chroma)
        assert (archive.restorer.strength, archive.restorer.chroma) == (luma, chroma)
    with srcodec.open(s.path, weights=[out]) as archive:
        plain = archive.restorer.inner.restore_batch(
            [archive.lowres(k) for k in range(len(later))], [(128, 96)] * len(later)
        )
    hr = dict(later)
    gain = np.mean(
        [psnr(hr[n], restored[n]) - psnr(hr[n], p) for (n, _), p in zip(later, plain, strict=True)]
    )
    assert gain > 0.1


def test_the_encoder_chooses_the_plate_strength_and_zero_when_the_plate_hurts(
    scene, profile, tmp_path
):
    """A profile whose plate no longer fits the scene (the lights changed since it was made):
    blended at its card's strengths, it lost the candidate check to the bundled model although
    its network alone beats it (tree.avi in the profile benchmark); the encoder now tries each
    strength, 0 included, and records the one it chose, which its reader uses, while an archive
    written before (no strength recorded) still takes the card's."""
    from srcodec.engines.plate import read_plate, set_plate

    assert read_plate(profile) is None  # the fixture's profile: a network alone
    lit = np.clip(scene[0][1].astype(np.int16) + 24, 0, 255).astype(np.uint8)
    stale = tmp_path / "stale.safetensors"
    set_plate(profile, lit, {"strength": 3.0, "strengths": {"16": 3.0, "63": 3.0}}, out=stale)
    s = encode_lossy(scene, tmp_path / "a.src", quality=QUALITY, weights=[stale])
    assert s.chosen.candidate == "x1-profile" and s.chosen.plate == (0.0, 0.0)
    with srcodec.open(s.path, weights=[stale]) as archive:
        assert archive.header.extra["lossy"]["plate"] == 0.0
        assert archive.plate_strength == (0.0, 0.0) and archive.restorer.strength == 0.0
        restored = dict(archive.frames())
        plain = archive.restorer.inner.restore_batch(
            [archive.lowres(k) for k in range(len(scene))], [(128, 96)] * len(scene)
        )
    assert all(np.array_equal(restored[n], p) for (n, _), p in zip(scene, plain, strict=True))
    # An archive without the key: the card's strength for its setting, as before.
    with srcodec.open(s.path, weights=[stale]) as archive:
        archive.header.extra["lossy"].pop("plate")
        assert archive.plate_strength is None and archive.restorer.strength == 3.0
    # A junk strength is refused with one line naming it.
    with srcodec.open(s.path, weights=[stale]) as archive:
        archive.header.extra["lossy"]["plate"] = "strong"
        with pytest.raises(srcodec.CorruptError, match="scene-plate strength"):
            archive.restorer  # noqa: B018
    with srcodec.open(s.path, weights=[stale]) as archive:
        archive.header.extra["lossy"]["plate"] = [1.0, 2.0, 3.0]
        with pytest.raises(srcodec.CorruptError, match="scene-plate strength"):
            archive.restorer  # noqa: B018


def _walker_footage(still: np.ndarray, first: int, end: int, seed: int):
    """A fixed camera's frames: ``still`` with sensor noise and someone walking past."""
    rng = np.random.default_rng(seed)

    def frame(k: int) -> np.ndarray:
        f = still + rng.normal(0, 2.0, still.shape)
        f[30:50, 4 * k % 100 : 4 * k % 100 + 20] = 40
        return np.clip(np.rint(f), 0, 255).astype(np.uint8)

    return [(f"f{k:03d}.png", frame(k)) for k in range(first, end)]


def test_a_profiles_network_learns_to_see_the_scene_plate(scene, tmp_path):
    """By default a lossy x1 profile's network sees the camera's scene plate beside each frame
    (``models.plain.with_plate``), tuned with each frame given the plate of the other half of
    the footage: it beats the bundled model on the later frames, its file carries the plate it
    needs, and the encoder uses it on the camera's next frames, whose archive decodes with it.
    ``see_plate=False`` tunes a network on the frames alone, as before."""
    from srcodec.engines.choose import make_restorer
    from srcodec.engines.plate import PlateRestorer, read_plate

    footage = _walker_footage(scene[0][1], 0, 40, 7)
    info = get_model("srcodec-av1-x1-v3")
    plan = plan_profile(info, quality_range=(5, 30))
    # The default entry, the first layer, learns too slowly for a test's few steps (150 steps:
    # +0.02 dB); the branch learns this camera in them.
    cfg = AdaptConfig(**{**FAST, "steps": 150})
    out = tmp_path / "seeing.safetensors"
    new, result, _ = make_profile(info, footage, out, cfg, plan=plan, name="seeing",
                                  plate_entry="branch")  # fmt: skip
    assert new.config.plate and new.config.name.endswith("sp")
    assert result is not None and result.gain_db > 0.1, result.gain_db
    assert read_plate(out) is not None and new.card["plate"]["frames"] == 36
    restorer = make_restorer(new)
    assert isinstance(restorer, PlateRestorer) and restorer.feed
    r = CliRunner().invoke(main, ["models", "--weights", str(out)])
    assert "scene plate (seen by its network" in r.output, r.output
    later = _walker_footage(scene[0][1], 40, 48, 8)
    s = encode_lossy(later, tmp_path / "a.src", quality=10, weights=[out])
    assert s.chosen.candidate == "x1-profile" and s.model_id == new.id
    with srcodec.open(s.path, weights=[out]) as archive:
        assert len(dict(archive.frames())) == len(later)
    # ``encode --adapt`` does not tune it per archive (it crashed on the plate's channels).
    s = encode_lossy(later, tmp_path / "b.src", quality=10, weights=[out],
                     adapt=AdaptConfig(**{**FAST, "steps": 4}))  # fmt: skip
    assert s.model_id == new.id and "scene plate" in s.adapted.reason
    alone, _, _ = make_profile(info, footage, tmp_path / "alone.safetensors", cfg, plan=plan,
                               name="alone", see_plate=False)  # fmt: skip
    assert not alone.config.plate
    with pytest.raises(SrcodecError, match="sees its scene plate"):
        plan_profile(new)
