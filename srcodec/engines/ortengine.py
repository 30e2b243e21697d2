"""The ONNX Runtime restoration engine: a model's ONNX export (fp32, or int8 quantized) run by
onnxruntime on the CPU, without torch, with the batching and tiling of tiling.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ModelError, SrcodecError
from ..models import config_from_dict
from .tiling import CPU_BATCH_PIXELS, CPU_MEMORY_BUDGET, TiledRestorer, budget_tile, to_uint8

if TYPE_CHECKING:
    from ..models.update import ModelUpdate

#: ONNX metadata written by export.py: the format, the source model's id (``name@sha256`` of
#: its weights file), the precision and the architecture.
FORMAT = "srcodec-onnx/1"
META_FORMAT = "srcodec.format"
META_MODEL_ID = "srcodec.model_id"
META_PRECISION = "srcodec.precision"
META_ARCH = "srcodec.architecture"
#: Graph input and output: float32 RGB in [0, 255], NCHW, batch, height and width dynamic.
INPUT, OUTPUT = "lr", "sr"


def default_threads() -> int:
    """torch's thread count when torch is already loaded, else the CPU cores this process may
    use."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch.get_num_threads()
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def with_update(path: Path, update: ModelUpdate) -> bytes:
    """The ONNX model at ``path`` with ``update`` added to its initializers (named as the
    model's tensors, or ``net.`` + those in an export with the bicubic skip), serialised."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise SrcodecError(
            "the archive carries a model update; applying it on the onnx engine needs the onnx "
            "package: pip install 'srcodec[onnx]' (or use --engine torch)"
        ) from None
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf raises its own classes for a bad file
        raise ModelError(f"{path}: cannot load this ONNX model ({exc})") from None
    inits = {t.name: t for t in proto.graph.initializer}
    prefix = "net." if all("net." + n in inits for n in update.names) else ""
    names = [prefix + n for n in update.names]
    state = {k: numpy_helper.to_array(inits[k]) for k in names if k in inits}
    for key, value in update.apply(state, prefix).items():
        inits[key].CopyFrom(numpy_helper.from_array(value, key))
    return proto.SerializeToString()


def _short(model_id: str) -> str:
    name, _, sha = model_id.partition("@")
    return f"{name}@{sha[:12]}"


class OrtRestorer(TiledRestorer):
    """An exported model in an onnxruntime session, ready to restore batches of frames.

    ``model_id``, when given, must be the id embedded in the file: an export of another model
    (or of an older version of the weights) is refused rather than used. Without ``tile``, tiles
    are as large as ``CPU_MEMORY_BUDGET`` allows (``tiling.budget_tile``), so a frame of any size
    decodes in bounded memory. ``update`` (an archive's) is added to the graph's initializers in
    memory before the session is made.
    """

    engine = "onnx"
    batch_pixels = CPU_BATCH_PIXELS

    def __init__(
        self,
        path: str | os.PathLike,
        model_id: str | None = None,
        tile: int | None = None,
        threads: int | None = None,
        update: ModelUpdate | None = None,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise SrcodecError(
                "the onnx engine needs onnxruntime: pip install 'srcodec[onnx]'"
            ) from None
        self.path = Path(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # The arena grows by doubling and never gives memory back: a 512 px tile took 1.8 GB
        # in it against 1.0 GB from malloc, at the same speed (docs/engines.md).
        opts.enable_cpu_mem_arena = False
        source = str(self.path) if update is None else with_update(self.path, update)
        try:
            self.session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own classes for every failure
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"{self.path}: cannot load this ONNX model ({first})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get(META_FORMAT) != FORMAT:
            raise ModelError(f"{self.path}: not an srcodec ONNX export (no {FORMAT} metadata)")
        self.model_id = meta.get(META_MODEL_ID, "")
        if model_id and self.model_id != model_id:
            raise ModelError(
                f"{self.path} was exported from model {_short(self.model_id)}, not "
                f"{_short(model_id)}; export it again (srcodec models --export-onnx)"
            )
        try:
            self.config = config_from_dict(json.loads(meta[META_ARCH]))
        except (KeyError, ValueError, TypeError, AttributeError, ModelError) as exc:
            raise ModelError(f"{self.path}: bad architecture metadata ({exc})") from None
        self.precision = meta.get(META_PRECISION, "fp32")
        self.threads = opts.intra_op_num_threads
        margin = self.config.receptive_radius
        tile = tile or budget_tile(CPU_MEMORY_BUDGET, self.config.features, margin)
        super().__init__(self.config.scale, margin, tile)

    def forward_float(self, x: np.ndarray) -> np.ndarray:
        """float32 NCHW in [0, 255] -> the network's float output, unclamped."""
        return self.session.run([OUTPUT], {INPUT: np.ascontiguousarray(x, np.float32)})[0]

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """uint8 NxHxWx3 -> uint8 Nx(sH)x(sW)x3 (s: the scale)."""
        return to_uint8(self.forward_float(batch.transpose(0, 3, 1, 2)))
