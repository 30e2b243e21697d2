from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from srcodec.errors import DataError, SrcodecError
from srcodec.models.store import load_weights
from srcodec.resample import downscale
from srcodec.training.trainer import Pair, PatchSampler, TrainConfig, learning_rate, train

TINY = dict(blocks=2, features=16, patch=24, batch=4, lr=1e-3, seed=0)


def test_training_learns_and_keeps_the_best(photo_dir, tmp_path):
    out = tmp_path / "m.safetensors"
    cfg = TrainConfig(**TINY, steps=60, val_every=20, decay_every=1000)
    assert cfg.model_config().bicubic_skip is False  # no skip: the model has to learn it all
    result = train(photo_dir, photo_dir, out, config=cfg, device="cpu", progress=False)
    losses = [h["loss"] for h in result.history]
    assert len(losses) == 3 and losses[-1] < 0.5 * losses[0]
    # the restorations themselves improve, by a margin no noise gives (24.0 -> 28.2 dB seen)
    psnrs = [h["psnr_rgb"] for h in result.history]
    assert psnrs[-1] > psnrs[0] + 3 and psnrs[-1] > 27
    best = max(result.history, key=lambda h: h["psnr_rgb"])
    model, info = load_weights(out, result.best.sha256)
    assert info.card["training"]["steps"] == best["step"]
    assert info.card["validation"]["psnr_rgb"] == pytest.approx(best["psnr_rgb"], abs=1e-3)
    assert (tmp_path / "m.safetensors.ckpt").exists()


def test_resume_continues_from_the_checkpoint(photo_dir, tmp_path):
    out = tmp_path / "m.safetensors"
    cfg = TrainConfig(**TINY, steps=10, val_every=5, decay_every=1000)
    train(photo_dir, photo_dir, out, config=cfg, device="cpu", progress=False)
    cfg.steps = 20
    result = train(
        photo_dir,
        photo_dir,
        out,
        config=cfg,
        device="cpu",
        progress=False,
        resume=tmp_path / "m.safetensors.ckpt",
    )
    assert [h["step"] for h in result.history] == [5, 10, 15, 20]


def _tensors(path):
    return {k: v.clone() for k, v in load_file(str(path)).items()}


def test_resumed_run_equals_an_uninterrupted_one(photo_dir, tmp_path):
    cfg = TrainConfig(**TINY, steps=20, val_every=5, decay_every=10)
    whole = train(photo_dir, photo_dir, tmp_path / "a.safetensors", config=cfg, device="cpu")
    out = tmp_path / "b.safetensors"
    train(photo_dir, photo_dir, out, config=replace(cfg, steps=10), device="cpu", progress=False)
    ckpt = tmp_path / "b.safetensors.ckpt"
    resumed = train(photo_dir, photo_dir, out, config=cfg, resume=ckpt, device="cpu")
    assert [h["step"] for h in resumed.history] == [5, 10, 15, 20]
    for a, b in zip(whole.history, resumed.history, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert a["psnr_rgb"] == pytest.approx(b["psnr_rgb"], abs=1e-3)
    a, b = _tensors(tmp_path / "a.safetensors.ckpt"), _tensors(ckpt)  # weights and Adam state
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6), k


def test_fine_tuning_starts_from_the_init_weights(photo_dir, tmp_path):
    base = tmp_path / "base.safetensors"
    cfg = TrainConfig(**TINY, steps=5, val_every=5)
    train(photo_dir, photo_dir, base, config=cfg, device="cpu", progress=False)
    tuned = tmp_path / "tuned.safetensors"
    # a learning rate of 0: after one step the weights are still exactly where the run began
    still = TrainConfig(steps=1, val_every=1, patch=24, batch=4, lr=0.0, seed=5)
    train(photo_dir, photo_dir, tuned, config=still, init=str(base), device="cpu", progress=False)
    started, init = load_file(str(tuned)), load_file(str(base))
    assert started.keys() == init.keys()
    assert all(torch.equal(started[k], init[k]) for k in init)
    fresh = train(
        photo_dir,
        photo_dir,
        tmp_path / "fresh.safetensors",
        device="cpu",
        progress=False,
        config=replace(still, **{k: TINY[k] for k in ("blocks", "features")}),
    )
    assert not torch.equal(load_file(str(fresh.best.path))["head.weight"], init["head.weight"])


