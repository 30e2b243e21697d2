import numpy as np
import pytest
from PIL import Image

from srcodec.errors import DataError
from srcodec.registry import load_model
from srcodec.training import TrainConfig, learning_rate, train

TINY = dict(blocks=2, features=16, patch=24, batch=4, lr=1e-3, seed=0)


def test_training_lowers_the_loss_and_keeps_the_best(photo_dir, tmp_path):
    out = tmp_path / "m.safetensors"
    cfg = TrainConfig(**TINY, steps=60, val_every=20, decay_every=1000)
    result = train(photo_dir, photo_dir, out, config=cfg, device="cpu", progress=False)
    losses = [h["loss"] for h in result.history]
    assert len(losses) == 3 and losses[-1] < 0.5 * losses[0]
    best = max(result.history, key=lambda h: h["psnr_rgb"])
    model, info = load_model(out, result.best.sha256)
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
    from srcodec.frames import read_images

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
