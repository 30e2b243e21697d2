"""srcodec: archive camera frames at half resolution, restore them with an EDSR x2 network."""

from .errors import CorruptError, DataError, FormatError, FrameError, ModelError, SrcodecError
from .metrics import psnr
from .model import EDSR, EDSRConfig
from .registry import ModelInfo, list_models, load_model, resolve, save_model
from .resample import downscale, upscale

__all__ = [
    "EDSR",
    "EDSRConfig",
    "ModelInfo",
    "CorruptError",
    "DataError",
    "FormatError",
    "FrameError",
    "ModelError",
    "SrcodecError",
    "downscale",
    "upscale",
    "psnr",
    "list_models",
    "load_model",
    "resolve",
    "save_model",
]
