"""Choosing a restoration engine: ``make_restorer`` runs a model with ONNX Runtime (its exported
file) or with PyTorch, by device, precision and what is installed; tiling.py is shared by both.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError, SrcodecError, SrcodecWarning
from ..models.store import PRECISIONS as ONNX_PRECISIONS
from ..models.store import ModelInfo, find_onnx, onnx_name
from .plate import PlateRestorer, read_plate
from .tiling import DEFAULT_TILE, TiledRestorer

if TYPE_CHECKING:
    from ..models.update import ModelUpdate
    from .torchengine import Restorer, pick_device  # noqa: F401

ENGINES = ("auto", "torch", "onnx")
#: Half precisions run by torch on a CUDA GPU only.
HALF_PRECISIONS = ("fp16", "bf16")
#: fp32 everywhere; int8: the quantized ONNX export (CPU); fp16/bf16: torch on a CUDA GPU.
PRECISIONS = (*ONNX_PRECISIONS, *HALF_PRECISIONS)

__all__ = ["DEFAULT_TILE", "ENGINES", "PRECISIONS", "Restorer", "TiledRestorer", "make_restorer"]


def __getattr__(name: str):
    # The torch engine is imported on first use only: decoding with onnxruntime loads no torch.
    if name in ("Restorer", "pick_device"):
        from . import torchengine

        return getattr(torchengine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _cuda_available() -> bool:
    if not installed("torch"):
        return False
    nvidia = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")  # +WSL2
    if sys.platform.startswith("linux") and not any(os.path.exists(p) for p in nvidia):
        return False  # no NVIDIA driver: no need to load torch to know there is no GPU
    import torch

    return torch.cuda.is_available()


def _export_hint(info: ModelInfo, precision: str) -> str:
    """The command that writes the missing export, as it can be run: a model given as a file
    is named by its path (its id alone would not be found), an installed one by its id."""
    flag = " --int8" if precision == "int8" else ""
    model = shlex.quote(str(info.path)) if info.source == "given" else info.short_id
    return f"srcodec models --export-onnx {model}{flag}"


def make_restorer(
    info: ModelInfo,
    device: str = "auto",
    engine: str = "auto",
    precision: str = "fp32",
    *,
    tile: int | None = None,
    threads: int | None = None,
    self_ensemble: bool = False,
    expected_sha256: str | None = None,
    update: ModelUpdate | None = None,
) -> TiledRestorer:
    """A restorer for the model ``info`` (from the registry), blended towards the scene plate
    its weights file carries, if any (a camera profile's: ``plate.PlateRestorer``).

    ``engine``: ``onnx`` runs the model's ONNX export with onnxruntime on the CPU; ``torch``
    runs the weights with PyTorch (CPU or CUDA); ``auto`` takes torch on a CUDA GPU, else the
    ONNX export when onnxruntime and the export are there (faster, same output), else torch.
    ``precision="int8"`` (onnx engine only) runs the quantized export: faster, not exact.
    ``expected_sha256`` (the archive's) is checked against the weights file, or against the id
    embedded in the ONNX file. ``threads``: CPU threads (for torch, set process-wide).
    ``precision="fp16"``/``"bf16"`` and ``self_ensemble`` (the mean over the 8 flips and
    rotations, 8 times the work) run on the torch engine. ``update`` (an archive's, update.py)
    is added to the weights on every engine; the int8 export cannot take it, so int8 falls back
    to the fp32 export, with a warning.
    """
    if engine not in ENGINES:
        raise SrcodecError(f"unknown engine {engine!r} (use {', '.join(ENGINES)})")
    if precision not in PRECISIONS:
        raise SrcodecError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
    if precision == "int8" and self_ensemble:
        raise SrcodecError(
            "int8 and the self-ensemble do not go together: the self-ensemble runs in fp32, "
            "fp16 or bf16; drop one of them"
        )
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise SrcodecError(f"unknown device {device!r} (use auto, cpu or cuda)")
    have_torch, have_ort = installed("torch"), installed("onnxruntime")
    if not (have_torch or have_ort):
        raise SrcodecError(
            "no restoration engine installed: pip install 'srcodec[onnx]' (onnxruntime, CPU) "
            "or 'srcodec[torch]' (PyTorch, CPU or GPU)"
        )
    if update is not None and precision == "int8":
        warnings.warn(
            "the archive carries a model update, which the int8 export cannot take: "
            "restoring with the fp32 export instead",
            SrcodecWarning,
            stacklevel=2,
        )
        precision = "fp32"
    kwargs = {"tile": tile} if tile else {}
    gpu = device.startswith("cuda") or (device == "auto" and engine != "onnx" and _cuda_available())
    onnx_file = find_onnx(info, precision) if precision in ONNX_PRECISIONS else None
    torch_only = precision in HALF_PRECISIONS or self_ensemble
    if engine == "auto":
        if torch_only:
            engine = "torch"
        elif precision == "int8" or (not gpu and have_ort and onnx_file) or not have_torch:
            engine = "onnx"
        else:
            engine = "torch"
    if engine == "onnx":
        if torch_only:
            raise SrcodecError("fp16, bf16 and the self-ensemble run on the torch engine")
        if device.startswith("cuda"):
            raise SrcodecError("the onnx engine runs on the CPU; use --engine torch for CUDA")
        if not have_ort:
            raise SrcodecError("the onnx engine needs onnxruntime: pip install 'srcodec[onnx]'")
        if onnx_file is None:
            fallback = "" if have_torch or precision == "int8" else " or install torch"
            raise ModelError(
                f"model {info.short_id} has no {precision} ONNX export "
                f"({onnx_name(info, precision)}); make it with '{_export_hint(info, precision)}'"
                f" (needs torch){fallback}"
            )
        from .ortengine import OrtRestorer

        model_id = f"{info.name}@{(expected_sha256 or info.sha256).lower()}"
        return _with_plate(
            info, OrtRestorer(onnx_file, model_id, threads=threads, update=update, **kwargs)
        )
    if precision == "int8":
        raise SrcodecError("the torch engine has no int8 path; int8 needs --engine onnx")
    if not have_torch:
        raise SrcodecError("the torch engine needs PyTorch: pip install 'srcodec[torch]'")
    import torch

    from ..models.store import load_weights
    from .torchengine import Restorer

    if threads:
        torch.set_num_threads(threads)

    model, _ = load_weights(info.path, expected_sha256 or info.sha256, info.source)
    if update is not None:
        state = update.apply({k: v.numpy() for k, v in model.state_dict().items()})
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    restorer = Restorer(model, device, precision=precision, self_ensemble=self_ensemble, **kwargs)
    return _with_plate(info, restorer)


def _with_plate(info: ModelInfo, restorer: TiledRestorer) -> TiledRestorer:
    """``restorer``, blended towards the scene plate ``info``'s weights file carries, if any,
    and given it beside each frame when its network sees one."""
    found = read_plate(info.path) if info.path and Path(info.path).is_file() else None
    feed = info.config.sees_plate
    if found is None:
        if feed:
            raise ModelError(
                f"{info.short_id} sees a scene plate beside each frame, and its weights file "
                "carries none"
            )
        return restorer
    return PlateRestorer(restorer, *found, feed=feed)
