"""The installed version of srcodec, read once from the package metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("srcodec")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "unknown"
