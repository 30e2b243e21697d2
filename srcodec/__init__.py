"""srcodec: archive camera frames at half resolution, restore them with a super-resolution network
(EDSR x2 bundled; model families in srcodec.models).

srcodec.encode("frames/", "archive.src")
for name, frame in srcodec.decode("archive.src"): ...
srcodec.open("archive.src")[0]
"""

from . import _aliases
from ._version import __version__
from .archive import (
    Archive,
    DecodeSummary,
    EncodeSummary,
    FrameNotFoundError,
    Header,
    LossySummary,
    RecoverReport,
    VerifyReport,
    append,
    decode,
    decode_to_folder,
    encode,
    encode_lossy,
    open,
    recover,
    verify,
)
from .engines.tiling import TiledRestorer
from .errors import (
    CorruptError,
    DamagedArchiveError,
    DataError,
    FormatError,
    FrameError,
    ModelError,
    SrcodecError,
)
from .lowres import LowresCodec, available_codecs, get_codec, register_codec
from .metrics import psnr
from .models import create_model, families, get_family
from .models.edsr import EDSRConfig
from .models.store import ModelInfo, list_models, load_model, resolve, save_model
from .resample import downscale, upscale

_aliases.install()

# Imported on first use: torch-backed names, so that decoding with onnxruntime needs no torch,
# and the engine chooser, so that reading, verifying and recovering archives load no engine.
_LAZY = {
    "AdaptConfig": "training.adaptconfig",
    "EDSR": "models.edsr",
    "Restorer": "engines.torchengine",
    "TrainConfig": "training.config",
    "make_restorer": "engines.choose",
    "train": "training.trainer",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AdaptConfig",
    "EDSR",
    "Archive",
    "CorruptError",
    "DamagedArchiveError",
    "DataError",
    "DecodeSummary",
    "EDSRConfig",
    "EncodeSummary",
    "FormatError",
    "FrameError",
    "FrameNotFoundError",
    "Header",
    "LossySummary",
    "LowresCodec",
    "ModelError",
    "ModelInfo",
    "RecoverReport",
    "Restorer",
    "SrcodecError",
    "TiledRestorer",
    "TrainConfig",
    "VerifyReport",
    "__version__",
    "append",
    "available_codecs",
    "create_model",
    "decode",
    "decode_to_folder",
    "downscale",
    "encode",
    "encode_lossy",
    "families",
    "get_codec",
    "get_family",
    "list_models",
    "load_model",
    "make_restorer",
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
