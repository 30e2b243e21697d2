"""Training and fine-tuning of a model of any family: L1 (or L2) loss, Adam, step-decayed or
cosine rate, random low-resolution patches made by the project's one downscale (x2) or none (x1),
optionally coded by a lossy codec in the loop (srcodec.training.degrade), validation PSNR against
bicubic (x1: the decoded frame) on whole images, best-checkpoint keeping and resumable checkpoints;
distillation (a student learning a teacher model's restorations as well as the HR frames).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from safetensors.torch import save as st_save
from torch import nn
from tqdm import tqdm

from ..atomic import write_bytes
from ..engines.torchengine import Restorer, pick_device
from ..errors import DataError, FrameError, ModelError, SrcodecError
from ..inputs import read_images
from ..metrics import psnr
from ..models import ModelConfig, create_model, get_family
from ..models.store import ModelInfo, get_model, inspect_weights, load_weights, save_model
from ..pixels import to_rgb
from ..resample import downscale, upscale
from .bf16 import autocast, use_bf16
from .config import ARCH_FIELDS, TrainConfig, learning_rate
from .degrade import Degradation, parse_degradation
from .losses import loss_function

__all__ = ["ARCH_FIELDS", "TrainConfig", "TrainResult", "learning_rate", "train"]

CKPT_KEY = "srcodec-checkpoint"
#: The seed of the validation pairs' coding qualities: every run validates on the same pairs.
VAL_SEED = 12345


@dataclass
class Pair:
    name: str
    hr: np.ndarray
    lr: np.ndarray
    #: A teacher's restoration of ``lr`` (distillation), the size of ``hr``.
    target: np.ndarray | None = None


def load_pairs(
    source: str | os.PathLike,
    min_lr: int = 0,
    role: str = "training",
    scale: int = 2,
    degradation: Degradation | None = None,
    rng: np.random.Generator | None = None,
) -> list[Pair]:
    """Read HR frames from a folder or video and make their LR twins with ``downscale`` (the
    frame itself at x1); with ``degradation``, each LR twin coded by its codec, once per copy."""
    try:
        images = read_images(source)
    except FrameError as exc:
        raise DataError(f"{role} data: {exc}") from None
    names, hrs, lrs = [], [], []
    for name, hr in images:
        hr = to_rgb(hr)
        if hr.shape[0] % scale or hr.shape[1] % scale:  # keep HR/LR pixel-aligned
            hr = hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]
        lr = downscale(hr, scale)
        if min(lr.shape[:2]) < min_lr:
            raise DataError(
                f"{Path(source) / name}: {hr.shape[1]}x{hr.shape[0]} is too small "
                f"for {min_lr} px low-resolution patches (needs {scale * min_lr} px)"
            )
        names.append(name)
        hrs.append(hr)
        lrs.append(lr)
    if degradation is None:
        return [Pair(n, hr, lr) for n, hr, lr in zip(names, hrs, lrs, strict=True)]
    copies = degradation.apply(lrs, rng or np.random.default_rng(VAL_SEED))
    return [
        Pair(f"{n}@{q}", hr, lr)
        for coded in copies
        for n, hr, (q, lr) in zip(names, hrs, coded, strict=True)
    ]


class PatchSampler:
    """Random aligned LR/HR patches with flips and 90-degree rotations.

    A patch's place is drawn uniformly (its image chosen in proportion to its area), or, for a
    fraction ``detail`` of the patches, in proportion to the detail bicubic misses inside it:
    the mean absolute difference between the HR image and the bicubic upscale of its LR twin.
    Flat sky and out-of-focus backgrounds teach a network little; edges and texture are where
    restorations differ (the idea of SamplingAug, Wang et al. 2021).
    """

    def __init__(
        self, pairs: list[Pair], patch: int, rng: np.random.Generator, detail: float = 0.0
    ) -> None:
        if not 0.0 <= detail <= 1.0:
            raise ValueError(f"detail sampling fraction must be in [0, 1], got {detail}")
        self.pairs, self.patch, self.rng, self.detail = pairs, patch, rng, detail
        self.scale = pairs[0].hr.shape[0] // pairs[0].lr.shape[0]
        area = np.array([p.lr.shape[0] * p.lr.shape[1] for p in pairs], np.float64)
        self.weights = area / area.sum()
        self.cdfs: list[np.ndarray] = []
        if detail > 0:
            totals = []
            for pair in pairs:
                cdf = np.cumsum(_patch_detail(pair, patch), dtype=np.float64).ravel()
                self.cdfs.append(cdf)
                totals.append(cdf[-1])
            total = np.asarray(totals)
            if total.sum() <= 0:
                raise DataError("training images have no detail for bicubic to miss (all flat)")
            self.detail_weights = total / total.sum()

    def _place(self, k: int) -> tuple[int, int, int]:
        """(image, y, x) of a patch's top-left corner in LR pixels; ``k`` is the image a
        uniform draw would use (drawn for the whole batch, as runs without detail did)."""
        p, rng = self.patch, self.rng
        if self.detail and rng.random() < self.detail:
            k = int(rng.choice(len(self.pairs), p=self.detail_weights))
            cdf = self.cdfs[k]
            idx = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
            width = self.pairs[k].lr.shape[1] - p + 1
            y, x = divmod(min(idx, cdf.size - 1), width)
            return k, y, x
        pair = self.pairs[k]
        y = int(rng.integers(0, pair.lr.shape[0] - p + 1))
        x = int(rng.integers(0, pair.lr.shape[1] - p + 1))
        return k, y, x

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` LR patches and their HR patches, float NCHW."""
        lr, hr, *_ = self.draw(n)
        return lr, hr

    def draw(self, n: int) -> list[torch.Tensor]:
        """``n`` aligned patches of every array the pairs carry, float NCHW: LR, HR and, when
        the pairs have teacher targets, the teacher's (flipped and rotated alike)."""
        p, rng, s = self.patch, self.rng, self.scale
        crops: list[list[np.ndarray]] = []
        for k in rng.choice(len(self.pairs), size=n, p=self.weights):
            k, y, x = self._place(int(k))
            pair = self.pairs[k]
            high = (slice(s * y, s * (y + p)), slice(s * x, s * (x + p)))
            arrays = [pair.lr[y : y + p, x : x + p], pair.hr[high]]
            if pair.target is not None:
                arrays.append(pair.target[high])
            if rng.random() < 0.5:
                arrays = [a[:, ::-1] for a in arrays]
            if rng.random() < 0.5:
                arrays = [a[::-1] for a in arrays]
            if rng.random() < 0.5:
                arrays = [a.transpose(1, 0, 2) for a in arrays]
            crops.append(arrays)
        return [
            torch.from_numpy(np.stack(group)).permute(0, 3, 1, 2).float()
            for group in zip(*crops, strict=True)
        ]


