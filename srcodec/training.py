"""Training and fine-tuning of the EDSR model: L1 (or L2) loss, Adam, step-decayed or cosine rate,
random low-resolution patches made by the project's one downscale, validation PSNR against
bicubic on whole images, best-checkpoint keeping and resumable safetensors checkpoints.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from safetensors.torch import save as st_save
from tqdm import tqdm

from .atomic import write_bytes
from .errors import DataError, FrameError
from .frames import read_images, to_rgb
from .metrics import psnr
from .model import EDSR, EDSRConfig
from .registry import ModelInfo, inspect_weights, load_model, resolve, save_model
from .resample import downscale, upscale
from .torchengine import Restorer, pick_device

CKPT_KEY = "srcodec-checkpoint"
# L1 trains faster and is EDSR's choice; L2 is what PSNR measures (it restores the conditional
# mean, softer where the detail is uncertain), suited to a last fine-tune.
LOSSES = {"l1": torch.nn.functional.l1_loss, "l2": torch.nn.functional.mse_loss}


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in the model card)."""

    blocks: int = 16
    features: int = 64
    res_scale: float = 1.0
    bicubic_skip: bool = False
    patch: int = 48
    batch: int = 16
    steps: int = 300_000
    lr: float = 1e-4
    decay_every: int = 200_000
    decay_gamma: float = 0.5
    schedule: str = "step"
    detail_sampling: float = 0.0
    loss: str = "l1"
    val_every: int = 1000
    seed: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        learning_rate(self, 0)  # an unknown schedule fails here, not after the data has loaded
        if not 0.0 <= self.detail_sampling <= 1.0:
            raise ValueError(f"detail_sampling must be in [0, 1], got {self.detail_sampling}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r} (use {' or '.join(LOSSES)})")


# The TrainConfig fields that are the model's architecture (the EDSRConfig fields it sets).
ARCH_FIELDS = tuple(
    f.name for f in fields(EDSRConfig) if f.name in TrainConfig.__dataclass_fields__
)


@dataclass
class Pair:
    name: str
    hr: np.ndarray
    lr: np.ndarray


