"""The registry of model families (the way timm registers models): each family is one module
that declares its torch-free config, builds its torch network and says how it exports to ONNX.

The weights registry, both engines, export, training and the CLI ask the family of a config (or
of a stored architecture dict) instead of naming a network; a file that records no family is EDSR.
"""

# The built-in families register themselves on import.
from . import edsr, fast, plain  # noqa: E402, F401, I001
from .family import (
    LEGACY_FAMILY,
    Family,
    ModelConfig,
    config_from_dict,
    create_model,
    families,
    family_of,
    get_family,
    list_families,
    register_family,
)

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


def __getattr__(name: str):
    if name == "RGB_MEAN":  # srcodec 0.1 exported it here; it is the skip networks' (torch)
        from .skip import RGB_MEAN

        return RGB_MEAN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
