"""The ONNX Runtime engine and the engine choice: the model id checked, exports found, and
decoding with no torch installed at all (agreement with torch, batching and tiling for both
engines: test_tiling.py)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import srcodec
from srcodec.cli import main
from srcodec.engines.choose import make_restorer
from srcodec.engines.export import export_fp32
from srcodec.engines.ortengine import OrtRestorer
from srcodec.errors import ModelError, SrcodecError
from srcodec.models.edsr import EDSR, EDSRConfig
from srcodec.models.store import inspect_weights, onnx_name, save_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    """A second small model (random weights), exported to fp32 ONNX beside its weights file,
    where the tiny test model has no export."""
    torch.manual_seed(0)
    model = EDSR(EDSRConfig(blocks=3, features=16, bicubic_skip=True))
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    folder = tmp_path_factory.mktemp("busy")
    info = save_model(model, folder / "busy.safetensors", "busy-x2")
    export_fp32(info, folder / onnx_name(info))
    return model, info


def test_auto_picks_onnx_when_exported_else_torch(busy, tiny_weights):
    _, info = busy
    assert make_restorer(info, "cpu").engine == "onnx"
    assert make_restorer(inspect_weights(tiny_weights), "cpu").engine == "torch"
    assert make_restorer(info, "cpu", "torch").engine == "torch"


def test_engine_errors(busy, tiny_weights):
    _, info = busy
    tiny = inspect_weights(tiny_weights)
    with pytest.raises(ModelError, match="no fp32 ONNX export.*srcodec models --export-onnx"):
        make_restorer(tiny, "cpu", "onnx")
    with pytest.raises(ModelError, match="no int8 ONNX export.*--export-onnx.*--int8"):
        make_restorer(info, "cpu", precision="int8")
    with pytest.raises(SrcodecError, match="torch engine has no int8 path"):
        make_restorer(info, "cpu", "torch", "int8")
    with pytest.raises(SrcodecError, match="run on the torch engine"):
        make_restorer(info, "cpu", "onnx", "fp16")
    with pytest.raises(SrcodecError, match="run on the torch engine"):
        make_restorer(info, "cpu", "onnx", self_ensemble=True)
    with pytest.raises(SrcodecError, match="runs on the CPU"):
        make_restorer(info, "cuda", "onnx")
    with pytest.raises(SrcodecError, match="unknown engine"):
        make_restorer(info, "cpu", "tensorrt")
    with pytest.raises(SrcodecError, match="unknown precision"):
        make_restorer(info, "cpu", precision="fp8")
    with pytest.raises(SrcodecError, match="fp16 needs a CUDA GPU"):
        make_restorer(info, "cpu", precision="fp16")


def test_onnx_file_of_another_model_is_refused(busy, tiny_weights, tmp_path):
    _, info = busy
    tiny = inspect_weights(tiny_weights)
    # An export renamed to pose as the tiny model's: its embedded id gives it away.
    fake = tmp_path / onnx_name(tiny)
    fake.write_bytes((info.path.parent / onnx_name(info)).read_bytes())
    with pytest.raises(ModelError, match="exported from model busy-x2@"):
        OrtRestorer(fake, tiny.id)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="garbage.onnx: cannot load"):
        OrtRestorer(garbage)


def _decode_cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def test_cli_engine_choice_and_export(busy, tmp_path, sample_frames, tiny_weights):
    archive = tmp_path / "a.src"
    srcodec.encode(sample_frames[:2], archive, weights=[tiny_weights])
    assert _decode_cli("decode", archive, "--weights", tiny_weights, "--engine", "onnx").exit_code
    onnx_dir = tmp_path / "exports"
    r = _decode_cli("models", "--export-onnx", tiny_weights, "--onnx-dir", onnx_dir, "--json")
    assert r.exit_code == 0, r.output
    tiny = inspect_weights(tiny_weights)
    assert (onnx_dir / onnx_name(tiny)).is_file()
    # Decoders look beside the weights file, in the user directory and among the bundled
    # models: move the export beside a copy of the weights.
    copy = tmp_path / "w" / "tiny.safetensors"
    copy.parent.mkdir()
    copy.write_bytes(tiny_weights.read_bytes())
    (onnx_dir / onnx_name(tiny)).rename(copy.parent / onnx_name(tiny))
    listed = json.loads(_decode_cli("models", "--weights", copy, "--json").output)
    assert listed[0]["onnx"] == {"fp32": str(copy.parent / onnx_name(tiny)), "int8": None}
    outs = {}
    for engine in ("onnx", "torch"):
        folder = tmp_path / engine
        r = _decode_cli("decode", archive, "--weights", copy, "--engine", engine, "-o", folder)
        assert r.exit_code == 0, r.output
        outs[engine] = [np.asarray(Image.open(p)) for p in sorted(folder.iterdir())]
    for a, b in zip(outs["onnx"], outs["torch"], strict=True):
        assert a.shape == b.shape == (400, 400, 3)
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    r = _decode_cli("models", "--int8")
    assert r.exit_code == 1 and "go with --export-onnx" in r.output


# --- without torch ------------------------------------------------------------------------------

# Runs the CLI with torch (and the onnx package, an export-time dependency) made unimportable,
# then reports which of them got loaded anyway.
NO_TORCH = """
import json, sys
for name in ("torch", "onnx") + tuple(sys.argv[1].split(",")):
    sys.modules[name] = None
