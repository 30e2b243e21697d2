"""Adaptation (srcodec/training/adapt.py) and the model update an archive carries
(srcodec/models/update.py): tuned on real CCTV frames with the tiny test model, decoded on both
engines, damaged, dropped."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from srcodec.archive.filereader import ArchiveReader
from srcodec.archive.reader import Archive
from srcodec.archive.recovery import recover, verify
from srcodec.archive.writer import encode
from srcodec.cli import main
from srcodec.errors import CorruptError, DamagedArchiveError, ModelError, SrcodecError
from srcodec.inputs import read_frame
from srcodec.metrics import psnr
from srcodec.models.store import inspect_weights
from srcodec.models.update import ModelUpdate, compose_id, split_update_id, update_sha256
from srcodec.training.adapt import AdaptConfig, parse_duration, tuned_names

#: Enough tuning of the tiny model to beat it clearly on these frames, in a second or two.
FAST = {"blocks": None, "seconds": None, "steps": 60, "patch": 32, "batch": 8, "lr": 2e-3}
FAST["threads"] = 1  # several times faster than two threads on a busy 2-core machine


@pytest.fixture(scope="module")
def model(tiny_weights: Path, tmp_path_factory) -> Path:
    """The tiny weights with their fp32 ONNX export beside them (found by the onnx engine)."""
    from srcodec.engines.export import export_fp32
    from srcodec.models.store import onnx_name

    folder = tmp_path_factory.mktemp("adapt-model")
    path = folder / "tiny.safetensors"
    shutil.copy(tiny_weights, path)
    info = inspect_weights(path)
    export_fp32(info, folder / onnx_name(info))
    return path


@pytest.fixture(scope="module")
def frames(sample_frames: list[Path]) -> list[tuple[str, np.ndarray]]:
    """Four real CCTV crops, 192x160 (one is held back by the check)."""
    return [(p.name, read_frame(p)[200:360, 300:492]) for p in sample_frames]


@pytest.fixture(scope="module")
def adapted(model: Path, frames, tmp_path_factory):
    folder = tmp_path_factory.mktemp("adapted")
    plain = encode(frames, folder / "plain.src", weights=[model], codec="png")
    cfg = AdaptConfig(**FAST, max_share=0.5)
    tuned = encode(frames, folder / "tuned.src", weights=[model], codec="png", adapt=cfg)
    return plain, tuned


def _decode(path: Path, model: Path, engine: str) -> dict[str, np.ndarray]:
    with Archive(path, weights=[model], engine=engine) as archive:
        return dict(archive.frames())


def test_adapted_archive_is_restored_better_on_both_engines(adapted, model, frames):
    plain, tuned = adapted
    assert tuned.adapted.update is not None, tuned.adapted.reason
    assert tuned.adapted.gain_db >= 0.1
    base, sha = split_update_id(tuned.model_id)
    assert base == inspect_weights(model).id and sha == tuned.adapted.sha256
    general = _decode(plain.path, model, "torch")
    by_torch = _decode(tuned.path, model, "torch")
    by_onnx = _decode(tuned.path, model, "onnx")
    hr = dict(frames)
    for name in hr:
        diff = np.abs(by_torch[name].astype(np.int16) - by_onnx[name].astype(np.int16))
        assert diff.max() <= 1
    mean = lambda out: np.mean([psnr(hr[n], out[n]) for n in hr])  # noqa: E731
    assert mean(by_torch) > mean(general) + 0.1


def test_int8_falls_back_to_fp32_with_a_warning(adapted, model, tmp_path):
    _, tuned = adapted
    with pytest.warns(UserWarning, match="int8 export cannot take"):
        with Archive(tuned.path, weights=[model], engine="onnx", precision="int8") as archive:
            restorer = archive.restorer
    assert restorer.precision == "fp32"
    # The CLI says it in one line, not as a raw Python warning.
    out = tmp_path / "restored"
    args = ["decode", tuned.path, "--weights", model, "--int8", "-o", out, "-q"]
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    assert r.output.count("srcodec: warning: the archive carries a model update") == 1
    assert "UserWarning" not in r.output and "warnings.warn" not in r.output


def test_update_bytes_are_counted_in_the_archive(adapted):
    plain, tuned = adapted
    assert tuned.update_bytes == len(tuned.adapted.data) > 0
    assert tuned.archive_bytes == tuned.path.stat().st_size == tuned.added_bytes
    assert tuned.archive_bytes >= plain.archive_bytes + tuned.update_bytes
    assert tuned.ratio < plain.ratio
    with ArchiveReader(tuned.path) as reader:
        assert update_sha256(reader.read_update()) == tuned.adapted.sha256
        assert reader.header.extra["adaptation"]["update_bytes"] == tuned.update_bytes
    assert verify(tuned.path).ok


def _damage_update(src: Path, dst: Path) -> None:
    data = bytearray(src.read_bytes())
    with ArchiveReader(src) as reader:
        at = reader._data_start + 8 + 20  # inside the UPDT chunk's data
    data[at] ^= 0xFF
    dst.write_bytes(bytes(data))


def test_damaged_update_is_reported_refused_and_dropped_by_recover(adapted, model, tmp_path):
    plain, tuned = adapted
    bad = tmp_path / "bad.src"
    _damage_update(tuned.path, bad)
    report = verify(bad)
    assert not report.ok and "model update" in report.update_problem
    # Decoding restores every frame with the general model and names the damage (issue 24:
    # it refused the archive).
    with pytest.raises(DamagedArchiveError, match="names model update .*general model"):
        _decode(bad, model, "torch")
    r = recover(bad, tmp_path / "fixed.src")
    assert r.update_dropped and len(r.recovered) == 4 and not r.lost
    with ArchiveReader(tmp_path / "fixed.src") as reader:
        assert reader.header.model_id == split_update_id(tuned.model_id)[0]
        assert "update_dropped" in reader.header.extra and reader.read_update() is None
    fixed = _decode(tmp_path / "fixed.src", model, "torch")
    general = _decode(plain.path, model, "torch")
    assert all(np.array_equal(fixed[n], general[n]) for n in general)
    result = CliRunner().invoke(main, ["verify", str(bad)])
    assert result.exit_code == 3 and "model update:" in result.output


def test_recover_and_append_keep_an_intact_update(adapted, model, frames, tmp_path):
    _, tuned = adapted
    r = recover(tuned.path, tmp_path / "copy.src")
    assert r.update_dropped is None
    with ArchiveReader(tmp_path / "copy.src") as reader:
        assert update_sha256(reader.read_update()) == tuned.adapted.sha256
    from srcodec.archive.writer import append

    copy = tmp_path / "copy.src"
    append([("extra.png", frames[0][1])], copy, weights=[model])
    assert verify(copy).ok and len(_decode(copy, model, "onnx")) == 5


def test_zero_budget_keeps_the_general_model(model, frames, tmp_path):
    cfg = AdaptConfig(**{**FAST, "steps": 0})
    s = encode(frames, tmp_path / "a.src", weights=[model], codec="png", adapt=cfg)
    assert s.adapted.update is None and "no tuning step" in s.adapted.reason
    assert s.update_bytes == 0 and s.model_id == inspect_weights(model).id
    with ArchiveReader(tmp_path / "a.src") as reader:
        assert reader.read_update() is None and "adaptation" not in reader.header.extra


def test_update_that_does_not_pay_for_its_bytes_is_dropped(model, frames, tmp_path):
    cfg = AdaptConfig(**{**FAST, "steps": 3}, max_share=1e-6, min_gain_db=-100.0)
    s = encode(frames, tmp_path / "a.src", weights=[model], codec="png", adapt=cfg)
    assert s.adapted.update is None and "of the archive" in s.adapted.reason
    assert s.update_bytes == 0 and "+update@" not in s.model_id


def test_update_round_trip_and_checks():
    rng = np.random.default_rng(0)
    deltas = {"tail.weight": rng.normal(0, 0.01, (3, 8, 3, 3)), "tail.bias": np.zeros(3)}
    update = ModelUpdate.quantise("m@" + "a" * 64, deltas)
    assert list(update.deltas) == ["tail.weight"]  # an all-zero delta changes nothing
    back = ModelUpdate.from_bytes(update.to_bytes())
    assert back.base_id == update.base_id and update.to_bytes() == back.to_bytes()
    scale = update.deltas["tail.weight"][1]
    assert np.abs(back.delta("tail.weight") - deltas["tail.weight"]).max() <= scale / 2 + 1e-7
    with pytest.raises(ModelError, match="does not fit"):
        update.apply({"tail.weight": np.zeros((3, 4, 3, 3), np.float32)})
    with pytest.raises(CorruptError):
        ModelUpdate.from_bytes(b"not an update")
    assert split_update_id(compose_id("m@abc", "DEF")) == ("m@abc", "def")
    assert split_update_id("m@abc") == ("m@abc", None)


def test_tuned_names_and_durations():
    from srcodec.models.edsr import EDSR, EDSRConfig

    m = EDSR(EDSRConfig(blocks=4, features=8))
    names = tuned_names(m, 1)
    assert names[0].startswith("body.3.") and "body.4.weight" in names
    assert "head.weight" not in names
    assert tuned_names(m, None) == list(m.state_dict())
    assert [parse_duration(t) for t in ("90", "90s", "5m", "1h")] == [90, 90, 300, 3600]
    with pytest.raises(SrcodecError):
        parse_duration("soon")


@pytest.mark.parametrize(("entry", "seen_by"), [("head", "body.0."), ("branch", "plate_branch.")])
def test_tuning_the_end_of_a_network_that_sees_the_plate_tunes_what_takes_the_plate_in(
    entry, seen_by
):
    """``adapt --blocks N`` of a profile whose network sees the plate tuned only the network's
    end: the weights that take the plate in start at zero, so the profile never saw it."""
    from srcodec.models import create_model, get_family

    base = create_model("plain", scale=1, blocks=4, features=8)
    seeing = get_family("plain").with_plate(base, entry=entry)
    names = tuned_names(seeing, 1)
    weights = [k for k in seeing.state_dict() if k.startswith(seen_by)]
    assert weights and set(weights) <= set(names)
    assert "body.3.weight" not in names  # the network's middle stays as it was
    assert set(tuned_names(base, 1)) == set(names) - set(weights)


def test_camera_model_records_its_base_and_data(model, frames, tmp_path):
    from srcodec.training.adapt import adapt_camera

    base = inspect_weights(model)
    cam = tmp_path / "cam1.safetensors"
    info, r = adapt_camera(base, frames, cam, AdaptConfig(**FAST), name="cam1", source="cam1/")
    assert r.gain_db > 0 and info == inspect_weights(cam)
    # Held back: the last frame, later than every frame tuned on (a camera's future footage).
    assert r.held_back == [frames[-1][0]]
    assert info.name == "cam1" and info.card["adapted"]["base_model_id"] == base.id
    assert info.card["adapted"]["data"] == "cam1/" and info.card["adapted"]["frames"] == 4
    s = encode(frames, tmp_path / "b.src", weights=[cam], codec="png")
    assert s.model_id == info.id and s.update_bytes == 0


def test_a_profile_that_gains_at_one_setting_is_kept_though_its_mean_gain_is_negative(
    model, frames, tmp_path, monkeypatch
):
    """The encoder uses a profile only on archives where it beats the bundled model, so a
    profile that gains at CRF 63 and loses at CRF 16 pays at 63. Before, ``tune_camera``
    refused it on its mean gain and the camera got the untuned network."""
    from srcodec.resample import downscale
    from srcodec.training import adapt
    from srcodec.training.trainer import Pair

    pairs = [
        Pair(f"{n}@{s}", f, downscale(f, 2)) for n, f in frames for s in (63, 16)
    ]  # fmt: skip
    check = pairs[-2:]  # the last frame at both settings
    rows = {63: (30.0, 30.5), 16: (40.0, 39.0)}  # (bundled, tuned) PSNR at each setting
    scores = iter([0, 1])

    def scored(_model, check_pairs):
        k = next(scores)
        images = [{"image": p.name, "psnr_rgb": rows[int(p.name[-2:])][k], "psnr_y": 0.0,
                   "bicubic_rgb": 0.0, "bicubic_y": 0.0} for p in check_pairs]  # fmt: skip
        keys = ("psnr_rgb", "psnr_y", "bicubic_rgb", "bicubic_y")
        return {**{key: float(np.mean([i[key] for i in images])) for key in keys},
                "images": images}  # fmt: skip

    monkeypatch.setattr(adapt, "_check", scored)
    cfg = AdaptConfig(**{**FAST, "steps": 2})
    info, r = adapt.tune_camera(inspect_weights(model), pairs[:-2], check,
                                tmp_path / "cam.safetensors", cfg, name="cam")  # fmt: skip
    assert r.gain_db == pytest.approx(-0.25) and r.best_gain_db == pytest.approx(0.5)
    assert info.card["adapted"]["gain_by_setting"] == {"63": [0.5, 0.0], "16": [-1.0, 0.0]}
    rows[63] = (30.0, 29.9)  # losing at every setting: refused, naming it
    scores = iter([0, 1])
    with pytest.raises(SrcodecError, match="does not gain .* at any setting .-0.10 dB at best"):
        adapt.tune_camera(inspect_weights(model), pairs[:-2], check,
                          tmp_path / "no.safetensors", cfg, name="no")  # fmt: skip
    assert not (tmp_path / "no.safetensors").exists()


def test_cli_encode_adapt_and_adapt(model, frames, tmp_path):
    from PIL import Image

    folder = tmp_path / "cam1"
    folder.mkdir()
    for name, frame in frames:
        Image.fromarray(frame).save(folder / name)
    runner = CliRunner()
    out = runner.invoke(
        main,
        ["encode", str(folder), "-o", str(tmp_path / "a.src"), "--weights", str(model)]
        + ["--codec", "png", "--adapt", "--adapt-steps", "0"],
    )
    assert out.exit_code == 0, out.output
    assert "adapt: general model kept: the budget allowed no tuning step" in out.output
    out = runner.invoke(
        main,
        ["adapt", str(folder), "-o", str(tmp_path / "c.safetensors")]
        + ["--weights", str(model), "--steps", "0"],
    )
    assert out.exit_code == 1 and "not written" in out.output
    assert not (tmp_path / "c.safetensors").exists()
    out = runner.invoke(main, ["encode", str(folder), "-o", "x.src", "--adapt-steps", "3"])
    assert out.exit_code != 0 and "go with --adapt" in out.output
    out = runner.invoke(main, ["encode", str(folder), "-o", "x.src", "--adapt-rank", "4"])
    assert out.exit_code != 0 and "--adapt-rank go with --adapt" in out.output


def test_lowrank_update_round_trip_and_format():
    import json

    import zstandard
    from safetensors.numpy import load as st_load
    from safetensors.numpy import save as st_save

    from srcodec.models.update import FORMAT, FORMAT_LOWRANK, _metadata

    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 0.3, (4, 64, 3, 3)), rng.normal(0, 0.01, (64, 4))
    update = ModelUpdate.quantise(
        "m@" + "a" * 64, {"body.0.bias": rng.normal(0, 0.01, 64)}, {"body.0.weight": (a, b)}
    )
    assert update.names == ["body.0.bias", "body.0.weight"]
    assert update.parameters == 64 + 4 * 64 * 9 + 64 * 4  # the factors, not the dense tensor
    data = update.to_bytes()
    raw = zstandard.ZstdDecompressor().decompress(data)
    assert json.loads(_metadata(raw)["srcodec-update"])["format"] == FORMAT_LOWRANK
    back = ModelUpdate.from_bytes(data)
    assert back.to_bytes() == data and list(back.lowrank) == ["body.0.weight"]
    exact = (b @ a.reshape(4, -1)).reshape(64, 64, 3, 3)
    got = back.delta("body.0.weight")
    assert got.shape == exact.shape and np.abs(got - exact).max() < 0.02 * np.abs(exact).max()
    state = {"body.0.weight": np.ones((64, 64, 3, 3), np.float32), "body.0.bias": np.zeros(64)}
    assert np.allclose(back.apply(state)["body.0.weight"], 1 + got)
    with pytest.raises(ModelError, match="does not fit"):
        back.apply({**state, "body.0.weight": np.ones((64, 32, 3, 3), np.float32)})

    def rewrite(fmt: str) -> bytes:
        tensors = st_load(raw)
        meta = json.dumps({"format": fmt, "base_model_id": update.base_id})
        return zstandard.ZstdCompressor().compress(
            st_save(tensors, metadata={"srcodec-update": meta})
        )

    with pytest.raises(CorruptError, match="unknown format"):
        ModelUpdate.from_bytes(rewrite("srcodec-update/3"))
    with pytest.raises(CorruptError, match="low-rank tensor 'body.0.weight' is malformed"):
        ModelUpdate.from_bytes(rewrite(FORMAT))  # a /1 reader must not drop the factors


def test_dense_update_bytes_are_unchanged():
    """A dense update is written as srcodec-update/1 byte for byte as before low-rank updates
    (the sha256 of this update as srcodec 0.x before them wrote it)."""
    import hashlib

    rng = np.random.default_rng(0)
    deltas = {"tail.weight": rng.normal(0, 0.01, (3, 8, 3, 3)), "tail.bias": rng.normal(0, 0.01, 3)}
    data = ModelUpdate.quantise("m@" + "a" * 64, deltas).to_bytes()
    expected = "f665d9b12886a56c8ddd3fa66f51c6b218dfaee52a8e6047df0953d284388086"
    assert hashlib.sha256(data).hexdigest() == expected


def test_lowrank_archive_decodes_alike_on_both_engines(model, frames, tmp_path):
    from srcodec.training.adapt import lowrank_names

    cfg = AdaptConfig(**{**FAST, "steps": 30}, rank=2, max_share=1.0, min_gain_db=-100.0)
    s = encode(frames, tmp_path / "r2.src", weights=[model], codec="png", adapt=cfg)
    update = s.adapted.update
    assert update is not None and update.lowrank, s.adapted.reason
    with ArchiveReader(tmp_path / "r2.src") as reader:
        assert ModelUpdate.from_bytes(reader.read_update()).to_bytes() == s.adapted.data
    from srcodec.models.store import load_weights

    net, _ = load_weights(model)
    convs = lowrank_names(net, list(net.state_dict()), 2)
    assert list(update.lowrank) == sorted(convs) and all(
        update.lowrank[k].a.shape[0] == 2 for k in convs
    )
    plain = encode(frames, tmp_path / "plain.src", weights=[model], codec="png")
    general = _decode(plain.path, model, "torch")
    by_torch = _decode(tmp_path / "r2.src", model, "torch")
    by_onnx = _decode(tmp_path / "r2.src", model, "onnx")
    for name in by_torch:
        diff = np.abs(by_torch[name].astype(np.int16) - by_onnx[name].astype(np.int16))
        assert diff.max() <= 1
    assert any(not np.array_equal(by_torch[n], general[n]) for n in general)


def test_grouped_archive_size_is_estimated_from_a_group(photo, tiny_weights, tmp_path):
    """With a stream codec the share check's archive size comes from consecutive frames coded
    as one group (single frames, all key frames, count several times the bytes); a video's
    frames are read again after the sample the tuning took."""
    from fractions import Fraction

    from srcodec.lowres import get_codec
    from srcodec.video import write_video

    clip = [np.ascontiguousarray(photo[80:208, 20 + 2 * k : 180 + 2 * k]) for k in range(24)]
    video = tmp_path / "clip.mkv"
    write_video(video, clip, fps=Fraction(10))
    cfg = AdaptConfig(**{**FAST, "steps": 1}, max_share=1.0, min_gain_db=-100.0)
    s = encode(video, tmp_path / "a.src", weights=[tiny_weights], codec="x264", adapt=cfg)
    assert s.frames == 24 and s.update_bytes > 0
    with Archive(tmp_path / "a.src", weights=[tiny_weights], bicubic=True) as archive:
        assert np.array_equal(archive.lowres(23), downscale_of(clip[23]))
    frames_bytes = s.archive_bytes - s.update_bytes
    assert abs(s.adapted.archive_estimate - frames_bytes) < 0.25 * frames_bytes
    x264 = get_codec("x264")
    intra = np.mean([len(x264.encode_group([downscale_of(f)])) for f in clip[::6]]) * len(clip)
    assert intra > 1.5 * frames_bytes  # the old estimate


def downscale_of(frame: np.ndarray) -> np.ndarray:
    from srcodec.resample import downscale

    return downscale(frame, 2)


def test_fitted_update_meets_its_byte_budget_without_clipping():
    """Dense deltas quantised as finely as a byte budget allows (``fit_update``): the bytes
    fit, each step is a common multiple of its tensor's RMS (never clipping the peak), small
    tensors keep the finest step, and a decoder of srcodec-update/1 reads it unchanged."""
    from srcodec.training.adapt import SMALL_TENSOR, fit_update, quantisation_steps

    rng = np.random.default_rng(2)
    deltas = {
        "body.0.weight": rng.laplace(0, 0.01, (64, 64, 3, 3)).astype(np.float32),
        "body.1.weight": rng.laplace(0, 0.003, (64, 64, 3, 3)).astype(np.float32),
        "body.0.bias": rng.normal(0, 0.01, 64).astype(np.float32),
    }
    deltas["body.0.weight"][0, 0, 0, 0] = 0.5  # an outlier the step must not clip
    base = "m@" + "a" * 64
    finest = ModelUpdate.quantise(base, deltas).to_bytes()
    update, data = fit_update(base, deltas, {}, len(finest) // 3)
    assert len(finest) // 4 < len(data) <= len(finest) // 3
    back = ModelUpdate.from_bytes(data)
    assert back.to_bytes() == data and back.names == sorted(deltas)
    _, bias_scale = back.deltas["body.0.bias"]
    assert bias_scale == pytest.approx(np.abs(deltas["body.0.bias"]).max() / 127)
    for name in ("body.0.weight", "body.1.weight"):
        got, want = back.delta(name), deltas[name]
        step = back.deltas[name][1]
        assert np.abs(got - want).max() <= step / 2 + 1e-7  # rounding only, nothing clipped
    steps = quantisation_steps(deltas, 2.0)
    assert set(steps) == {"body.0.weight", "body.1.weight"} and 64 < SMALL_TENSOR
    rms = np.sqrt(np.mean(deltas["body.1.weight"].astype(np.float64) ** 2))
    assert steps["body.1.weight"] == pytest.approx(2 * rms)
    # A budget that fits the finest quantisation keeps it; one nothing fits gives the coarsest.
    assert fit_update(base, deltas, {}, len(finest))[1] == finest
    assert len(fit_update(base, deltas, {}, 10)[1]) > 10


def test_update_is_trained_as_stored_and_fits_its_share(model, frames):
    """``target_share``: the update is at most that share of the archive's estimated bytes; with
    ``qat`` the end of the tuning sees the dense deltas quantised, at the steps then stored."""
    from srcodec.models.store import inspect_weights
    from srcodec.training.adapt import _run, adapt_archive, scene_pairs

    info = inspect_weights(model)
    cfg = AdaptConfig(**{**FAST, "rank": 0, "steps": 40}, qat=0.5, max_share=0.5)
    finest = adapt_archive(info, frames, AdaptConfig(**{**FAST, "rank": 0}, target_share=None))
    estimate = 25 * finest.update_bytes  # an archive whose 3 % is 77 % of the finest update
    r = adapt_archive(info, frames, cfg, archive_bytes=lambda: estimate)
    assert r.update is not None, r.reason
    assert r.update_bytes <= 0.03 / 0.97 * estimate < finest.update_bytes
    pairs = scene_pairs(frames, None, info.scale)
    run = _run(info, pairs, cfg, False, budget=int(0.03 / 0.97 * estimate))
    assert run.steps_qat and set(run.steps_qat) <= set(run.dense)
    tuned, base = run.tuned.state_dict(), run.base.state_dict()
    for name, step in run.steps_qat.items():  # the weights sit on the stored grid
        q = (tuned[name] - base[name]).numpy() / step
        assert np.abs(q - np.rint(q)).max() < 1e-2


def _folder(root: Path, name: str, frames: list[np.ndarray]) -> Path:
    from PIL import Image

    folder = root / name
    folder.mkdir()
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"f{k}.png")
    return folder


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 1), (1, 5)])
def test_tiny_frames_are_refused_or_tuned_cleanly(shape, model, tmp_path):
    """1x1, 3x1, 1x5 frames gave ZeroDivisionError or "height and width must be > 0"
    tracebacks in ``adapt`` and ``encode --adapt``; now a clear refusal (adapt) or the general
    model kept (encode), and 2x2 frames (1x1 px at low resolution) are tuned."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for _ in range(6)]
    source = _folder(tmp_path, "in", frames)
    run = lambda *a: CliRunner().invoke(main, [str(x) for x in a])  # noqa: E731
    r = run("encode", source, "-o", tmp_path / "a.src", "--weights", model, "--codec", "png",
            "--adapt", "--adapt-steps", "2")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "adapt: general model kept" in r.output and "nan" not in r.output
    r = run("adapt", source, "-o", tmp_path / "m.safetensors", "--weights", model, "--steps", "2")
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output and "nan" not in r.output
    if shape == (2, 2):
        assert "too small" not in r.output
    else:
        assert r.exit_code == 1 and f"{shape[1]}x{shape[0]} frames are too small" in r.output


