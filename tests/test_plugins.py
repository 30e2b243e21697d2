"""Codecs and model families from another package: a tiny distribution installed into a temporary
folder (its module and a dist-info with entry points, as pip lays them out) declares a codec in
``srcodec.codecs`` and a family in ``srcodec.families``; srcodec finds both, archives with the
codec, and skips with a warning a plug-in that does not load or would replace a built-in codec."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''
"""A separate package's codec (raw bytes, zlib) and model family (nearest-neighbour x2)."""
import zlib
from dataclasses import dataclass

import numpy as np

from srcodec.errors import CorruptError
from srcodec.lowres import LowresCodec
from srcodec.models import Family, ModelConfig


class RawCodec(LowresCodec):
    codec_id = "demo.raw"
    level_param = None

    def get_config(self):
        return {"id": self.codec_id}

    def encode(self, frame):
        return zlib.compress(np.ascontiguousarray(frame).tobytes())

    def decode(self, data, width, height, channels):
        shape = (height, width) if channels == 1 else (height, width, 3)
        pixels = np.frombuffer(zlib.decompress(data), np.uint8)
        if pixels.size != np.prod(shape):
            raise CorruptError("demo.raw: wrong size")
        return pixels.reshape(shape)


class FakePng(RawCodec):
    codec_id = "srcodec.png"  # would change how every PNG archive decodes


@dataclass(frozen=True)
class NearestConfig(ModelConfig):
    family = "demo-nearest"
    scales = (2,)
    scale: int = 2

    @property
    def name(self):
        return "demo_nearest_x2"

    @property
    def receptive_radius(self):
        return 0


def build(config):
    import torch

    class Nearest(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = config

        def forward(self, x):
            return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    return Nearest()


FAMILY = Family("demo-nearest", NearestConfig, build)
'''

ENTRY_POINTS = """
[srcodec.codecs]
demo.raw = srcodec_demo_plugin:RawCodec
broken = srcodec_demo_missing:Codec
impostor = srcodec_demo_plugin:FakePng

[srcodec.families]
demo-nearest = srcodec_demo_plugin:FAMILY
"""

CHECK = """
import warnings

import numpy as np
import torch

import srcodec

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    codecs = srcodec.list_codecs()
assert "demo.raw" in codecs and "srcodec.png" in codecs, codecs
messages = [str(w.message) for w in caught]
assert any("'broken'" in m and "did not load: ModuleNotFoundError" in m for m in messages), messages
assert any("'impostor' skipped: codec 'srcodec.png' is already registered" in m for m in messages)
assert type(srcodec.get_codec("png")).__name__ == "PngCodec"
assert "demo-nearest" in srcodec.list_families()
model = srcodec.create_model("demo-nearest")
assert model(torch.zeros(1, 3, 4, 5)).shape == (1, 3, 8, 10)

frame = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
srcodec.encode([("f0", frame)], "plugin.src", codec="demo.raw")
with srcodec.open("plugin.src") as archive:
    assert archive.header.codec == {"id": "demo.raw"}
    assert np.array_equal(archive.lowres(0), srcodec.downscale(frame))
print("ok")
"""


def install_plugin(site: Path) -> None:
    """What ``pip install`` leaves for a pure-Python distribution: its module and its dist-info
    (metadata, entry points) side by side in a folder on sys.path."""
    package = site / "srcodec_demo_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "srcodec_demo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: srcodec-demo-plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS)


def test_a_separate_package_adds_a_codec_and_a_model_family(tmp_path):
    site = tmp_path / "site"
    install_plugin(site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    run = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_without_the_plugin_its_codec_is_refused_by_name(tmp_path):
    code = (
        "import srcodec\n"
        "assert 'demo.raw' not in srcodec.list_codecs()\n"
        "try:\n    srcodec.get_codec('demo.raw')\n"
        "except srcodec.FormatError as exc:\n    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "unknown low-resolution codec 'demo.raw'" in run.stdout