def _patch_detail(pair: Pair, patch: int) -> np.ndarray:
    """Sum, for every LR patch position, of what bicubic misses there (LR-pixel map)."""
    hr = pair.hr.astype(np.float32)
    h, w = pair.lr.shape[:2]
    s = hr.shape[0] // h
    bic = upscale(pair.lr, (hr.shape[1], hr.shape[0]), s).astype(np.float32)
    miss = np.abs(hr - bic).mean(axis=2)
    miss = miss[: s * h, : s * w].reshape(h, s, w, s).mean(axis=(1, 3))
    integral = np.zeros((h + 1, w + 1), np.float64)
    integral[1:, 1:] = miss.cumsum(0).cumsum(1)
    p = patch
    return integral[p:, p:] - integral[:-p, p:] - integral[p:, :-p] + integral[:-p, :-p]


def evaluate(restorer: Restorer, pairs: list[Pair]) -> dict:
    """Mean and per-image PSNR (RGB and Y, shave 2) of the model and of bicubic."""
    rows = []
    for pair in pairs:
        size = (pair.hr.shape[1], pair.hr.shape[0])
        sr = restorer.restore(pair.lr, size)
        frame = pair.lr if pair.lr.ndim == 2 else pair.lr[..., :3]  # a scene plate follows it
        bic = upscale(frame, size, restorer.scale)
        rows.append(
            {
                "image": pair.name,
                "psnr_rgb": psnr(pair.hr, sr),
                "psnr_y": psnr(pair.hr, sr, y=True),
                "bicubic_rgb": psnr(pair.hr, bic),
                "bicubic_y": psnr(pair.hr, bic, y=True),
            }
        )
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "image"}
    return {**mean, "images": rows}