def test_flat_frames_say_identical_not_nan(model, tmp_path):
    """Frames the general model restores exactly: ``+nan dB (inf -> inf dB)`` and ``gains -inf
    dB`` before."""
    source = _folder(tmp_path, "flat", [np.full((32, 32, 3), 128, np.uint8)] * 6)
    run = lambda *a: CliRunner().invoke(main, [str(x) for x in a])  # noqa: E731
    r = run("encode", source, "-o", tmp_path / "a.src", "--weights", model, "--codec", "png",
            "--adapt", "--adapt-steps", "2")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "exactly already" in r.output and "identical" in r.output
    assert "nan" not in r.output and "inf" not in r.output
    r = run("adapt", source, "-o", tmp_path / "m.safetensors", "--weights", model, "--steps", "2")
    assert r.exit_code == 1 and "exactly already: nothing to tune" in r.output
    assert "inf" not in r.output


def test_frames_named_with_an_at_sign_are_not_taken_for_codec_settings():
    from srcodec.training.adaptconfig import AdaptResult

    def scored(*psnrs):
        images = [{"image": f"gate@{side}", "psnr_rgb": v, "psnr_y": v}
                  for side, v in zip(("north", "south.png"), psnrs, strict=True)]  # fmt: skip
        return {"psnr_rgb": float(np.mean(psnrs)), "psnr_y": float(np.mean(psnrs)),
                "images": images}  # fmt: skip

    r = AdaptResult(scored(30.0, 30.0), scored(30.4, 29.8), 1, 1.0, 1, ["gate@north"])
    assert r.gains_by_setting() == {} and r.best_gain_db == pytest.approx(0.1)
    assert r.best_gain_db == r.gain_db
