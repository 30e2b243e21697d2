"""What defines a training run, torch-free: ``TrainConfig`` (recorded in the model card, and the
one list of defaults and help texts from which the ``train`` command builds its options) and the
learning-rate schedules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from ..models import ModelConfig, get_family, list_families
from .bf16 import PRECISIONS

#: Losses by name (defined in ``training.losses``). L1 trains faster and is EDSR's choice; L2
#: is what PSNR measures (it restores the conditional mean, softer where the detail is
#: uncertain), suited to a last fine-tune; L2+Y adds the luma's squared error, so that PSNR on
#: Y counts as much as on RGB.
LOSSES = ("l1", "l2", "l2y")
SCHEDULES = ("step", "cosine")


def _opt(help: str, **more: object) -> dict:
    """A field's metadata: its help text, and for the command line its ``type`` (when the
    default does not say it), ``choices`` or float ``range``; ``arch`` marks the fields that
    are the model's architecture."""
    return {"help": help, **more}


def _arch(help: str, kind: type) -> object:
    # None: the family's own default, so that each family's defaults stay in its config.
    meta = _opt(f"{help}  [default: the family's]", type=kind, arch=True)
    return field(default=None, metadata=meta)


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in the model card). Architecture
    fields left at None take the family's default; ``model_config()`` resolves them."""

    family: str = field(
        default="edsr", metadata=_opt("Model family.", choices=tuple(list_families()), arch=True)
    )
    blocks: int | None = _arch("Residual blocks (edsr) or conv layers (plain).", int)
    features: int | None = _arch("Feature channels.", int)
    res_scale: float | None = _arch("Residual scaling (edsr).", float)
    scale: int | None = _arch(
        "Scale: 2 (super-resolution) or 1 (restoration only, with --degrade).", int
    )
    bicubic_skip: bool | None = _arch(
        "Add the bicubic upsample of the input to the output (learn the residual).", bool
    )
    patch: int = field(default=48, metadata=_opt("Low-resolution patch size."))
    batch: int = field(default=16, metadata=_opt("Patches per step."))
    steps: int = field(default=300_000, metadata=_opt("Total training steps."))
    lr: float = field(default=1e-4, metadata=_opt("Adam learning rate."))
    decay_every: int = field(
        default=200_000,
        metadata=_opt("Multiply the learning rate by --decay-gamma every this many steps."),
    )
    decay_gamma: float = field(
        default=0.5, metadata=_opt("Learning-rate factor at each decay (--schedule step).")
    )
    schedule: str = field(
        default="step",
        metadata=_opt(
            "step: times --decay-gamma every --decay-every steps; cosine: anneal to 0 by --steps.",
            choices=SCHEDULES,
        ),
    )
    detail_sampling: float = field(
        default=0.0,
        metadata=_opt(
            "Fraction of patches placed where bicubic misses the most detail (edges, texture).",
            range=(0.0, 1.0),
        ),
    )
    loss: str = field(
        default="l1",
        metadata=_opt(
            "l1 (EDSR's, trains faster), l2 (what PSNR measures: for a last fine-tune) or l2y "
            "(l2 plus the luma's squared error, twice: PSNR on Y counts as on RGB).",
            choices=tuple(LOSSES),
        ),
    )
    teacher: str = field(
        default="",
        metadata=_opt(
            "Distil: also learn this model's (id or weights file) restorations of the "
            "training frames."
        ),
    )
    teacher_weight: float = field(
        default=0.5,
        metadata=_opt(
            "With --teacher: share of the loss on the teacher's output (the rest on HR).",
            range=(0.0, 1.0),
        ),
    )
    degrade: str = field(
        default="",
        metadata=_opt(
            "Codec in the loop: train on frames coded by a lossy codec (decoded -> original), "
            "e.g. hevc:crf=22-38,copies=3 (srcodec.training.degrade). Empty: clean low-resolution "
            "frames."
        ),
    )
    precision: str = field(
        default="auto",
        metadata=_opt(
            "Forward pass in bf16 (auto: on CPUs with AVX512-BF16 or AMX, about twice the "
            "steps; fp32 elsewhere and on GPUs) or fp32; weights and optimizer stay fp32.",
            choices=PRECISIONS,
        ),
    )
    val_every: int = field(default=1000, metadata=_opt("Validate every N steps."))
    seed: int = field(default=0, metadata=_opt("Random seed (initial weights and patches)."))
    name: str = field(
        default="", metadata=_opt("Model name recorded in its id (default: architecture).")
    )

    def __post_init__(self) -> None:
        learning_rate(self, 0)  # an unknown schedule fails here, not after the data has loaded
        if not 0.0 <= self.detail_sampling <= 1.0:
            raise ValueError(f"detail_sampling must be in [0, 1], got {self.detail_sampling}")
        if not 0.0 <= self.teacher_weight <= 1.0:
            raise ValueError(f"teacher_weight must be in [0, 1], got {self.teacher_weight}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r} (use {' or '.join(LOSSES)})")
        self.model_config()  # an unknown family or a field it lacks fails here too
        if self.degrade:
            from .degrade import parse_degradation

            parse_degradation(self.degrade)  # a bad spec fails before the data has loaded

    def model_config(self) -> ModelConfig:
        """The architecture this run trains: the family's config with the fields set here."""
        family = get_family(self.family)
        own = {f.name for f in fields(family.config)}
        given = {k: getattr(self, k) for k in ARCH_FIELDS if k != "family"}
        given = {k: v for k, v in given.items() if v is not None}
        foreign = sorted(set(given) - own)
        if foreign:
            raise ValueError(f"the {self.family} family has no {', '.join(foreign)} option")
        return family.config(**given)


#: The TrainConfig fields that are the model's architecture.
ARCH_FIELDS = tuple(f.name for f in fields(TrainConfig) if f.metadata.get("arch"))


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """``step``: halved (``decay_gamma``) every ``decay_every`` steps, as in EDSR; ``cosine``:
    from ``lr`` down to zero over ``steps`` (suits a run whose length is fixed in advance)."""
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(step, cfg.steps) / max(1, cfg.steps)))
    if cfg.schedule == "step":
        return cfg.lr * cfg.decay_gamma ** (step // cfg.decay_every)
    raise ValueError(f"unknown learning-rate schedule {cfg.schedule!r} (use step or cosine)")
