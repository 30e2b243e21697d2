"""What a frame is to srcodec: a uint8 array, HxW (mode "L") or HxWx3 (mode "RGB").

The one definition of the modes and of the array check, shared by the encoder, the
low-resolution codecs and the container.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import FrameError

#: Channel count -> Pillow mode; the container stores the channel count as the mode code.
MODES: dict[int, str] = {1: "L", 3: "RGB"}
#: Pillow mode -> channel count.
CHANNELS: dict[str, int] = {mode: channels for channels, mode in MODES.items()}


def check_frame(frame: Any, name: str | None = None) -> np.ndarray:
    """Return ``frame`` if it is a non-empty uint8 HxW or HxWx3 array.

    Raises ``FrameError`` (prefixed with ``name`` when given) saying which rule it breaks.
    """
    where = f"{name}: " if name else ""
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"{where}expected a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise FrameError(f"{where}frames must be uint8, got dtype {frame.dtype}")
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
        raise FrameError(f"{where}frames must be HxW or HxWx3, got shape {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise FrameError(f"{where}empty frame of shape {frame.shape}")
    return frame


def mode_of(frame: np.ndarray) -> str:
    """The mode ("L" or "RGB") of a frame that ``check_frame`` accepts."""
    return MODES[1 if frame.ndim == 2 else frame.shape[2]]


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """Grayscale frames repeated into three channels; RGB frames unchanged."""
    return np.repeat(frame[:, :, None], 3, axis=2) if frame.ndim == 2 else frame
