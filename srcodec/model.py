"""Kept importable for code written before model families: the EDSR network now lives in
models/edsr.py (imports torch)."""

from .models.edsr import EDSR, RGB_MEAN, EDSRConfig, ResBlock

__all__ = ["EDSR", "RGB_MEAN", "EDSRConfig", "ResBlock"]
