"""The weights store: models stored as safetensors files whose metadata carries a JSON model
card, identified by ``name@sha256``, found among the bundled, user-installed and given files,
with their ONNX exports beside them. ``list_models``, ``get_model`` (a model's ``ModelInfo`` by
id or name), ``register_model`` (install a weights file) and ``load_model`` (a ready torch model
in one call). Torch is imported only to build or save a torch model.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load

from ..atomic import write_bytes
from ..compat import renamed
from ..errors import ModelError
from .family import ModelConfig, config_from_dict, create_model
from .update import compose_id, split_update_id

if TYPE_CHECKING:
    from torch import nn

CARD_KEY = "srcodec"
#: The tensor of a weights file that holds a camera profile's scene plate (its image file's
#: bytes, ``engines.plate``), not a weight of the network.
PLATE_KEY = "scene_plate"
CARD_FORMAT = "srcodec-weights/1"
#: Name of the bundled model that ``encode`` uses when no model is asked for.
DEFAULT_MODEL = "srcodec-photo-x2"
_MAX_HEADER = 16 << 20


@dataclass(frozen=True)
class ModelInfo:
    """One weights file: its card, architecture and identity."""

    name: str
    sha256: str
    path: Path
    config: ModelConfig
    card: dict = field(repr=False, compare=False)
    source: str = "given"

    @property
    def family(self) -> str:
        """The model family (``edsr`` for files written before families were recorded)."""
        return self.config.family

    @property
    def scale(self) -> int:
        """Output size over input size: 2 for super-resolution, 1 for restoration."""
        return self.config.scale

    @property
    def id(self) -> str:
        """The stable id archives record: ``name@sha256`` of the whole weights file."""
        return f"{self.name}@{self.sha256}"

    @property
    def short_id(self) -> str:
        return f"{self.name}@{self.sha256[:12]}"


def split_id(model_id: str) -> tuple[str, str | None]:
    """``name@sha`` -> (name, sha); a bare name -> (name, None)."""
    name, _, sha = model_id.partition("@")
    return name, (sha.lower() or None)


def short_id(model_id: str) -> str:
    """``name@sha`` with the hash cut to its first 12 hex digits, as messages show a model
    (and an archive's update, ``+update@`` its first 12 hex digits, when the id names one)."""
    base, update = split_update_id(model_id)
    name, sha = split_id(base)
    return f"{name}@{(sha or '')[:12]}" + ("" if update is None else compose_id("", update[:12]))


def _read_card(data: bytes, path: Path) -> dict:
    # safetensors' layout: u64 header length, JSON header whose "__metadata__" holds our card.
    if len(data) < 8:
        raise ModelError(f"{path}: not a safetensors weights file (truncated)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(_MAX_HEADER, len(data) - 8):
        raise ModelError(f"{path}: not a safetensors weights file (bad header length)")
    try:
        meta = json.loads(data[8 : 8 + n]).get("__metadata__", {}) or {}
        card = json.loads(meta[CARD_KEY])
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise ModelError(f"{path}: no srcodec model card in this weights file ({exc})") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ModelError(f"{path}: unknown model card format {card.get('format')!r}")
    return card


def _info_from_bytes(data: bytes, path: Path, source: str) -> ModelInfo:
    card = _read_card(data, path)
    try:
        config = config_from_dict(card["architecture"])
        name = str(card["name"])
    except (KeyError, TypeError, ValueError, AttributeError, ModelError) as exc:
        raise ModelError(f"{path}: invalid model card ({exc})") from None
    return ModelInfo(name, hashlib.sha256(data).hexdigest(), path, config, card, source)


_cache: dict[tuple[str, int, int], ModelInfo] = {}


def inspect_weights(path: str | os.PathLike, source: str = "given") -> ModelInfo:
    """Read a weights file's card and hash (cached by path, size and mtime)."""
    path = Path(path)
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _cache:
            _cache[key] = _info_from_bytes(path.read_bytes(), path, source)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read weights file ({exc.strerror})") from None
    info = _cache[key]
    return info if info.source == source else ModelInfo(**{**info.__dict__, "source": source})


def load_state(
    path: str | os.PathLike, expected_sha256: str | None = None, source: str = "given"
) -> tuple[dict[str, np.ndarray], ModelInfo]:
    """The tensors (numpy float32) and identity stored in ``path``, after checking its sha256
    when one is expected. Needs no torch."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read weights file ({exc.strerror})") from None
    info = _info_from_bytes(data, path, source)
    if expected_sha256 and info.sha256 != expected_sha256.lower():
        raise ModelError(
            f"{path}: sha256 {info.sha256[:12]}... does not match the expected "
            f"{expected_sha256[:12]}..."
        )
    try:
        state = st_load(data)
    except (SafetensorError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"{path}: corrupt weights ({first})") from None
    state.pop(PLATE_KEY, None)  # a camera profile's scene plate: not a network weight
    return state, info


def load_weights(
    path: str | os.PathLike, expected_sha256: str | None = None, source: str = "given"
) -> tuple[nn.Module, ModelInfo]:
    """Build the model stored in ``path`` (in its family), after checking its sha256 when one
    is expected; with its identity. (srcodec 0.1 called this ``load_model``.)"""
    import torch

    state, info = load_state(path, expected_sha256, source)
    try:
        model = create_model(info.config)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"{info.path}: corrupt or mismatched weights ({first})") from None
    return model.eval(), info


def save_model(
    model: nn.Module, path: str | os.PathLike, name: str, card: dict | None = None
) -> ModelInfo:
    """Write ``model`` as a safetensors file carrying its card (its architecture, family
    included); returns its identity."""
    import torch
    from safetensors.torch import save as st_save

    path = Path(path)
    full = {
        "format": CARD_FORMAT,
        "name": name,
        "architecture": model.config.to_dict(),
        **(card or {}),
    }
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()
    }
    data = st_save(state, metadata={CARD_KEY: json.dumps(full, sort_keys=True)})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data)
    return _info_from_bytes(data, path, "given")


def bundled_dir() -> Path:
    """Folder of the weights shipped inside the package (works for wheel and editable installs,
    and for a source checkout on ``PYTHONPATH``, where they sit in ``weights/`` beside it)."""
    try:
        return Path(str(resources.files("srcodec.weights")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "weights"


def user_dir() -> Path:
    """Folder of user-installed models: $SRCODEC_MODELS, else $XDG_DATA_HOME/srcodec/models."""
    if os.environ.get("SRCODEC_MODELS"):
        return Path(os.environ["SRCODEC_MODELS"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "srcodec" / "models"


def register_model(path: str | os.PathLike) -> ModelInfo:
    """Install a weights file: copy it (after checking it loads) into ``user_dir()`` under its
    short id, so archives that name it decode without ``--weights``."""
    try:
        _, info = load_weights(path)
    except ImportError:  # no torch: the tensors are still read and checked with numpy
        _, info = load_state(path)
    target = user_dir() / f"{info.name}-{info.sha256[:12]}.safetensors"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(target, Path(path).read_bytes())
    return inspect_weights(target, "user")


def list_models(extra: list[str | os.PathLike] | tuple = ()) -> list[ModelInfo]:
    """Every model found: given files first, then user-installed, then bundled."""
    found: list[ModelInfo] = [inspect_weights(p, "given") for p in extra]
    for folder, source in ((user_dir(), "user"), (bundled_dir(), "bundled")):
        if folder.is_dir():
            found += [inspect_weights(p, source) for p in sorted(folder.glob("*.safetensors"))]
    return found


def pick_model(model: str | None, weights: Iterable = ()) -> ModelInfo:
    """The model to encode for: ``model`` (id or name) found among installed models and
    ``weights`` files; without it, the single ``weights`` file given, else the bundled model."""
    weights = list(weights)
    if model is None and len(weights) == 1:
        return inspect_weights(weights[0])
    return get_model(model or DEFAULT_MODEL, weights)


def scale_problem(archive_scale: int, info: ModelInfo) -> str | None:
    """Why a model cannot restore an archive of ``archive_scale``, or None: the scale the
    archive's frames were reduced by must be the one the model restores."""
    if archive_scale != info.scale:
        return (
            f"the archive's frames are reduced x{archive_scale} but model {info.short_id} "
            f"restores x{info.scale}"
        )
    return None


def get_model(model: str, extra: list[str | os.PathLike] | tuple = ()) -> ModelInfo:
    """Find a model by id (``name@sha256``, a sha prefix of 8+ hex digits allowed) or by name,
    among the installed models and the weights files ``extra``."""
    name, sha = split_id(model)
    models = list_models(extra)
    hits = [m for m in models if m.name == name and (sha is None or m.sha256.startswith(sha))]
    if sha is not None and len(sha) < 8:
        raise ModelError(f"model id {model!r}: give at least 8 hex digits of its sha256")
    if not hits:
        known = ", ".join(sorted({m.short_id for m in models})) or "none"
        raise ModelError(
            f"unknown model {model!r} (installed: {known}); give its weights file with --weights"
        )
    if sha is None and len({m.sha256 for m in hits}) > 1:
        ids = ", ".join(m.short_id for m in hits)
        raise ModelError(f"model name {name!r} is ambiguous ({ids}); give the full id")
    return hits[0]


def load_model(
    model: str | os.PathLike | ModelInfo, weights: Iterable[str | os.PathLike] = ()
) -> nn.Module:
    """A ready torch model (eval mode) in one call: ``model`` is an id or name (found among the
    installed models and the weights files ``weights``), a weights file, or a ``ModelInfo``;
    its sha256 is checked. ``model.config`` says its family and scale."""
    if isinstance(model, ModelInfo):
        info = model
    elif Path(model).suffix == ".safetensors" or Path(model).is_file():
        info = inspect_weights(model)
    else:
        info = get_model(str(model), tuple(weights))
    return load_weights(info.path, info.sha256, info.source)[0]


resolve = renamed(get_model, "srcodec.resolve")
install_model = renamed(register_model, "srcodec.registry.install_model")


#: Precisions an ONNX export comes in; fp32 is the exact one.
PRECISIONS = ("fp32", "int8")


def onnx_name(info: ModelInfo, precision: str = "fp32") -> str:
    """File name of a model's ONNX export, e.g. ``srcodec-photo-x2-1dc0c8ad87a0.int8.onnx``."""
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r} (use {' or '.join(PRECISIONS)})")
    return f"{info.name}-{info.sha256[:12]}{'' if precision == 'fp32' else '.' + precision}.onnx"


def onnx_dirs(info: ModelInfo) -> list[Path]:
    """Where a model's ONNX exports are looked for: beside its weights file, then the user
    directory, then the bundled folder."""
    dirs: list[Path] = []
    for d in (info.path.parent, user_dir(), bundled_dir()):
        if d not in dirs:
            dirs.append(d)
    return dirs


def find_onnx(info: ModelInfo, precision: str = "fp32") -> Path | None:
    """The ONNX export of ``info`` in ``precision``, if one exists (its embedded model id is
    checked when it is loaded, by ortengine)."""
    name = onnx_name(info, precision)
    for d in onnx_dirs(info):
        if (d / name).is_file():
            return d / name
    return None