def _save_checkpoint(path: Path, model: nn.Module, opt: torch.optim.Optimizer, state: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_state = opt.state_dict()
    for idx, st in opt_state["state"].items():
        for k, v in st.items():
            tensors[f"opt.{idx}.{k}"] = (
                v.detach().cpu().reshape(-1).contiguous()
                if k == "step"
                else v.detach().cpu().contiguous()
            )
    meta = {**state, "param_groups": opt_state["param_groups"]}
    write_bytes(path, st_save(tensors, metadata={CKPT_KEY: json.dumps(meta)}))


def _load_checkpoint(path: Path, model: nn.Module, opt: torch.optim.Optimizer) -> dict:
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads(f.metadata()[CKPT_KEY])
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises several types for a bad file
        raise DataError(f"{path}: not a srcodec training checkpoint ({exc})") from None
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v.reshape(()) if name == "step" else v
    opt.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    return meta


def _machine(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} GPU"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads"


@dataclass
class TrainResult:
    best: ModelInfo | None
    step: int
    history: list[dict] = field(default_factory=list)


def checkpoint_path(output: str | os.PathLike) -> Path:
    """Where the run writing ``output`` keeps its checkpoint: ``<output>.ckpt``."""
    output = Path(output)
    return output.with_name(output.name + ".ckpt")


def _check_output(output: Path, resume: str | os.PathLike | None, force: bool) -> None:
    """Refuse to overwrite a weights file or its checkpoint, unless ``force`` or the run goes
    on from that very checkpoint."""
    ckpt = checkpoint_path(output)
    if force or (resume is not None and Path(resume).resolve() == ckpt.resolve()):
        return
    for path in (output, ckpt):
        if path.exists():
            raise SrcodecError(
                f"{path} exists; use --force (force=True) to overwrite it, or resume its run "
                f"with --resume {ckpt}"
            )


def _load_data(hr: str | os.PathLike, val: str | os.PathLike, cfg: TrainConfig, scale: int):
    """Training pairs (large enough for ``cfg.patch``) and validation pairs, at ``scale`` and
    coded by ``cfg.degrade`` if set (the validation pairs at the same qualities every run)."""
    if not Path(val).exists():
        raise DataError(f"validation data {val}: no such folder or video")
    degradation = parse_degradation(cfg.degrade) if cfg.degrade else None
    rng = np.random.default_rng(cfg.seed)
    train_pairs = load_pairs(hr, cfg.patch, "training", scale, degradation, rng)
    return train_pairs, load_pairs(val, 0, "validation", scale, degradation)


def teacher_targets(
    pairs: list[Pair], teacher: ModelInfo, device: str | torch.device = "cpu"
) -> list[Pair]:
    """Distillation's first step: ``pairs`` with the teacher's restoration of each LR frame as
    its target, computed once on whole frames (no patch edges; a fraction of the cost of
    running the teacher on every batch), by the fastest engine the teacher has."""
    from ..engines.choose import make_restorer

    restorer = make_restorer(teacher, str(device))
    return [
        replace(p, target=restorer.restore(p.lr, (p.hr.shape[1], p.hr.shape[0]))) for p in pairs
    ]


def _with_arch(cfg: TrainConfig, config: ModelConfig) -> TrainConfig:
    """``cfg`` recording the architecture ``config`` actually has."""
    arch = {k: getattr(config, k, None) for k in ARCH_FIELDS if k != "family"}
    return replace(cfg, family=config.family, **arch)


def _model_info(model: str) -> ModelInfo:
    """The registry's record of a model given as an id or a weights file."""
    path = Path(model)
    return inspect_weights(path) if path.is_file() else get_model(model)


def _build_model(cfg: TrainConfig, init: str | None) -> tuple[nn.Module, TrainConfig, ModelInfo]:
    """A fresh model of ``cfg``'s architecture (seeded), or, with ``init``, the weights of that
    model (id or weights file) in its own architecture, which ``cfg`` then records; when
    ``cfg``'s family can adopt a network of the init's family, a network of ``cfg``'s
    architecture that starts from it instead (a student from its teacher)."""
    torch.manual_seed(cfg.seed)
    init_info = None
    if init:
        init_info = _model_info(init)
        model, init_info = load_weights(init_info.path, init_info.sha256)
        family = get_family(cfg.family)
        if family.name != model.config.family and family.adopt is not None:
            model = family.adopt(model, cfg.model_config())
    else:
        model = create_model(cfg.model_config())
    if model.config.scale == 1 and not cfg.degrade:
        raise ModelError(
            f"{model.config.name}: an x1 model learns to undo a codec's artefacts; give it "
            "one to learn from (--degrade, e.g. hevc:crf=22-38)"
        )
    return model, _with_arch(cfg, model.config), init_info


class _Run:
    """The state of one training run and its steps: set-up (fresh, fine-tune or resumed), one
    optimisation step, validation, best-model saving and checkpointing."""

    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        dev: torch.device,
        output: Path,
        card: dict,
    ) -> None:
        self.cfg, self.dev, self.output, self.card = cfg, dev, output, card
        self.bf16 = use_bf16(cfg.precision, dev)
        self.model = model.to(dev)
        self.opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
        self.loss_fn = loss_function(cfg.loss)
        self.rng = np.random.default_rng(cfg.seed)
        self.name = cfg.name or model.config.name
        self.step, self.best, self.history, self.elapsed = 0, -math.inf, [], 0.0
        self.best_info: ModelInfo | None = None
        self.loss_acc = torch.zeros((), device=dev)  # summed on the device: no sync every step
        self.loss_n = 0
        self.writer = None

    def resume(self, path: Path) -> None:
        """Continue from a checkpoint: weights, optimiser, step, history and patch draws."""
        meta = _load_checkpoint(path, self.model, self.opt)
        self.step, self.best, self.history = meta["step"], meta["best"], meta["history"]
        self.elapsed = meta.get("elapsed", 0.0)
        self.rng.bit_generator.state = meta["rng"]
        if self.output.exists():
            self.best_info = inspect_weights(self.output)

    def open_log(self, log_dir: str | os.PathLike | None) -> None:
        if not log_dir:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(log_dir))
        except ImportError:
            print("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")

    def train_step(self, sampler: PatchSampler) -> float:
        """One Adam step on one batch of patches; returns the learning rate used."""
        lr_now = learning_rate(self.cfg, self.step)
        for group in self.opt.param_groups:
            group["lr"] = lr_now
        lr_b, *targets = (t.to(self.dev, non_blocking=True) for t in sampler.draw(self.cfg.batch))
        with autocast(self.bf16, self.dev):
            out = self.model(lr_b)
        loss = self.loss(out.float(), *targets)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        self.loss_acc += loss.detach()
        self.loss_n += 1
        return lr_now

    def loss(self, out: torch.Tensor, hr: torch.Tensor, *teacher: torch.Tensor) -> torch.Tensor:
        """The loss to the HR patches, or, distilling, mixed with the loss to the teacher's."""
        loss = self.loss_fn(out, hr)
        if teacher:
            w = self.cfg.teacher_weight
            loss = (1.0 - w) * loss + w * self.loss_fn(out, teacher[0])
        return loss

    def mean_loss(self) -> float:
        return self.loss_acc.item() / max(1, self.loss_n)

    def validate(self, val_pairs: list[Pair], wall: float) -> dict:
        """Measure the model on the validation pairs, record it, keep it if it is the best,
        and write the checkpoint; the loss average starts again."""
        self.model.eval()
        result = evaluate(Restorer(self.model, self.dev), val_pairs)
        self.model.train()
        self.model.to(memory_format=torch.contiguous_format)
        entry = {
            "step": self.step,
            "wall_s": round(wall, 1),
            "loss": self.mean_loss(),
            **{k: round(v, 4) for k, v in result.items() if k != "images"},
        }
        self.history.append(entry)
        if self.writer:
            for k in ("psnr_rgb", "psnr_y", "bicubic_rgb"):
                self.writer.add_scalar(f"val/{k}", result[k], self.step)
        if result["psnr_rgb"] > self.best:
            self.save_best(result, wall)
        self.checkpoint(wall)
        self.loss_acc.zero_()
        self.loss_n = 0
        return entry

    def save_best(self, result: dict, wall: float) -> None:
        self.best = result["psnr_rgb"]
        self.card["training"].update(steps=self.step, wall_s=round(wall, 1))
        self.card["validation"] = result
        self.best_info = save_model(self.model, self.output, self.name, self.card)

    def checkpoint(self, wall: float) -> None:
        state = {
            "step": self.step,
            "best": self.best,
            "history": self.history,
            "elapsed": wall,
            "rng": self.rng.bit_generator.state,
            "config": asdict(self.cfg),
        }
        _save_checkpoint(checkpoint_path(self.output), self.model, self.opt, state)


