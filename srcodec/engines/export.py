"""Exporting a model for the onnx engine: the fp32 ONNX graph traced from the torch model, and an
int8 one by onnxruntime's static QDQ quantization calibrated on real frames (resample.downscale).

Both files carry the source model's id (``name@sha256`` of its weights file) in their metadata,
so an archive's model id maps to exactly one export. Needs torch, onnx and onnxruntime.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_bytes
from ..errors import DataError, ModelError, SrcodecError
from ..inputs import read_images
from ..models import family_of
from ..models.store import ModelInfo, load_weights, onnx_name, user_dir
from ..pixels import to_rgb
from ..resample import downscale, upscale
from .ortengine import FORMAT, INPUT, META_ARCH, META_FORMAT, META_MODEL_ID, META_PRECISION, OUTPUT

#: ONNX opset of the exported graphs (DepthToSpace CRD, Resize cubic with half_pixel).
OPSET = 17
#: Calibration: low-resolution patches of this size, this many, drawn with this seed.
CALIB_PATCH = 96
CALIB_PATCHES = 96
CALIB_SEED = 0
#: Calibration patches whose activations are held in memory at once.
CALIB_SLICE = 8


def _require(module: str, what: str):
    from importlib import import_module

    try:
        return import_module(module)
    except ImportError:
        raise SrcodecError(
            f"{what} needs {module}: pip install 'srcodec[export]' (torch, onnx, onnxruntime)"
        ) from None


def _stamp(proto, info: ModelInfo, precision: str, extra: dict | None = None) -> None:
    """Write srcodec's metadata into an ONNX ModelProto (replacing any of ours already there)."""
    meta = {
        META_FORMAT: FORMAT,
        META_MODEL_ID: info.id,
        META_PRECISION: precision,
        META_ARCH: json.dumps(info.config.to_dict(), sort_keys=True),
        **{f"srcodec.{k}": json.dumps(v, sort_keys=True) for k, v in (extra or {}).items()},
    }
    keep = [p for p in proto.metadata_props if p.key not in meta]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = f"srcodec {precision} export of {info.id} ({info.config.name})"


