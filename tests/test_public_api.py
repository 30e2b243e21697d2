"""The public API: every name ``srcodec.__all__`` lists imports, and the version is known."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

import srcodec


@pytest.mark.parametrize("name", srcodec.__all__)
def test_every_public_name_imports(name):
    assert getattr(srcodec, name) is not None


def test_version_is_the_package_metadata():
    assert srcodec.__version__ == version("srcodec")
    from srcodec.archive import writer

    assert writer.__version__ is srcodec.__version__


def test_checking_archives_loads_no_engine():
    code = "import srcodec.archive.recovery, sys; print('srcodec.engines.choose' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_load_model_gives_a_ready_model_in_one_call(tiny_weights):
    info = srcodec.load_weights(tiny_weights)[1]
    for spec in (tiny_weights, str(tiny_weights), info):
        model = srcodec.load_model(spec)
        assert not model.training and model.config == info.config
    model = srcodec.load_model(info.short_id, weights=[tiny_weights])  # by id, found among files
    assert model.config == info.config
    assert srcodec.load_model("srcodec-photo-x2").config.scale == 2  # the bundled model, by name


def test_registries_list_get_and_register():
    assert "srcodec.png" in srcodec.list_codecs() and srcodec.get_codec("png").codec_id
    assert "edsr" in srcodec.list_families() and srcodec.get_family("edsr").name == "edsr"
    assert srcodec.get_model("srcodec-photo-x2").name == "srcodec-photo-x2"


@pytest.mark.parametrize(
    "old, new, args",
    [
        ("available_codecs", "list_codecs", ()),
        ("families", "list_families", ()),
        ("resolve", "get_model", ("srcodec-photo-x2",)),
    ],
)
def test_the_0_1_names_still_work_and_warn(old, new, args):
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated: use .*{new}"):
        assert getattr(srcodec, old)(*args) == getattr(srcodec, new)(*args)


#: 0.1 module path, a name it held, the module that holds it now.
MOVED = [
    ("container", "ArchiveReader", "srcodec.archive.filereader"),
    ("registry", "get_model", "srcodec.models.store"),
    ("writer", "encode", "srcodec.archive.writer"),
    ("ratecontrol", "encode_lossy", "srcodec.archive.lossywriter"),
    ("frames", "read_frame", "srcodec.inputs"),
    ("timing", "frame_times", "srcodec.frametimes"),
    ("dask", "restore", "srcodec.distributed.daskarray"),
    ("engine", "make_restorer", "srcodec.engines.choose"),
]

CHECK_MOVED = """
import importlib, sys, warnings
for old, name in MOVED:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module("srcodec." + old)
    print(old, getattr(module, name).__module__, [str(w.message) for w in caught])
"""


def test_the_0_1_module_paths_still_import_and_warn():
    moved = [(old, name) for old, name, _ in MOVED]
    code = f"MOVED = {moved!r}\n{CHECK_MOVED}"  # a fresh process: nothing imported yet
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = run.stdout.strip().splitlines()
    assert len(lines) == len(MOVED)
    for line, (old, _, new) in zip(lines, MOVED, strict=True):
        got_old, module, warnings = line.split(" ", 2)
        assert (got_old, module) == (old, new)
        assert f"srcodec.{old} is deprecated: import from srcodec." in warnings


def test_the_0_1_training_and_archive_modules_keep_their_names():
    from srcodec.archive import PREFETCH_FRAMES, decode_group
    from srcodec.cli import EXIT_DAMAGED, main

    assert PREFETCH_FRAMES and decode_group and EXIT_DAMAGED == 3 and main.name == "main"
    code = "import srcodec.training as t, sys; print(t.train.__module__, 'torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["srcodec.training.trainer", "True"]


def test_one_familys_classes_are_no_longer_top_level_names():
    with pytest.warns(DeprecationWarning, match="srcodec.EDSRConfig is deprecated"):
        config = srcodec.EDSRConfig(blocks=2)
    assert srcodec.create_model("edsr", blocks=2).config == config
    assert "EDSR" not in srcodec.__all__ and "EDSRConfig" not in srcodec.__all__
