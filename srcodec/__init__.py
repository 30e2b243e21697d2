"""srcodec: archive camera frames at half resolution, restore them with an EDSR x2 network.

srcodec.encode("frames/", "archive.src")
for name, frame in srcodec.decode("archive.src"): ...
srcodec.open("archive.src")[0]
"""

from .codec import Archive, EncodeSummary, append, decode, decode_to_folder, encode, open
from .container import FrameNotFoundError
from .engine import Restorer
from .errors import CorruptError, DataError, FormatError, FrameError, ModelError, SrcodecError
from .lowres import LowresCodec, available_codecs, get_codec, register_codec
from .metrics import psnr
from .model import EDSR, EDSRConfig
from .recovery import RecoverReport, VerifyReport, recover, verify
from .registry import ModelInfo, list_models, load_model, resolve, save_model
from .resample import downscale, upscale
from .training import TrainConfig, train

__all__ = [
    "EDSR",
    "Archive",
    "CorruptError",
    "DataError",
    "EDSRConfig",
    "EncodeSummary",
    "FormatError",
    "FrameError",
    "FrameNotFoundError",
    "LowresCodec",
    "ModelError",
    "ModelInfo",
    "RecoverReport",
    "Restorer",
    "SrcodecError",
    "TrainConfig",
    "VerifyReport",
    "append",
    "available_codecs",
    "decode",
    "decode_to_folder",
    "downscale",
    "encode",
    "get_codec",
    "list_models",
    "load_model",
    "open",
    "psnr",
    "recover",
    "register_codec",
    "resolve",
    "save_model",
    "train",
    "upscale",
    "verify",
]
