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