from srcodec.cli import main
try:
    main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m, v in sys.modules.items() if v is not None
                and (m.split(".")[0] in ("torch", "onnx") or m == "safetensors.torch"))
print(json.dumps({"code": code, "loaded": loaded}))
"""


def _run_without_torch(*args, block: str = "") -> tuple[dict, str]:
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, block or "torchvision", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stdout + proc.stderr


def test_decode_without_torch_matches_the_torch_engine(tmp_path, sample_frames):
    """The bundled model, through its shipped ONNX export, with no torch importable."""
    archive = tmp_path / "a.src"
    srcodec.encode(sample_frames, archive)
    result, out = _run_without_torch("decode", archive, "-o", tmp_path / "ort", "-q")
    assert result == {"code": 0, "loaded": []}, out
    assert "4 frames restored" in out
    for p in sample_frames:
        ort_frame = np.asarray(Image.open(tmp_path / "ort" / p.name))
        with srcodec.open(archive, engine="torch", device="cpu") as a:
            torch_frame = a[p.name]
        assert ort_frame.shape == torch_frame.shape == (400, 400, 3)
        assert np.abs(ort_frame.astype(int) - torch_frame.astype(int)).max() <= 1
    result, out = _run_without_torch("info", archive)
    assert result["code"] == 0 and result["loaded"] == [] and "4 x 400x400 RGB" in out
    result, out = _run_without_torch("verify", archive)
    assert result["code"] == 0 and "intact" in out
    result, out = _run_without_torch("models")
    assert result["code"] == 0 and "onnx int8:" in out and result["loaded"] == []


def test_without_torch_errors_are_one_line(tmp_path, sample_frames, tiny_weights):
    archive = tmp_path / "a.src"
    srcodec.encode(sample_frames[:1], archive, weights=[tiny_weights])
    result, out = _run_without_torch("decode", archive, "--weights", tiny_weights, "-q")
    assert result["code"] == 1 and "Traceback" not in out
    assert "no fp32 ONNX export" in out and "--export-onnx" in out and "install torch" in out
    result, out = _run_without_torch(
        "decode", archive, "--weights", tiny_weights, "-q", block="onnxruntime"
    )
    assert result["code"] == 1 and "no restoration engine installed" in out
    assert "srcodec[onnx]" in out and "Traceback" not in out
    result, out = _run_without_torch("train", tmp_path, "--val", tmp_path, "-o", tmp_path / "m")
    assert result["code"] == 1 and "needs PyTorch" in out