def test_existing_weights_are_not_overwritten_without_force(photo_dir, tmp_path):
    out = tmp_path / "m.safetensors"
    cfg = TrainConfig(**TINY, steps=2, val_every=2)
    first = train(photo_dir, photo_dir, out, config=cfg, device="cpu", progress=False)
    before = out.read_bytes()
    other = replace(cfg, seed=1)
    with pytest.raises(SrcodecError, match="m.safetensors exists; use --force"):
        train(photo_dir, photo_dir, out, config=other, device="cpu", progress=False)
    assert out.read_bytes() == before
    out.unlink()  # its checkpoint alone is protected too
    with pytest.raises(SrcodecError, match="m.safetensors.ckpt exists"):
        train(photo_dir, photo_dir, out, config=other, device="cpu", progress=False)
    again = train(photo_dir, photo_dir, out, config=other, device="cpu", progress=False, force=True)
    assert again.best.sha256 != first.best.sha256


def test_fine_tuning_starts_from_the_given_model(photo_dir, tmp_path):
    base = tmp_path / "base.safetensors"
    cfg = TrainConfig(**TINY, steps=5, val_every=5)
    first = train(photo_dir, photo_dir, base, config=cfg, device="cpu", progress=False)
    tuned = tmp_path / "tuned.safetensors"
    result = train(
        photo_dir,
        photo_dir,
        tuned,
        config=TrainConfig(steps=5, val_every=5, patch=24, batch=4),
        init=str(base),
        device="cpu",
        progress=False,
    )
    assert result.best.card["training"]["init"] == first.best.id
    assert result.best.config == first.best.config  # architecture comes from the init model
    recorded = result.best.card["training"]["config"]  # and the card says so
    assert (recorded["blocks"], recorded["features"]) == (TINY["blocks"], TINY["features"])


