"""The fast family's start from a trained EDSR (``adopt``), and distillation (a student learning
a teacher's restorations); its end-to-end tests are in test_families_end_to_end.py."""

import numpy as np
import pytest
import torch

from srcodec.engines.choose import make_restorer
from srcodec.errors import ModelError
from srcodec.metrics import psnr
from srcodec.models import create_model, get_family
from srcodec.models.fast import FastConfig
from srcodec.models.store import get_model, inspect_weights, load_weights
from srcodec.resample import downscale
from srcodec.training.trainer import Pair, PatchSampler, TrainConfig, teacher_targets, train


def _teacher(blocks: int = 4, features: int = 8) -> torch.nn.Module:
    torch.manual_seed(3)
    teacher = create_model("edsr", blocks=blocks, features=features, bicubic_skip=True)
    torch.nn.init.normal_(teacher.tail.weight, std=0.05)  # not the skip alone
    return teacher.eval()


def test_adopted_student_with_every_block_is_its_teacher_inside_the_frame():
    teacher = _teacher()
    student = get_family("fast").adopt(teacher, FastConfig(blocks=4, features=8)).eval()
    x = torch.rand(1, 3, 24, 30) * 255
    with torch.no_grad():
        a, b = teacher(x), student(x)
    assert (a - teacher.skip(x)).abs().max() > 5  # the network adds something to check
    # The folded tail is exact inside; the outermost output pixels saw zero padding at a
    # different resolution.
    assert (a - b)[..., 2:-2, 2:-2].abs().max() < 1e-3


def test_adopted_student_keeps_evenly_spaced_blocks():
    teacher = _teacher(blocks=5)
    student = get_family("fast").adopt(teacher, FastConfig(blocks=3, features=8))
    for mine, theirs in zip(student.body[:3], (teacher.body[i] for i in (0, 2, 4)), strict=True):
        assert torch.equal(mine.body[0].weight, theirs.body[0].weight)
    assert torch.equal(student.head.weight, teacher.head.weight)


def test_adopt_refuses_another_width_or_a_deeper_student():
    adopt = get_family("fast").adopt
    with pytest.raises(ModelError, match="64 features"):
        adopt(_teacher(), FastConfig(blocks=2, features=64))
    with pytest.raises(ModelError, match="cannot start"):
        adopt(_teacher(blocks=2), FastConfig(blocks=3, features=8))


def test_targets_stay_aligned_and_draws_are_unchanged_without_them(photo):
    hr = photo[:96, :96]
    lr = downscale(hr)
    plain = PatchSampler([Pair("p", hr, lr)], 16, np.random.default_rng(5)).batch(6)
    lr_b, hr_b, target = PatchSampler(
        [Pair("p", hr, lr, target=255 - hr)], 16, np.random.default_rng(5)
    ).draw(6)
    assert torch.equal(plain[0], lr_b) and torch.equal(plain[1], hr_b)  # the same patches
    assert torch.equal(target, 255 - hr_b)  # cropped, flipped and turned alike


def test_distilled_student_starts_from_and_learns_its_teacher(
    photo, photo_dir, tmp_path, tiny_weights
):
    teacher = inspect_weights(tiny_weights)
    cfg = TrainConfig(
        family="fast", blocks=1, features=8, patch=24, batch=4, steps=10, val_every=5,
        lr=1e-4, teacher=str(tiny_weights), teacher_weight=1.0,
    )  # fmt: skip
    out = tmp_path / "student.safetensors"
    result = train(photo_dir, photo_dir, out, config=cfg, init=str(tiny_weights), progress=False)
    student, info = load_weights(out, result.best.sha256)
    assert info.config.name == "fast_x2_r1f8k5s"
    assert info.card["training"]["init"] == teacher.id
    assert info.card["training"]["teacher"] == teacher.id
    # one of the teacher's two blocks and a few steps: close to the teacher already
    pairs = teacher_targets([Pair("p", photo, downscale(photo))], teacher)
    mine = make_restorer(info, "cpu", "torch").restore(pairs[0].lr, photo.shape[1::-1])
    assert psnr(pairs[0].target, mine) > 35


def test_teacher_weight_is_checked():
    with pytest.raises(ValueError, match="teacher_weight"):
        TrainConfig(teacher_weight=1.5)


def test_steps_zero_writes_the_adopted_init(photo_dir, tmp_path):
    """``train --family fast --init EDSR --steps 0``: the student as adopted, validated once and
    written (how weights/srcodec-fast-x2 is made). It failed before: no validation, nothing
    written."""
    teacher = tmp_path / "teacher.safetensors"
    small = dict(blocks=2, features=8, patch=24, batch=2, lr=1e-3, seed=0, bicubic_skip=True)
    train(photo_dir, photo_dir, teacher, config=TrainConfig(**small, steps=2, val_every=2),
          device="cpu", progress=False)  # fmt: skip
    out = tmp_path / "fast.safetensors"
    cfg = TrainConfig(**{**small, "family": "fast"}, steps=0)
    result = train(photo_dir, photo_dir, out, config=cfg, init=str(teacher), device="cpu",
                   progress=False)  # fmt: skip
    assert result.step == 0 and [h["step"] for h in result.history] == [0]
    student, info = load_weights(out)
    edsr, _ = load_weights(teacher)
    assert info.family == "fast" and info.card["training"]["steps"] == 0
    x = torch.rand(1, 3, 20, 26) * 255
    with torch.no_grad():
        assert (edsr(x) - student(x))[..., 2:-2, 2:-2].abs().max() < 1e-3


def test_bundled_fast_model_is_the_bundled_model_folded():
    """weights/srcodec-fast-x2 restores as srcodec-photo-x2 does (its upsampler and tail folded
    into one low-resolution convolution) away from the frame's outermost pixels."""
    fast, info = load_weights(get_model("srcodec-fast-x2").path)
    edsr, edsr_info = load_weights(get_model("srcodec-photo-x2").path)
    assert info.family == "fast" and info.card["training"]["init"] == edsr_info.id
    x = torch.rand(1, 3, 24, 24) * 255
    with torch.no_grad():
        assert (edsr.eval()(x) - fast.eval()(x))[..., 2:-2, 2:-2].abs().max() < 1e-2
