"""A model family and the registry of families (the way timm registers models): ``Family``,
``ModelConfig``, ``register_family``, ``get_family`` and ``create_model``, the one door in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from ..compat import renamed
from ..errors import ModelError
from ..plugins import FAMILIES, register_plugins

if TYPE_CHECKING:
    from torch import nn

#: The family of weights files and ONNX exports written before families were recorded.
LEGACY_FAMILY = "edsr"

__all__ = [
    "LEGACY_FAMILY",
    "Family",
    "ModelConfig",
    "config_from_dict",
    "create_model",
    "families",
    "family_of",
    "get_family",
    "list_families",
    "register_family",
]


class ModelConfig:
    """What every family's config dataclass (frozen, torch-free) provides: its family's name,
    the scales it supports, a stable architecture name, the receptive radius that tiling needs,
    and a JSON-safe dict (the family included) that the model card and ONNX metadata store."""

    family: ClassVar[str]
    #: The scales (output / input size) this family can be built at.
    scales: ClassVar[tuple[int, ...]]
    scale: int

    @property
    def sees_plate(self) -> bool:
        """The network is given a fixed camera's scene plate beside each frame (a camera
        profile's, engines/plate.py)."""
        return bool(getattr(self, "plate", False))

    @property
    def plate_weights(self) -> tuple[str, ...]:
        """Prefixes of the state-dict names that take the scene plate in (none for a network
        that does not see one): tuning only the end of such a network tunes them too."""
        return ()

    @property
    def input_channels(self) -> int:
        """Channels of the network's input: RGB, or RGB and a scene plate's RGB (6)."""
        return 6 if self.sees_plate else 3

    def _check_scale(self) -> None:
        if self.scale not in self.scales:
            allowed = " or ".join(f"x{s}" for s in self.scales)
            raise ValueError(
                f"the {self.family} family supports {allowed} models, not scale {self.scale}"
            )

    @property
    def name(self) -> str:
        """Stable architecture name, e.g. ``edsr_x2_r16f64s``."""
        raise NotImplementedError

    @property
    def receptive_radius(self) -> int:
        """Low-resolution pixels on each side that influence one output pixel (for tiling)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"family": self.family, **asdict(self)}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict) -> Any:
        """The config stored as ``data`` (keys of other families or versions are ignored)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})  # type: ignore[arg-type]


def _skip_exportable(model: nn.Module) -> nn.Module:
    # The default: the network as it is, its shared global skip (skip.py) in its ONNX form.
    from .skip import exportable

    return exportable(model)


@dataclass(frozen=True)
class Family:
    """A model family: its name, its config class, how its torch network is built from a
    config (torch imported there, not at import), the module that ``torch.onnx.export``
    traces (the network itself, or an equivalent that ONNX Runtime runs faster), and, where
    the family can, how a network of a config starts from a trained network of another family
    (a student from its teacher: ``adopt(teacher, config)``) and how a trained x1 network starts
    to see a fixed camera's scene plate beside each frame (``with_plate(network)``: a camera
    profile's, engines/plate.py)."""

    name: str
    config: type
    build: Callable[[Any], nn.Module]
    exportable: Callable[[nn.Module], nn.Module] = _skip_exportable
    adopt: Callable[[nn.Module, Any], nn.Module] | None = None
    with_plate: Callable[[nn.Module], nn.Module] | None = None


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add ``family`` to the registry (its config's ``family`` must be its name)."""
    if family.config.family != family.name:
        raise ValueError(f"family {family.name!r} has a config of {family.config.family!r}")
    if family.name in _FAMILIES and _FAMILIES[family.name] is not family:
        raise ValueError(f"model family {family.name!r} is already registered")
    _FAMILIES[family.name] = family
    return family


def list_families() -> list[str]:
    """The names of the registered families (built-in and from plug-ins), sorted."""
    _load_plugins()
    return sorted(_FAMILIES)


families = renamed(list_families, "srcodec.families")


def get_family(name: str) -> Family:
    """The family called ``name``; an unknown name is a ``ModelError``."""
    if name not in _FAMILIES:
        _load_plugins()
    try:
        return _FAMILIES[name]
    except KeyError:
        known = ", ".join(list_families())
        raise ModelError(f"unknown model family {name!r} (known: {known})") from None


def family_of(config: ModelConfig | dict) -> Family:
    """The family of a config, or of a stored architecture dict (none recorded: EDSR)."""
    if isinstance(config, dict):
        return get_family(str(config.get("family", LEGACY_FAMILY)))
    return get_family(config.family)


def config_from_dict(data: dict) -> ModelConfig:
    """Rebuild a config from its stored dict, in its recorded family."""
    return family_of(data).config.from_dict(data)


def create_model(family: str | ModelConfig, **kwargs: Any) -> nn.Module:
    """The one door in: a torch network from a config, or from a family's name and config
    fields (``create_model("plain", scale=1)``), with fresh weights."""
    if isinstance(family, str):
        config = get_family(family).config(**kwargs)
    elif kwargs:
        raise TypeError("create_model: give config fields with a family name, not a config")
    else:
        config = family
    return family_of(config).build(config)


def _load_plugins() -> None:
    """Register the families other packages declare in the entry-point group
    ``srcodec.families``; one that is not a ``Family``, or whose name is taken, is skipped with
    a warning."""
    register_plugins(FAMILIES, "model family", _plugin_problem, register_family)


def _plugin_problem(family: object) -> str | None:
    if not isinstance(family, Family):
        return "it is not a srcodec.models.Family"
    if family.name in _FAMILIES and _FAMILIES[family.name] is not family:
        return f"model family {family.name!r} is already registered"
    return None