def test_bad_training_data(tmp_path, photo_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "m.safetensors"
    with pytest.raises(DataError, match="empty: no frames"):
        train(empty, photo_dir, out, progress=False)
    with pytest.raises(DataError, match="nowhere"):
        train(photo_dir, tmp_path / "nowhere", out, progress=False)
    small = tmp_path / "small"
    small.mkdir()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(small / "tiny.png")
    with pytest.raises(DataError, match="tiny.png: 40x40 is too small"):
        train(small, photo_dir, out, progress=False)
    assert not out.exists()


def test_video_files_are_training_data(tmp_path, photo):
    iio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    from srcodec.inputs import read_images

    video = tmp_path / "cam.mp4"
    with iio.get_writer(video, fps=5, codec="libx264", quality=10, macro_block_size=16) as w:
        for k in range(6):
            w.append_data(np.ascontiguousarray(photo[k * 8 : k * 8 + 128, :160]))
    frames = read_images(video)
    assert len(frames) == 6 and frames[0][1].shape == (128, 160, 3)
    assert frames[0][0] == "cam_000000"
    out = tmp_path / "m.safetensors"
    cfg = TrainConfig(**TINY, steps=4, val_every=4)
    result = train(video, video, out, config=cfg, device="cpu", progress=False)
    assert result.best.card["training"]["data"]["train_images"][:2] == ["cam_000000", "cam_000001"]


def test_learning_rate_schedules():
    cos = TrainConfig(lr=2e-4, steps=1000, schedule="cosine")
    assert learning_rate(cos, 0) == pytest.approx(2e-4)
    assert learning_rate(cos, 500) == pytest.approx(1e-4)
    assert learning_rate(cos, 1000) == pytest.approx(0.0, abs=1e-12)
    step = TrainConfig(lr=2e-4, decay_every=300, decay_gamma=0.5)
    assert [learning_rate(step, s) for s in (0, 299, 300, 900)] == pytest.approx(
        [2e-4, 2e-4, 1e-4, 2.5e-5]
    )
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(TrainConfig(schedule="linear"), 0)


def _flat_with_texture(photo: np.ndarray) -> Pair:
    """A 192x192 grey frame with one 48x48 patch of the real photo in its corner."""
    hr = np.full((192, 192, 3), 128, np.uint8)
    hr[-48:, -48:] = photo[200:248, 200:248]
    return Pair("corner", hr, downscale(hr))


def _near_texture(lr_patch_yx: tuple[int, int], patch: int) -> bool:
    # The texture starts at LR pixel 72 (HR 144); the filters smear it 4 px further.
    y, x = lr_patch_yx
    return y + patch > 68 and x + patch > 68


def test_detail_sampling_places_patches_on_detail(photo):
    pair, patch = _flat_with_texture(photo), 16
    draws = {}
    for detail in (0.0, 1.0, 0.5):
        sampler = PatchSampler([pair], patch, np.random.default_rng(0), detail=detail)
        places = [sampler._place(0)[1:] for _ in range(400)]
        draws[detail] = np.mean([_near_texture(p, patch) for p in places])
    # uniform: 28 of the 81 rows and of the 81 columns a 16 px patch can start at are near it
    uniform = (28 / 81) ** 2
    assert draws[0.0] == pytest.approx(uniform, abs=0.05)
    assert draws[1.0] == 1.0  # a flat patch has no detail: never drawn
    assert draws[0.5] == pytest.approx(0.5 + 0.5 * uniform, abs=0.07)


def test_detail_sampling_batches_stay_aligned(photo):
    pair = _flat_with_texture(photo)
    lr, hr = PatchSampler([pair], 16, np.random.default_rng(1), detail=1.0).batch(8)
    assert lr.shape == (8, 3, 16, 16) and hr.shape == (8, 3, 32, 32)
    # every HR patch is the HR twin of its LR patch: downscaling it gives the LR patch back
    for lo, hi in zip(lr, hr, strict=True):
        hi8 = hi.permute(1, 2, 0).numpy().astype(np.uint8)
        err = np.abs(downscale(hi8).astype(float) - lo.permute(1, 2, 0).numpy())
        assert err[2:-2, 2:-2].max() <= 1  # interior: the filter reaches 2 px past the edge


def test_detail_sampling_rejects_bad_input(photo):
    flat = np.full((96, 96, 3), 90, np.uint8)
    with pytest.raises(DataError, match="no detail"):
        PatchSampler([Pair("flat", flat, downscale(flat))], 16, np.random.default_rng(), 1.0)
    with pytest.raises(ValueError, match="detail"):
        TrainConfig(detail_sampling=1.5)


def test_l2_loss_trains_and_is_recorded(photo_dir, tmp_path):
    out = tmp_path / "m.safetensors"
    cfg = TrainConfig(**TINY, steps=40, val_every=20, decay_every=1000, loss="l2")
    result = train(photo_dir, photo_dir, out, config=cfg, device="cpu", progress=False)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0]  # squared error: falls faster than L1 would
    assert result.best.card["training"]["config"]["loss"] == "l2"
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(loss="huber")


def test_bf16_precision_choice():
    """ "auto" computes in bf16 only on a CPU with bf16 instructions (never on a GPU, never on
    an emulating CPU); a forced choice wins; an unknown one is refused."""
    from srcodec.training import bf16

    assert bf16.use_bf16("bf16") and not bf16.use_bf16("fp32")
    assert bf16.use_bf16("auto", "cpu") == bf16.cpu_has_bf16()
    assert not bf16.use_bf16("auto", "cuda")
    with pytest.raises(ValueError, match="precision"):
        bf16.use_bf16("fp16")
    with bf16.autocast(True):
        import torch

        out = torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3))
    assert out.dtype == torch.bfloat16
