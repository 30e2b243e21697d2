"""What defines an adaptation run, torch-free: ``AdaptConfig`` (the budget, the tensors tuned,
the rank of their updates), ``AdaptResult`` (what tuning gave) and the budget parser the
command line shares; adapt.py runs it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import SrcodecError
from ..models.update import ModelUpdate, update_sha256
from .bf16 import PRECISIONS
from .config import LOSSES

if TYPE_CHECKING:
    from torch import nn

__all__ = ["SCHEDULES", "AdaptConfig", "AdaptResult", "parse_duration", "split_setting"]


SCHEDULES = ("constant", "cosine")


@dataclass
class AdaptConfig:
    """How to tune. ``blocks``: how many of the last residual blocks are tuned, with the body
    conv, the upsampler and the tail (None: every tensor); ``rank``: the convolutions among
    them get low-rank updates of that rank (their biases and other tensors dense; 0: every
    tensor dense); the budget is ``seconds`` of training and/or ``steps`` (whichever ends
    first; both None is refused)."""

    #: Measured on the held-out vtest clip (docs/adaptation.md): every tensor dense, quantised
    #: to fit 3 % of the archive, beat low-rank updates (rank 8 on every conv: +1.71 dB for 2 %
    #: of the archive in 9 minutes; rank 16 +0.08 dB more for twice the bytes).
    blocks: int | None = None
    rank: int = 0
    seconds: float | None = 300.0
    steps: int | None = None
    patch: int = 48
    batch: int = 8
    #: 1e-3 beat 2e-4 (dense) and 2e-3 (rank 8) in equal time.
    lr: float = 1e-3
    #: "constant", or "cosine": from ``lr`` down to zero as the budget (time or steps,
    #: whichever is nearer its end) runs out.
    schedule: str = "cosine"
    #: The loss minimised (``training.config.LOSSES``).
    loss: str = "l1"
    #: Frames of the archive tuned on (evenly spaced when it has more).
    max_frames: int = 64
    #: Whole frames held back for the check (every few frames; a lone frame's right half).
    held_back: int = 4
    #: The update is kept only if it gains at least this on the held-back frames (dB RGB) ...
    min_gain_db: float = 0.1
    #: ... and its bytes are at most this share of the whole archive's.
    max_share: float = 0.05
    #: Dense deltas are quantised as finely as fits this share of the archive (its bytes
    #: estimated before the update is made; None: int8 over each tensor's full range).
    target_share: float | None = 0.03
    #: The last this fraction of the budget trains the dense deltas as they will be stored
    #: (quantised at the step ``target_share`` allows, straight-through rounding), so that the
    #: tuning makes up for the quantisation (needs ``target_share`` and the archive's size).
    qat: float = 0.25
    seed: int = 0
    #: "auto": bfloat16 autocast on a CPU with bf16 instructions (AVX512-BF16 or AMX: about
    #: 2.2 times the steps of fp32 on this project's 2-core AVX512-BF16 machine), else fp32;
    #: "fp32", "bf16". The check and the update are computed in fp32 either way.
    precision: str = "auto"
    #: torch CPU threads while tuning (None: torch's own choice); on a loaded machine one
    #: thread can be several times faster than two that wait on each other.
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.seconds is None and self.steps is None:
            raise ValueError("give a time or a step budget")
        if self.blocks is not None and self.blocks < 0:
            raise ValueError(f"blocks must be >= 0, got {self.blocks}")
        if self.rank < 0:
            raise ValueError(f"rank must be >= 0, got {self.rank}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r} (use {', '.join(PRECISIONS)})")
        if not 0 <= self.qat < 1:
            raise ValueError(f"qat must be in [0, 1), got {self.qat}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r} (use {', '.join(LOSSES)})")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r} (use {' or '.join(SCHEDULES)})")

    def progress(self, step: int, elapsed: float) -> float:
        """How much of the budget ``step`` steps and ``elapsed`` seconds are (0..1)."""
        done = max(
            step / self.steps if self.steps else 0.0,
            elapsed / self.seconds if self.seconds else 0.0,
        )
        return min(1.0, done)

    def rate(self, step: int, elapsed: float) -> float:
        """The learning rate after ``step`` steps and ``elapsed`` seconds."""
        if self.schedule == "constant":
            return self.lr
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * self.progress(step, elapsed)))


@dataclass
class AdaptResult:
    """What tuning gave: PSNR on the held-back frames of the general model, of the tuned one (as
    the decoder will run it) and of bicubic; the update (None when the general model is kept,
    ``reason`` saying why) and its bytes."""

    base: dict
    tuned: dict
    steps: int
    seconds: float
    parameters: int
    held_back: list[str]
    update: ModelUpdate | None = None
    data: bytes = b""
    reason: str = ""
    #: The frames' bytes as estimated for the share check (0 when not needed).
    archive_estimate: int = 0
    model: nn.Module | None = field(default=None, repr=False)

    @property
    def gain_db(self) -> float:
        return _gain(self.base["psnr_rgb"], self.tuned["psnr_rgb"])

    @property
    def gain_y_db(self) -> float:
        return _gain(self.base["psnr_y"], self.tuned["psnr_y"])

    @property
    def exact_already(self) -> bool:
        """Whether the general model restored the held-back frames exactly (flat frames):
        there is nothing to gain."""
        return math.isinf(self.base["psnr_rgb"])

    @property
    def update_bytes(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return update_sha256(self.data)

    def gains_by_setting(self) -> dict[str, tuple[float, float]]:
        """The gain (RGB, Y, dB) on the held-back frames coded at each codec setting, by
        setting, where the held-back pairs are named ``frame@setting`` (a lossy profile's); {}
        otherwise. A profile may gain at the low rates and lose at the high ones, where the
        encoder's candidate check then keeps the bundled model or the codec's own frames."""
        rows = list(zip(self.base.get("images", []), self.tuned.get("images", []), strict=True))
        groups: dict[str, list[tuple[dict, dict]]] = {}
        for base, tuned in rows:
            _, setting = split_setting(base["image"])
            if setting is not None:
                groups.setdefault(str(setting), []).append((base, tuned))
        return {
            setting: tuple(  # type: ignore[misc]
                _gain(
                    sum(b[key] for b, _ in pairs) / len(pairs),
                    sum(t[key] for _, t in pairs) / len(pairs),
                )
                for key in ("psnr_rgb", "psnr_y")
            )
            for setting, pairs in groups.items()
        }

    @property
    def best_gain_db(self) -> float:
        """The RGB gain at the setting where the tuned model gains most (``gains_by_setting``;
        the mean gain when the pairs have no settings). The encoder's candidate check uses a
        profile only where it beats the bundled model, so a profile that gains at one setting
        pays for footage coded there, whatever it loses at the others."""
        by_setting = self.gains_by_setting()
        return max((rgb for rgb, _ in by_setting.values()), default=self.gain_db)

    def summary(self) -> dict:
        """JSON-safe record of the run (kept in the archive header and the model card)."""
        keep = ("psnr_rgb", "psnr_y", "bicubic_rgb", "bicubic_y")
        by_setting = {s: [round(g, 3) for g in v] for s, v in self.gains_by_setting().items()}
        return {
            "steps": self.steps,
            "seconds": round(self.seconds, 1),
            "parameters": self.parameters,
            "held_back": self.held_back,
            "general": {k: round(self.base[k], 3) for k in keep},
            "tuned": {k: round(self.tuned[k], 3) for k in keep},
            **({"gain_by_setting": by_setting} if by_setting else {}),
            "update_bytes": self.update_bytes,
        }


def split_setting(name: str) -> tuple[str, int | None]:
    """A held-back pair's frame name and the codec setting its frame was coded at, from the
    pair's name (``frame@setting``, as ``archive.profile`` names a lossy profile's pairs);
    (``name``, None) when it has no such suffix (an "@" in a frame's own name is not one)."""
    frame, at, setting = name.rpartition("@")
    return (frame, int(setting)) if at and setting.isdigit() else (name, None)


def _gain(before: float, after: float) -> float:
    # Both identical (inf -> inf): no gain, rather than inf - inf = NaN.
    return 0.0 if before == after else after - before


def parse_duration(text: str) -> float:
    """Seconds in ``300``, ``300s``, ``5m`` or ``1h``."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    factor = units.get(text[-1:], None)
    try:
        value = float(text[:-1] if factor else text)
    except ValueError:
        raise SrcodecError(f"bad duration {text!r} (e.g. 300, 90s, 5m)") from None
    if value < 0 or not math.isfinite(value):
        raise SrcodecError(f"bad duration {text!r}: must be >= 0")
    return value * (factor or 1)
