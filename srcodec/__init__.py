"""srcodec: archive camera frames at half resolution, restore them with a super-resolution network
(EDSR x2 bundled; model families in srcodec.models).

srcodec.encode("frames/", "archive.src")
for name, frame in srcodec.decode("archive.src"): ...
srcodec.open("archive.src")[0]
"""

from . import compat
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
from .lowres import LowresCodec, available_codecs, get_codec, list_codecs, register_codec
from .metrics import psnr
from .models import create_model, families, get_family, list_families, register_family
from .models.store import (
    ModelInfo,
    get_model,
    list_models,
    load_model,
    load_weights,
    register_model,
    resolve,
    save_model,
)
from .resample import downscale, upscale

compat.install()

# Imported on first use: torch-backed names, so that decoding with onnxruntime needs no torch,
# and the engine chooser, so that reading, verifying and recovering archives load no engine.
_LAZY = {
    "AdaptConfig": "training.adaptconfig",
    "Restorer": "engines.torchengine",
    "TrainConfig": "training.config",
    "make_restorer": "engines.choose",
    "train": "training.trainer",
    # Recording cameras (srcodec.recording): loaded when first asked for.
    "Recording": "recording.index",
    "RecordSummary": "recording.recorder",
    "cut": "recording.cut",
    "record": "recording.recorder",
    "transcode": "recording.transcode",
}


#: srcodec 0.1 exported one family's classes here; families are reached through the registry.
_DEPRECATED = {"EDSR": "models.edsr", "EDSRConfig": "models.edsr"}


def __getattr__(name: str):
    if name in _LAZY or name in _DEPRECATED:
        from importlib import import_module

        if name in _DEPRECATED:
            import warnings

            warnings.warn(
                f"srcodec.{name} is deprecated: use srcodec.create_model('edsr', ...) or "
                f"srcodec.{_DEPRECATED[name]}.{name}",
                DeprecationWarning,
                stacklevel=2,
            )
        module = _LAZY.get(name) or _DEPRECATED[name]
        return getattr(import_module(f".{module}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AdaptConfig",
    "Archive",
    "CorruptError",
    "DamagedArchiveError",
    "DataError",
    "DecodeSummary",
    "EncodeSummary",
    "FormatError",
    "FrameError",
    "FrameNotFoundError",
    "Header",
    "LossySummary",
    "LowresCodec",
    "ModelError",
    "ModelInfo",
    "RecordSummary",
    "Recording",
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
    "cut",
    "decode",
    "decode_to_folder",
    "downscale",
    "encode",
    "encode_lossy",
    "families",
    "get_codec",
    "get_family",
    "get_model",
    "list_codecs",
    "list_families",
    "list_models",
    "load_model",
    "load_weights",
    "make_restorer",
    "open",
    "psnr",
    "record",
    "recover",
    "register_codec",
    "register_family",
    "register_model",
    "resolve",
    "save_model",
    "train",
    "transcode",
    "upscale",
    "verify",
]