def _card(cfg, init_info, command, hr, val, train_pairs, val_pairs, dev) -> dict:
    """The model card of the run's weights (validation and steps are added at each best)."""
    return {
        "scale": cfg.scale,
        "training": {
            "config": asdict(cfg),
            "init": init_info.id if init_info else None,
            "command": command,
            "data": {
                "train": str(hr),
                "train_images": [p.name for p in train_pairs],
                "val": str(val),
                "val_images": [p.name for p in val_pairs],
            },
            "machine": _machine(dev),
            "torch": torch.__version__,
        },
    }


def train(
    hr: str | os.PathLike,
    val: str | os.PathLike,
    output: str | os.PathLike,
    *,
    config: TrainConfig | None = None,
    init: str | None = None,
    resume: str | os.PathLike | None = None,
    device: str = "auto",
    log_dir: str | os.PathLike | None = None,
    time_limit: float | None = None,
    progress: bool = True,
    command: str | None = None,
    force: bool = False,
) -> TrainResult:
    """Train (or, with ``init``, fine-tune) a model of ``config.family`` (x2, or x1 with a
    ``degrade`` codec to learn from) and write the best one to ``output``.

    ``hr`` and ``val`` are folders of images or video files. A checkpoint ``<output>.ckpt`` is
    rewritten at every validation; pass it as ``resume`` to continue the run. An existing
    ``output`` or checkpoint is overwritten only with ``force`` (or when resuming from that
    checkpoint). ``time_limit`` (seconds) stops early, after a final validation.
    """
    cfg = config or TrainConfig()
    output = Path(output)
    _check_output(output, resume, force)
    dev = pick_device(device)
    model, cfg, init_info = _build_model(cfg, init)  # before the data: it sets the scale
    train_pairs, val_pairs = _load_data(hr, val, cfg, model.config.scale)
    teacher = _model_info(cfg.teacher) if cfg.teacher else None
    if teacher:
        train_pairs = teacher_targets(train_pairs, teacher, dev)
    card = _card(cfg, init_info, command, hr, val, train_pairs, val_pairs, dev)
    card["training"]["teacher"] = teacher.id if teacher else None
    run = _Run(cfg, model, dev, output, card)
    if resume:
        run.resume(Path(resume))
    sampler = PatchSampler(train_pairs, cfg.patch, run.rng, cfg.detail_sampling)
    run.open_log(log_dir)
    _loop(run, sampler, val_pairs, time_limit, progress)
    if run.writer:
        run.writer.close()
    return TrainResult(run.best_info, run.step, run.history)