def _save(proto, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(output, proto.SerializeToString())
    return output


def export_fp32(info: ModelInfo, output: str | os.PathLike) -> Path:
    """Trace the model of ``info`` (weights checked against its sha256) into an fp32 ONNX file:
    input ``lr`` / output ``sr``, float32 NCHW in [0, 255], batch, height and width dynamic."""
    torch = _require("torch", "ONNX export")
    onnx = _require("onnx", "ONNX export")
    model, info = load_weights(info.path, info.sha256, info.source)
    model = family_of(info.config).exportable(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of the dynamo one, which needs
            # onnxscript and gives the same graph for this network; it still works in torch 2.x.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (torch.zeros(1, info.config.input_channels, 48, 48),),
                str(path),
                dynamo=False,
                opset_version=OPSET,
                input_names=[INPUT],
                output_names=[OUTPUT],
                dynamic_axes={INPUT: {0: "n", 2: "h", 3: "w"}, OUTPUT: {0: "n", 2: "h2", 3: "w2"}},
            )
        proto = onnx.load(str(path))
    _stamp(proto, info, "fp32")
    return _save(proto, Path(output))


def _variants(frame: np.ndarray) -> list[np.ndarray]:
    """``frame`` and the clean content a camera also delivers: the frame shrunk once more
    (smooth, fine detail gone), darkened and brightened. An int8 range calibrated on textured
    photographs alone is too coarse for such frames, which the network restores above 45 dB."""
    frame = to_rgb(frame)
    lifted = 255 - (255 - frame.astype(np.float32)) * 0.25
    return [
        frame,
        downscale(frame),
        np.rint(frame.astype(np.float32) * 0.2).astype(np.uint8),
        np.rint(lifted).astype(np.uint8),
    ]


def calibration_patches(
    sources: Iterable[str | os.PathLike],
    count: int = CALIB_PATCHES,
    patch: int = CALIB_PATCH,
    seed: int = CALIB_SEED,
    *,
    variants: bool = False,
    plate: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[str]]:
    """Low-resolution RGB patches for int8 calibration: every frame of ``sources`` (folders of
    images or videos) downscaled by ``resample.downscale``, then ``count`` random crops of
    ``patch`` px drawn across the frames in turn. With ``variants`` each frame also comes
    smoothed, darkened and brightened (``_variants``), after all the frames as they are.

    With ``plate`` (a camera profile's scene plate, for a network that sees it beside each
    frame) the frames are the camera's own at the plate's size, not downscaled (the network
    restores them as the codec decoded them), and each patch has 6 channels: the frame's crop,
    then the plate's at the same place. Returns (patches, frame names)."""
    frames: list[tuple[str, np.ndarray]] = []
    for source in sources:
        frames += read_images(source)
    if not frames:
        raise DataError("no calibration frames")
    if plate is not None:
        size = plate.shape[:2]
        other = next(((name, f.shape) for name, f in frames if f.shape[:2] != size), None)
        if other is not None:
            name, (h, w) = other[0], other[1][:2]
            raise DataError(
                f"calibration frame {name} is {w}x{h}, and the scene plate the network sees is "
                f"{size[1]}x{size[0]}: calibrate it on frames of its own camera"
            )
        plate = to_rgb(plate)
    shrink = to_rgb if plate is not None else (lambda f: to_rgb(downscale(f)))
    rng = np.random.default_rng(seed)
    lows = [shrink(f) for _, f in frames]
    if variants:
        # Originals first, each kind of variant after them: patches then alternate between
        # the sources' frames before any variant repeats. Shrunk once more, a frame would
        # no longer match the plate: then it is smoothed at its own size.
        extra = [_variants(f)[1:] for _, f in frames]
        if plate is not None:
            extra = [[_smoothed(v[0]), *v[1:]] for v in extra]
        lows += [shrink(v[k]) for k in range(3) for v in extra]
    patches = []
    for i in range(count):
        lr = lows[i % len(lows)]
        h, w = lr.shape[:2]
        ph, pw = min(patch, h), min(patch, w)
        y, x = rng.integers(0, h - ph + 1), rng.integers(0, w - pw + 1)
        cut = lr[y : y + ph, x : x + pw]
        if plate is not None:
            cut = np.concatenate([cut, plate[y : y + ph, x : x + pw]], axis=2)
        patches.append(np.ascontiguousarray(cut))
    return patches, [name for name, _ in frames]


def _smoothed(frame: np.ndarray) -> np.ndarray:
    """``frame`` with its fine detail gone, at its own size: shrunk by 2 and brought back."""
    h, w = frame.shape[:2]
    return upscale(downscale(frame), (w, h))


@dataclass(frozen=True)
class QuantRecipe:
    """How ``quantize_int8`` quantizes: onnxruntime.quantization's static QDQ settings and the
    layers kept in float. Stored in the int8 file's metadata so an export says how it was made.

    ``float_layers`` names groups of ``_FLOAT_LAYERS`` (the bicubic skip and the final sum are
    always float); ``activations`` is a ``QuantType`` name; ``method`` a ``CalibrationMethod``.
    """

    method: str = "MinMax"
    per_channel: bool = True
    activations: str = "QUInt8"
    symmetric_activations: bool = False
    float_layers: tuple[str, ...] = ()
    #: With ``method="Percentile"``: the share (%) of each activation's calibration values
    #: inside its range; the rare values beyond it saturate instead of coarsening every step.
    percentile: float = 99.999

    def to_dict(self) -> dict:
        return {**asdict(self), "float_layers": list(self.float_layers)}

    def extra_options(self) -> dict:
        """``quantize_static``'s extra options for this recipe."""
        options = {"ActivationSymmetric": self.symmetric_activations}
        if self.method == "Percentile":
            options["CalibPercentile"] = self.percentile
        return options


def _skip_nodes(nodes) -> list:
    return [n for n in nodes if n.op_type == "Resize" or n.name.startswith("/bicubic/")]


def _network_convs(nodes) -> list:
    skip = {n.name for n in _skip_nodes(nodes)}
    return [n for n in nodes if n.op_type == "Conv" and n.name not in skip]


#: Layer groups a recipe may keep in float, by what they select from the graph's nodes.
_FLOAT_LAYERS = {
    "head": lambda nodes: _network_convs(nodes)[:1],
    "tail": lambda nodes: _network_convs(nodes)[-1:],
    # The upsampler: the convolution before the depth-to-space of the network (not the skip's).
    "upsample": lambda nodes: [
        n for n in _network_convs(nodes)[-2:-1] if n.name.startswith("/upsample/")
    ],
}

#: The int8 recipe chosen by measurement (docs/engines.md, python -m benchmarks run int8):
#: percentile ranges, the last convolution and the upsampler in float. Against "minmax" (min-max
#: ranges, the head in float too) it loses less on clean frames (mean -0.05 dB, worst -0.11,
#: against -0.10 / -0.22) and runs faster (an int8 head keeps ONNX Runtime's int8 layers
#: channels-last throughout, without a transpose around every residual sum).
DEFAULT_RECIPE = QuantRecipe(method="Percentile", float_layers=("tail", "upsample"))
#: Int8 recipes by name (``srcodec models --int8-recipe``): "minmax" was the default of the
#: first int8 fix, "legacy" the one before issue 15.
RECIPES = {
    "default": DEFAULT_RECIPE,
    "minmax": QuantRecipe(float_layers=("head", "tail", "upsample")),
    "legacy": QuantRecipe(),
}


def _quant_plan(proto, float_layers: Iterable[str]) -> list[str]:
    """Names of the nodes kept in float: the bicubic skip and the final sum, whose [0, 255]
    range 8 bits would round to whole grey levels, and the ``float_layers`` groups."""
    nodes = list(proto.graph.node)
    for i, node in enumerate(nodes):
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    outputs = {o.name for o in proto.graph.output}
    keep = [n.name for n in _skip_nodes(nodes)]
    keep += [n.name for n in nodes if set(n.output) & outputs]
    for group in float_layers:
        if group not in _FLOAT_LAYERS:
            raise ModelError(f"unknown float layer group {group!r}: one of {sorted(_FLOAT_LAYERS)}")
        keep += [n.name for n in _FLOAT_LAYERS[group](nodes) if n.name not in keep]
    return keep


def quantize_int8(
    info: ModelInfo,
    fp32_path: str | os.PathLike,
    output: str | os.PathLike,
    patches: list[np.ndarray],
    *,
    recipe: QuantRecipe = DEFAULT_RECIPE,
    provenance: dict | None = None,
) -> Path:
    """Quantize the fp32 export ``fp32_path`` of ``info`` to int8 (QDQ, int8 weights; the
    activations, calibration and float layers of ``recipe``; ranges calibrated on ``patches``,
    uint8 HxWx3)."""
    onnx = _require("onnx", "int8 quantization")
    _require("onnxruntime", "int8 quantization")
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if not patches:
        raise DataError("int8 quantization needs calibration patches")

    class Reader(CalibrationDataReader):
        """The patches, a slice at a time: onnxruntime collects the activations of each slice
        (``CalibStridedMinMax``, for every method) and merges them into its ranges or
        histograms, so memory stays bounded (all at once, the 16x64 model's activations of 96
        patches of 96 px took 19 GB)."""

        def __init__(self) -> None:
            self.items = iter(patches)

        def __len__(self) -> int:
            return len(patches)

        def set_range(self, start_index: int, end_index: int) -> None:
            self.items = iter(patches[start_index:end_index])

        def get_next(self) -> dict | None:
            lr = next(self.items, None)
            if lr is None:
                return None
            return {INPUT: np.ascontiguousarray(lr.transpose(2, 0, 1)[None], np.float32)}

    if recipe.method != "MinMax":
        # Histograms stack a slice's activations: patches of one size (crops of the smallest).
        h = min(p.shape[0] for p in patches)
        w = min(p.shape[1] for p in patches)
        patches = [np.ascontiguousarray(p[:h, :w]) for p in patches]
    # The largest slice of at most CALIB_SLICE patches that divides them (onnxruntime's rule).
    stride = max(n for n in range(1, min(CALIB_SLICE, len(patches)) + 1) if len(patches) % n == 0)
    proto = onnx.load(str(fp32_path))
    keep = _quant_plan(proto, recipe.float_layers)
    with tempfile.TemporaryDirectory() as tmp:
        named, out = Path(tmp) / "named.onnx", Path(tmp) / "int8.onnx"
        onnx.save_model(proto, str(named))
        logging.disable(logging.WARNING)  # its advice to pre-process is for classifiers
        try:
            quantize_static(
                str(named),
                str(out),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=recipe.per_channel,
                activation_type=getattr(QuantType, recipe.activations),
                weight_type=QuantType.QInt8,
                nodes_to_exclude=keep,
                calibrate_method=getattr(CalibrationMethod, recipe.method),
                extra_options={**recipe.extra_options(), "CalibStridedMinMax": stride},
            )
        finally:
            logging.disable(logging.NOTSET)
        quantized = onnx.load(str(out))
    calibration = {
        "patches": len(patches),
        "patch": int(max(p.shape[0] for p in patches)),
        **recipe.to_dict(),
        "float_nodes": keep,
        **(provenance or {}),
    }
    _stamp(quantized, info, "int8", {"calibration": calibration})
    return _save(quantized, Path(output))


def export_model(
    info: ModelInfo,
    folder: str | os.PathLike | None = None,
    *,
    int8: bool = False,
    calibration: Iterable[str | os.PathLike] = (),
    recipe: str = "default",
) -> list[Path]:
    """Write the fp32 export of ``info`` (and the int8 one, calibrated on the frames of
    ``calibration`` and their variants, quantized by ``RECIPES[recipe]``) into ``folder``
    (default: the user model directory), named by ``registry.onnx_name`` so that decoders find
    them. Returns the files written."""
    if recipe not in RECIPES:
        raise ModelError(f"unknown int8 recipe {recipe!r}: one of {sorted(RECIPES)}")
    plate = None
    if int8 and info.config.sees_plate:
        from .plate import read_plate

        found = read_plate(info.path) if info.path else None
        if found is None:
            raise ModelError(
                f"{info.short_id} sees a scene plate beside each frame, and its weights file "
                "carries none: its int8 export cannot be calibrated"
            )
        plate = found[0]
    folder = Path(folder) if folder else user_dir()
    fp32 = export_fp32(info, folder / onnx_name(info, "fp32"))
    written = [fp32]
    if int8:
        sources = [str(s) for s in calibration]
        if not sources:
            raise ModelError("--int8 needs calibration frames (--calibration FOLDER)")
        patches, names = calibration_patches(sources, variants=True, plate=plate)
        provenance = {"seed": CALIB_SEED, "frames": len(names), "variants": True, "sources": names}
        if plate is not None:
            provenance["with_plate"] = True
        written.append(
            quantize_int8(
                info,
                fp32,
                folder / onnx_name(info, "int8"),
                patches,
                recipe=RECIPES[recipe],
                provenance=provenance,
            )
        )
    return written
