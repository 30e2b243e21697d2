"""Adapting a model to one scene: fine-tune it on the frames being archived (or on one camera's
footage) within a time or step budget, and check it against the general model on held-back
frames. ``adapt_archive`` gives the compact update an archive carries (update.py), or none when
it does not pay for its bytes; ``adapt_camera`` writes a reusable full weights file.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize
from tqdm import tqdm

from ..engines.torchengine import Restorer
from ..errors import DataError, SrcodecError
from ..models.store import ModelInfo, load_weights, save_model
from ..models.update import ModelUpdate
from ..pixels import to_rgb
from ..resample import downscale
from .adaptconfig import AdaptConfig, AdaptResult, parse_duration
from .bf16 import autocast, use_bf16
from .losses import loss_function
from .trainer import Pair, PatchSampler, evaluate

__all__ = [
    "AdaptConfig",
    "AdaptResult",
    "adapt_archive",
    "adapt_camera",
    "lowrank_names",
    "not_tuned",
    "parse_duration",
    "sample",
    "split_later",
    "too_small",
    "tune_camera",
    "tuned_names",
]


def tuned_names(model: nn.Module, blocks: int | None) -> list[str]:
    """The state-dict names tuned: the last ``blocks`` residual blocks, the body conv (the last
    of ``body``), the upsampler, the tail and the weights that take a scene plate in, if any
    (every name when ``blocks`` is None)."""
    names = list(model.state_dict())
    if blocks is None:
        return names
    parts = [k.split(".") for k in names]
    body = sorted({int(p[1]) for p in parts if p[0] == "body" and p[1].isdigit()})
    if not body:
        raise SrcodecError("this model has no EDSR body to tune the end of; tune every layer")
    *residual, conv = body
    chosen = residual[len(residual) - blocks :] if blocks else []
    prefixes = tuple(f"body.{i}." for i in (*chosen, conv)) + ("upsample.", "tail.")
    prefixes += model.config.plate_weights  # they start at zero: untuned, the plate is unseen
    return [k for k in names if k.startswith(prefixes)]


def scene_pairs(
    frames: Sequence[tuple[str, np.ndarray]],
    lows: Sequence[np.ndarray] | None = None,
    scale: int = 2,
) -> list[Pair]:
    """(HR, LR) pairs: LR the ``srcodec.downscale`` of each frame, or ``lows[k]`` (the frames
    as the decoder receives them: a lossy archive's decoded frames), cropped so that HR is
    exactly ``scale`` times LR. A frame too small to give a low-resolution pixel (a 1x1 frame
    at x2) gives no pair."""
    pairs = []
    for k, (name, frame) in enumerate(frames):
        hr = to_rgb(frame)
        if lows is None:
            hr = hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]
            if hr.size:
                pairs.append(Pair(name, hr, downscale(hr, scale)))
            continue
        lr = to_rgb(lows[k])
        h, w = min(lr.shape[0], hr.shape[0] // scale), min(lr.shape[1], hr.shape[1] // scale)
        if h and w:
            pairs.append(Pair(name, hr[: h * scale, : w * scale], lr[:h, :w]))
    return pairs


def not_tuned(reason: str) -> AdaptResult:
    """The result of a run that could not start: nothing measured, the general model kept."""
    unmeasured = {k: math.nan for k in ("psnr_rgb", "psnr_y", "bicubic_rgb", "bicubic_y")}
    return AdaptResult(unmeasured, unmeasured, 0, 0.0, 0, [], reason=reason)


def too_small(frames: Sequence[tuple[str, np.ndarray]], pairs: list[Pair], scale: int) -> str:
    """Why ``pairs`` (made of ``frames``) cannot be tuned on and checked, or "": none at all,
    or a lone frame too narrow to cut into a part tuned on and a part held back."""
    if not frames:
        return "no frames to adapt the model to"
    if pairs and (len(pairs) > 1 or pairs[0].lr.shape[1] >= 2):
        return ""
    h, w = frames[0][1].shape[:2]
    return (
        f"{w}x{h} frames are too small to tune an x{scale} model on (it needs frames of at "
        f"least {scale}x{scale} px, {2 * scale} px wide for a lone frame)"
    )


def _split(pairs: list[Pair], held_back: int) -> tuple[list[Pair], list[Pair]]:
    """(tuned on, held back): every few frames held back, spread over the sequence; a lone
    frame is cut in two, its right half held back (cut on even pixels, keeping its real LR)."""
    if len(pairs) == 1:
        p = pairs[0]
        cut, scale = p.lr.shape[1] // 2, p.hr.shape[1] // p.lr.shape[1]
        return (
            [Pair(p.name, p.hr[:, : scale * cut], p.lr[:, :cut])],
            [Pair(p.name + " (right half)", p.hr[:, scale * cut :], p.lr[:, cut:])],
        )
    count = max(1, min(held_back, len(pairs) // 4))
    picks = {int(i) for i in np.linspace(0, len(pairs) - 1, count + 2)[1:-1].round()}
    return [p for i, p in enumerate(pairs) if i not in picks], [pairs[i] for i in sorted(picks)]


class _LowRankDelta(nn.Module):
    """A parametrization ``W -> W + B @ A`` of a conv weight (out x in x kh x kw): A is
    r x (in*kh*kw), B out x r and starts at zero, so tuning starts from the base model. A's
    scale (1/sqrt(r)) makes one Adam step move ``B @ A`` about as far as it moves a dense
    delta, so the dense learning rates carry over."""

    def __init__(self, weight: torch.Tensor, rank: int, generator: torch.Generator) -> None:
        super().__init__()
        fan_in = weight[0].numel()
        a = torch.randn(rank, fan_in, generator=generator) / math.sqrt(rank)
        self.a = nn.Parameter(a)
        self.b = nn.Parameter(torch.zeros(weight.shape[0], rank))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + (self.b @ self.a).view_as(weight)

    def factors(self, shape: torch.Size) -> tuple[np.ndarray, np.ndarray]:
        """(A shaped r x in x kh x kw, B), float32."""
        a = self.a.detach().reshape(-1, *shape[1:]).numpy().copy()
        return a, self.b.detach().numpy().copy()


def lowrank_names(model: nn.Module, names: list[str], rank: int) -> list[str]:
    """Which of ``names`` get a rank-``rank`` update: the conv weights whose two factors are
    smaller than the dense tensor (not the 3-channel tail at ranks near 3, for instance)."""
    if rank <= 0:
        return []
    state = model.state_dict()
    chosen = []
    for name in names:
        shape = state[name].shape
        if len(shape) == 4 and rank * (shape[0] + shape[1:].numel()) < shape.numel():
            chosen.append(name)
    return chosen


class _QuantisedDelta(nn.Module):
    """A parametrization ``W -> base + step * round((W - base) / step)`` (rounded to int8's
    range) with straight-through gradients: the weight as the update will store it."""

    def __init__(self, base: torch.Tensor, step: float) -> None:
        super().__init__()
        self.register_buffer("base", base.detach().clone())
        self.step = step

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        scaled = (weight - self.base) / self.step
        rounded = scaled.round().clamp(-127, 127)
        return self.base + (scaled + (rounded - scaled).detach()) * self.step


def _attach(model: nn.Module, names: list[str], rank: int, seed: int) -> dict[str, _LowRankDelta]:
    """Parametrize each of the weights ``names`` as base + low-rank delta (base frozen)."""
    modules = dict(model.named_modules())
    generator = torch.Generator().manual_seed(seed)
    deltas = {}
    for name in names:
        owner, _, attr = name.rpartition(".")
        delta = _LowRankDelta(getattr(modules[owner], attr), rank, generator)
        parametrize.register_parametrization(modules[owner], attr, delta)
        deltas[name] = delta
    return deltas


def _merge(model: nn.Module, deltas: dict[str, _LowRankDelta]) -> dict:
    """Fold the low-rank deltas into the weights (plain tensors again, names as before);
    returns their factors by weight name."""
    modules = dict(model.named_modules())
    factors = {}
    for name, delta in deltas.items():
        owner, _, attr = name.rpartition(".")
        factors[name] = delta.factors(getattr(modules[owner], attr).shape)
        parametrize.remove_parametrizations(modules[owner], attr, leave_parametrized=True)
    return factors


def _tune(
    model: nn.Module,
    pairs: list[Pair],
    params: list[nn.Parameter],
    cfg: AdaptConfig,
    progress: bool,
    on_qat: Callable[[], None] | None = None,
) -> tuple[int, float]:
    """Train ``params`` of ``model`` in place (``cfg.loss``, Adam); ``on_qat()`` is called
    once when the last ``cfg.qat`` of the budget begins. Returns (steps, seconds)."""
    small = min(min(p.lr.shape[:2]) for p in pairs)
    patch = min(cfg.patch, small)
    for param in model.parameters():
        param.requires_grad_(False)
    for param in params:
        param.requires_grad_(True)
    if not params:
        return 0, 0.0
    opt = torch.optim.Adam(params, lr=cfg.lr)
    bf16 = use_bf16(cfg.precision)
    loss_fn = loss_function(cfg.loss)
    sampler = PatchSampler(pairs, patch, np.random.default_rng(cfg.seed))
    torch.manual_seed(cfg.seed)
    by_steps = cfg.steps is not None
    total = cfg.steps if by_steps else round(cfg.seconds or 0)
    bar = tqdm(total=total, unit="step" if by_steps else "s", desc="adapt", disable=not progress)
    start, step = time.perf_counter(), 0
    model.train()
    try:
        while True:
            elapsed = time.perf_counter() - start
            if (cfg.steps is not None and step >= cfg.steps) or (
                cfg.seconds is not None and elapsed >= cfg.seconds
            ):
                break
            if on_qat is not None and cfg.progress(step, elapsed) >= 1 - cfg.qat:
                on_qat()
                on_qat = None
            for group in opt.param_groups:
                group["lr"] = cfg.rate(step, elapsed)
            lr, hr = sampler.batch(cfg.batch)
            with autocast(bf16):
                out = model(lr)
            loss = loss_fn(out.float(), hr)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if by_steps:
                bar.update(1)
            else:
                bar.update(min(total, round(time.perf_counter() - start)) - bar.n)
            bar.set_postfix(loss=f"{loss.item():.2f}", refresh=False)
    finally:
        bar.close()
        model.eval()
        for param in model.parameters():
            param.requires_grad_(False)
    return step, time.perf_counter() - start


#: Tensors with fewer values than this keep the finest int8 step: they cost little.
SMALL_TENSOR = 1024


def quantisation_steps(deltas: dict[str, np.ndarray], factor: float) -> dict[str, float]:
    """Each dense delta's step: ``factor`` times its RMS (tensors under ``SMALL_TENSOR``
    values: none, the finest)."""
    steps = {}
    for name, delta in deltas.items():
        if delta.size >= SMALL_TENSOR:
            steps[name] = factor * float(np.sqrt(np.mean(np.square(delta, dtype=np.float64))))
    return steps


def fit_update(
    base_id: str,
    deltas: dict[str, np.ndarray],
    factors: dict[str, tuple[np.ndarray, np.ndarray]],
    budget: int,
) -> tuple[ModelUpdate, bytes]:
    """The finest quantisation of ``deltas`` (a common step factor, ``quantisation_steps``)
    whose update is at most ``budget`` bytes, by bisection on the factor's logarithm; the
    coarsest tried if none fits (the share check then refuses it)."""

    def make(factor: float) -> tuple[ModelUpdate, bytes]:
        steps = quantisation_steps(deltas, factor) if factor else None
        update = ModelUpdate.quantise(base_id, deltas, factors, steps)
        return update, update.to_bytes()

    best = make(0.0)  # int8 over each tensor's range: the finest
    if len(best[1]) <= budget:
        return best
    lo, hi = math.log(0.05), math.log(16.0)
    best = make(math.exp(hi))
    if len(best[1]) > budget:
        return best
    for _ in range(7):  # to about 7 % in the factor
        mid = (lo + hi) / 2
        trial = make(math.exp(mid))
        if len(trial[1]) <= budget:
            best, hi = trial, mid
        else:
            lo = mid
    return best


def _check(model: nn.Module, pairs: list[Pair]) -> dict:
    """PSNR of ``model`` on the held-back pairs, as the torch engine restores them."""
    return evaluate(Restorer(model, "cpu"), pairs)


@contextmanager
def _threads(count: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class _Run:
    """A tuning run: the base and the tuned model (low-rank deltas merged), the tensors tuned
    densely, the low-rank factors (name -> (A, B)), the held-back pairs, steps and seconds."""

    base: nn.Module
    tuned: nn.Module
    dense: list[str]
    factors: dict[str, tuple[np.ndarray, np.ndarray]]
    check_pairs: list[Pair]
    steps: int
    seconds: float
    #: The steps the dense deltas were trained quantised at (empty: no such phase).
    steps_qat: dict[str, float] = field(default_factory=dict)


def _run(
    info: ModelInfo,
    pairs: list[Pair],
    cfg: AdaptConfig,
    progress: bool,
    budget: int | None = None,
) -> _Run:
    """Tune on ``pairs`` (some held back for the check, ``_split``): ``_run_pairs``."""
    train_pairs, check_pairs = _split(pairs, cfg.held_back)
    return _run_pairs(info, train_pairs, check_pairs, cfg, progress, budget)


def _run_pairs(
    info: ModelInfo,
    train_pairs: list[Pair],
    check_pairs: list[Pair],
    cfg: AdaptConfig,
    progress: bool,
    budget: int | None = None,
    start: Callable[[nn.Module], nn.Module] | None = None,
) -> _Run:
    """Load the base twice, tune one copy (dense tensors and low-rank deltas) on
    ``train_pairs``; with a ``budget`` (bytes of the update) and ``cfg.qat``, the end of the
    tuning sees the dense deltas quantised as ``fit_update`` would for that budget
    (``_Run.steps_qat``). ``start``: the network tuned is ``start(base)`` (one that sees a
    scene plate, whose pairs' inputs carry it)."""
    if not train_pairs or not check_pairs:
        raise DataError("no frames to adapt the model to")
    base, _ = load_weights(info.path, info.sha256, info.source)
    tuned, _ = load_weights(info.path, info.sha256, info.source)
    if start is not None:
        tuned = start(tuned)
    names = tuned_names(tuned, cfg.blocks)
    low = lowrank_names(tuned, names, cfg.rank)
    dense = [k for k in names if k not in low]
    lookup = dict(tuned.named_parameters())
    params = [lookup[k] for k in dense if k in lookup]
    deltas = _attach(tuned, low, cfg.rank, cfg.seed)
    params += [p for delta in deltas.values() for p in delta.parameters()]
    base_state = base.state_dict()
    qat_steps: dict[str, float] = {}
    modules = dict(tuned.named_modules())

    def start_qat() -> None:
        now = tuned.state_dict()
        current = {k: (now[k] - base_state[k]).numpy() for k in dense}
        factors_now = {k: d.factors(base_state[k].shape) for k, d in deltas.items()}
        update, _ = fit_update(info.id, current, factors_now, budget or 0)
        for name in dense:
            if name not in update.deltas or current[name].size < SMALL_TENSOR:
                continue  # all zero, or small: stored at the finest step
            step = update.deltas[name][1]
            owner, _, attr = name.rpartition(".")
            quant = _QuantisedDelta(base_state[name], step)
            parametrize.register_parametrization(modules[owner], attr, quant)
            qat_steps[name] = step

    on_qat = start_qat if budget and cfg.qat > 0 else None
    try:
        steps, seconds = _tune(tuned, train_pairs, params, cfg, progress, on_qat)
    finally:
        for name in qat_steps:
            owner, _, attr = name.rpartition(".")
            parametrize.remove_parametrizations(modules[owner], attr, leave_parametrized=True)
    factors = _merge(tuned, deltas)
    return _Run(base, tuned, dense, factors, check_pairs, steps, seconds, qat_steps)


def sample(count: int, most: int) -> list[int]:
    """Up to ``most`` positions of ``count`` frames, evenly spread (all of them when few)."""
    if count <= most:
        return list(range(count))
    return sorted({int(i) for i in np.linspace(0, count - 1, most).round()})


def adapt_archive(
    info: ModelInfo,
    frames: Sequence[tuple[str, np.ndarray]],
    cfg: AdaptConfig,
    *,
    archive_bytes: Callable[[], int] | None = None,
    progress: bool = False,
    lows: Sequence[np.ndarray] | None = None,
) -> AdaptResult:
    """Tune ``info``'s model on ``frames`` and make the archive's update: the tuned tensors'
    differences, int8 per tensor (quantised to fit ``cfg.target_share``). ``lows``: the
    model's input for each frame as the decoder will see it (a lossy archive's decoded
    frames; default the frame's ``downscale`` by the model's scale). The update is dropped
    (``result.update`` None, ``reason`` saying why) unless the model with the quantised
    update, as the decoder runs it, gains at least ``cfg.min_gain_db`` on the held-back frames
    and its bytes are at most ``cfg.max_share`` of the archive (``archive_bytes()``: the
    frames' estimated bytes). Frames too small to tune on, or that the general model already
    restores exactly, keep it too (``reason`` says so)."""
    pairs = scene_pairs(frames, lows, info.scale)
    if why := too_small(frames, pairs, info.scale):
        return not_tuned(why)
    estimate = budget = 0
    if cfg.target_share is not None and archive_bytes is not None:
        estimate = archive_bytes()
        budget = int(cfg.target_share / (1 - cfg.target_share) * estimate)
    with _threads(cfg.threads):
        run = _run(info, pairs, cfg, progress, budget)
        base_state, tuned_state = run.base.state_dict(), run.tuned.state_dict()
        deltas = {k: (tuned_state[k] - base_state[k]).numpy() for k in run.dense}
        if budget:
            # The steps trained at, if they still fit; else the finest that does.
            data = b""
            if run.steps_qat:
                update = ModelUpdate.quantise(info.id, deltas, run.factors, run.steps_qat)
                data = update.to_bytes()
            if not data or len(data) > budget:
                update, data = fit_update(info.id, deltas, run.factors, budget)
        else:
            update = ModelUpdate.quantise(info.id, deltas, run.factors)
            data = update.to_bytes()
        applied = update.apply({k: v.numpy() for k, v in base_state.items()})
        tuned = run.tuned
        tuned.load_state_dict({k: torch.from_numpy(v) for k, v in applied.items()})
        result = AdaptResult(
            base=_check(run.base, run.check_pairs),
            tuned=_check(tuned, run.check_pairs) if update.names else {},
            steps=run.steps,
            seconds=run.seconds,
            parameters=update.parameters,
            held_back=[p.name for p in run.check_pairs],
        )
    if not update.names:
        result.tuned = result.base
        result.reason = "the budget allowed no tuning step"
        return result
    result.data = data
    if result.exact_already:
        result.reason = "the general model restores the held-back frames exactly already"
    elif result.gain_db < cfg.min_gain_db:
        result.reason = (
            f"it gains {result.gain_db:+.3f} dB on the held-back frames, less than the "
            f"{cfg.min_gain_db:.3f} dB required"
        )
    elif archive_bytes is not None:
        result.archive_estimate = estimate or archive_bytes()
        total = result.archive_estimate + result.update_bytes
        if result.update_bytes > cfg.max_share * total:
            result.reason = (
                f"its {result.update_bytes:,} bytes would be "
                f"{100 * result.update_bytes / total:.1f} % of the archive, more than "
                f"{100 * cfg.max_share:.0f} %"
            )
    if not result.reason:
        result.update, result.model = update, tuned
    return result


def frames_alone(pairs: list[Pair]) -> list[Pair]:
    """``pairs`` whose input is their frame alone: a scene plate given beside it (the channels
    after the frame's three, for a network that sees one) dropped."""
    return [replace(p, lr=p.lr[..., :3]) if p.lr.ndim == 3 and p.lr.shape[2] > 3 else p
            for p in pairs]  # fmt: skip


def split_later(
    count: int, held_back: int, share: float = 0.1, most: int | None = None
) -> tuple[list[int], list[int]]:
    """(tuned on, held back) positions of ``count`` frames in time order: up to ``held_back``
    frames spread over the last ``share`` of them (at least one), every frame before them
    tuned on (up to ``most``, evenly spread). The check then sees footage later than every
    frame tuned on, as a camera's future archives will be."""
    if count < 2:
        raise DataError(f"{count} frame(s): a camera model needs at least 2 (tuned, held back)")
    tail = min(count - 1, max(1, round(share * count)))
    cut = count - tail
    tuned = sample(cut, most or cut)
    return tuned, [cut + k for k in sample(tail, held_back)]


def adapt_camera(
    info: ModelInfo,
    frames: Sequence[tuple[str, np.ndarray]],
    output: str | os.PathLike,
    cfg: AdaptConfig,
    *,
    name: str,
    source: str = "",
    progress: bool = False,
) -> tuple[ModelInfo, AdaptResult]:
    """Tune ``info``'s model on one camera's ``frames`` (in time order: the last of them held
    back, ``split_later``) and write it to ``output`` as a full weights file named ``name``
    (``tune_camera``)."""
    pairs = scene_pairs(frames, None, info.scale)
    if why := too_small(frames, pairs, info.scale):
        raise DataError(why)
    tuned, held = split_later(len(pairs), cfg.held_back)
    card = {"data": source, "frames": len(frames)}
    return tune_camera(
        info, [pairs[k] for k in tuned], [pairs[k] for k in held], output, cfg,
        name=name, card=card, progress=progress,
    )  # fmt: skip


def tune_camera(
    info: ModelInfo,
    train_pairs: list[Pair],
    check_pairs: list[Pair],
    output: str | os.PathLike,
    cfg: AdaptConfig,
    *,
    name: str,
    card: dict | None = None,
    progress: bool = False,
    start: Callable[[nn.Module], nn.Module] | None = None,
) -> tuple[ModelInfo, AdaptResult]:
    """Tune ``info``'s model (or ``start(model)``: one that sees a scene plate, the pairs'
    inputs the frame and the plate) on ``train_pairs`` and write it to ``output`` as a full
    weights file named ``name``, whose card's ``adapted`` entry records the base model,
    ``card`` (the data) and the check on ``check_pairs``, where the base sees the frames alone.
    ``SrcodecError`` (nothing written) if it does not beat the base there: on the mean of the
    pairs, or, for pairs coded at several settings, at one setting at least."""
    with _threads(cfg.threads):
        run = _run_pairs(info, train_pairs, check_pairs, cfg, progress, start=start)
        state = run.tuned.state_dict()
        result = AdaptResult(
            base=_check(run.base, frames_alone(run.check_pairs)),
            tuned=_check(run.tuned, run.check_pairs),
            steps=run.steps,
            seconds=run.seconds,
            parameters=sum(state[k].numel() for k in run.dense)
            + sum(a.size + b.size for a, b in run.factors.values()),
            held_back=[p.name for p in run.check_pairs],
            model=run.tuned,
        )
    shown = ", ".join(result.held_back[:4]) + (", ..." if len(result.held_back) > 4 else "")
    if result.exact_already:
        raise SrcodecError(
            f"the general model restores the held-back frames ({shown}) exactly already: "
            f"nothing to tune; {output} not written"
        )
    if not result.best_gain_db > 0:  # lossy footage: kept if it gains at any setting
        where = " at any setting" if result.gains_by_setting() else ""
        raise SrcodecError(
            f"the tuned model does not gain on the held-back frames ({shown}){where} "
            f"({result.best_gain_db:+.2f} dB at best); {output} not written (a longer budget "
            "may help)"
        )
    full = {
        "adapted": {
            "base_model_id": info.id,
            **(card or {}),
            "config": asdict(cfg),
            **result.summary(),
        }
    }
    return save_model(run.tuned, Path(output), name, full), result