def load_pairs(source: str | os.PathLike, min_lr: int = 0, role: str = "training") -> list[Pair]:
    """Read HR frames from a folder or video and make their LR twins with ``downscale``."""
    try:
        images = read_images(source)
    except FrameError as exc:
        raise DataError(f"{role} data: {exc}") from None
    pairs = []
    for name, hr in images:
        hr = to_rgb(hr)
        if hr.shape[0] % 2 or hr.shape[1] % 2:  # keep HR/LR pixel-aligned: drop an odd edge
            hr = hr[: hr.shape[0] // 2 * 2, : hr.shape[1] // 2 * 2]
        lr = downscale(hr)
        if min(lr.shape[:2]) < min_lr:
            raise DataError(
                f"{Path(source) / name}: {hr.shape[1]}x{hr.shape[0]} is too small "
                f"for {min_lr} px low-resolution patches (needs {2 * min_lr} px)"
            )
        pairs.append(Pair(name, hr, lr))
    return pairs


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
        p, rng = self.patch, self.rng
        lrs, hrs = [], []
        for k in rng.choice(len(self.pairs), size=n, p=self.weights):
            k, y, x = self._place(int(k))
            pair = self.pairs[k]
            lr = pair.lr[y : y + p, x : x + p]
            hr = pair.hr[2 * y : 2 * (y + p), 2 * x : 2 * (x + p)]
            if rng.random() < 0.5:
                lr, hr = lr[:, ::-1], hr[:, ::-1]
            if rng.random() < 0.5:
                lr, hr = lr[::-1], hr[::-1]
            if rng.random() < 0.5:
                lr, hr = lr.transpose(1, 0, 2), hr.transpose(1, 0, 2)
            lrs.append(lr)
            hrs.append(hr)

        def tensor(a: list[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).float()

        return tensor(lrs), tensor(hrs)


def _patch_detail(pair: Pair, patch: int) -> np.ndarray:
    """Sum, for every LR patch position, of what bicubic misses there (LR-pixel map)."""
    hr = pair.hr.astype(np.float32)
    bic = upscale(pair.lr, (hr.shape[1], hr.shape[0])).astype(np.float32)
    miss = np.abs(hr - bic).mean(axis=2)
    h, w = pair.lr.shape[:2]
    miss = miss[: 2 * h, : 2 * w].reshape(h, 2, w, 2).mean(axis=(1, 3))
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
        bic = upscale(pair.lr, size)
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


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """``step``: halved (``decay_gamma``) every ``decay_every`` steps, as in EDSR; ``cosine``:
    from ``lr`` down to zero over ``steps`` (suits a run whose length is fixed in advance)."""
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(step, cfg.steps) / max(1, cfg.steps)))
    if cfg.schedule == "step":
        return cfg.lr * cfg.decay_gamma ** (step // cfg.decay_every)
    raise ValueError(f"unknown learning-rate schedule {cfg.schedule!r} (use step or cosine)")


def _save_checkpoint(path: Path, model: EDSR, opt: torch.optim.Optimizer, state: dict) -> None:
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


def _load_checkpoint(path: Path, model: EDSR, opt: torch.optim.Optimizer) -> dict:
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
) -> TrainResult:
    """Train (or, with ``init``, fine-tune) an EDSR x2 model and write the best one to ``output``.

    ``hr`` and ``val`` are folders of images or video files. A checkpoint ``<output>.ckpt`` is
    rewritten at every validation; pass it as ``resume`` to continue the run. ``time_limit``
    (seconds) stops early, after a final validation.
    """
    cfg = config or TrainConfig()
    output = Path(output)
    if not Path(val).exists():
        raise DataError(f"validation data {val}: no such folder or video")
    train_pairs = load_pairs(hr, min_lr=cfg.patch, role="training")
    val_pairs = load_pairs(val, role="validation")
    dev = pick_device(device)
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)

    init_info = None
    if init:
        path = Path(init)
        init_info = inspect_weights(path) if path.is_file() else resolve(init)
        model, init_info = load_model(init_info.path, init_info.sha256)
        model.train()
        # the architecture is the init model's, whatever cfg said: record that one
        cfg = replace(cfg, **{k: getattr(model.config, k) for k in ARCH_FIELDS})
    else:
        model = EDSR(EDSRConfig(**{k: getattr(cfg, k) for k in ARCH_FIELDS}))
    model = model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    ckpt_path = output.with_name(output.name + ".ckpt")
    step, best, history, elapsed = 0, -math.inf, [], 0.0
    if resume:
        meta = _load_checkpoint(Path(resume), model, opt)
        step, best, history = meta["step"], meta["best"], meta["history"]
        elapsed = meta.get("elapsed", 0.0)
        rng.bit_generator.state = meta["rng"]
    sampler = PatchSampler(train_pairs, cfg.patch, rng, cfg.detail_sampling)
    writer = None
    if log_dir:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(log_dir))
        except ImportError:
            print("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")

    name = cfg.name or model.config.name
    card = {
        "scale": model.config.scale,
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
    best_info = inspect_weights(output) if resume and output.exists() else None
    start = time.monotonic() - elapsed
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True)
    loss_sum, loss_n = 0.0, 0
    last_psnr = history[-1]["psnr_rgb"] if history else float("nan")

    def validate() -> None:
        nonlocal best, best_info, last_psnr
        model.eval()
        result = evaluate(Restorer(model, dev), val_pairs)
        model.train()
        model.to(memory_format=torch.contiguous_format)
        wall = time.monotonic() - start
        entry = {
            "step": step,
            "wall_s": round(wall, 1),
            "loss": loss_sum / max(1, loss_n),
            **{k: round(v, 4) for k, v in result.items() if k != "images"},
        }
        history.append(entry)
        last_psnr = result["psnr_rgb"]
        tqdm.write(
            f"step {step}: val {result['psnr_rgb']:.2f} dB RGB / {result['psnr_y']:.2f} dB Y "
            f"(bicubic {result['bicubic_rgb']:.2f} / {result['bicubic_y']:.2f}), "
            f"loss {entry['loss']:.3f}, {wall:.0f} s"
        )
        if writer:
            for k in ("psnr_rgb", "psnr_y", "bicubic_rgb"):
                writer.add_scalar(f"val/{k}", result[k], step)
        if result["psnr_rgb"] > best:
            best = result["psnr_rgb"]
            card["training"].update(steps=step, wall_s=round(wall, 1))
            card["validation"] = result
            best_info = save_model(model, output, name, card)
        _save_checkpoint(
            ckpt_path,
            model,
            opt,
            {
                "step": step,
                "best": best,
                "history": history,
                "elapsed": wall,
                "rng": rng.bit_generator.state,
                "config": asdict(cfg),
            },
        )

    model.train()
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch shapes: pick the fastest kernels
    loss_acc = torch.zeros((), device=dev)  # summed on the device: no sync every step
    loss_fn = LOSSES[cfg.loss]
    while step < cfg.steps:
        lr_now = learning_rate(cfg, step)
        for group in opt.param_groups:
            group["lr"] = lr_now
        lr_b, hr_b = sampler.batch(cfg.batch)
        lr_b = lr_b.to(dev, non_blocking=True)
        hr_b = hr_b.to(dev, non_blocking=True)
        loss = loss_fn(model(lr_b), hr_b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        loss_acc += loss.detach()
        loss_n += 1
        out_of_time = time_limit is not None and time.monotonic() - start > time_limit
        validating = step % cfg.val_every == 0 or step == cfg.steps or out_of_time
        if step % 50 == 0 or validating:
            loss_sum = loss_acc.item()
            if writer:
                writer.add_scalar(f"train/{cfg.loss}", loss_sum / loss_n, step)
            bar.set_postfix(
                loss=f"{loss_sum / loss_n:.3f}", psnr=f"{last_psnr:.2f}", lr=f"{lr_now:.1e}"
            )
        bar.update(1)
        if validating:
            validate()
            loss_acc.zero_()
            loss_sum, loss_n = 0.0, 0
        if out_of_time:
            break
    bar.close()
    if writer:
        writer.close()
    return TrainResult(best_info, step, history)
