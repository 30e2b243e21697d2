"""Kept importable for code written before model families: the EDSR config now lives in
models/edsr.py."""

from .models.edsr import RGB_MEAN, EDSRConfig

__all__ = ["RGB_MEAN", "EDSRConfig"]