def _report(step: int, e: dict, wall: float) -> None:
    tqdm.write(
        f"step {step}: val {e['psnr_rgb']:.2f} dB RGB / {e['psnr_y']:.2f} dB Y "
        f"(bicubic {e['bicubic_rgb']:.2f} / {e['bicubic_y']:.2f}), "
        f"loss {e['loss']:.3f}, {wall:.0f} s"
    )


def _loop(
    run: _Run,
    sampler: PatchSampler,
    val_pairs: list[Pair],
    time_limit: float | None,
    progress: bool,
) -> None:
    """Steps until ``cfg.steps`` (or the time limit), validating every ``val_every``."""
    cfg = run.cfg
    start = time.monotonic() - run.elapsed
    bar = tqdm(
        total=cfg.steps, initial=run.step, disable=not progress, unit="step", dynamic_ncols=True
    )
    last_psnr = run.history[-1]["psnr_rgb"] if run.history else float("nan")
    run.model.train()
    if run.dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch shapes: pick the fastest kernels
    if cfg.steps == 0 and not run.history:
        # No training (``--steps 0 --init M``): the initial network, e.g. a model adopted into
        # another family, validated once and written.
        _report(run.step, run.validate(val_pairs, 0.0), 0.0)
    while run.step < cfg.steps:
        lr_now = run.train_step(sampler)
        out_of_time = time_limit is not None and time.monotonic() - start > time_limit
        validating = run.step % cfg.val_every == 0 or run.step == cfg.steps or out_of_time
        if run.step % 50 == 0 or validating:
            loss = run.mean_loss()
            if run.writer:
                run.writer.add_scalar(f"train/{cfg.loss}", loss, run.step)
            bar.set_postfix(loss=f"{loss:.3f}", psnr=f"{last_psnr:.2f}", lr=f"{lr_now:.1e}")
        bar.update(1)
        if validating:
            wall = time.monotonic() - start
            e = run.validate(val_pairs, wall)
            last_psnr = e["psnr_rgb"]
            _report(run.step, e, wall)
        if out_of_time:
            break
    bar.close()
