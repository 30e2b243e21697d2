"""Batching and tiling shared by every restoration engine: frames of one size go through the
network together, large frames in overlapping tiles, and results are cropped to the original size.
"""

from __future__ import annotations

import numpy as np

from ..errors import SrcodecError
from ..pixels import to_rgb

#: Low-resolution pixels one forward pass may hold (about 1 GB of activations for 16x64).
DEFAULT_TILE = 512
#: Memory one forward pass of a CPU engine may take for its activations, whatever the frame's
#: size: with the restored frame and the decode pipeline a process stays under 1 GB, so several
#: decoding workers fit on one machine.
CPU_MEMORY_BUDGET = 512 * 2**20
#: Smallest tile: below it the margins dwarf the tile and restoring gets needlessly slow.
MIN_TILE = 16
#: Low-resolution pixels of equal-size frames batched into one forward pass: a GPU wants large
#: batches; on a CPU one 200x200 frame at a time is faster than six together (the activations
#: of one frame stay in cache), so CPU engines batch only frames smaller than this.
GPU_BATCH_PIXELS = DEFAULT_TILE * DEFAULT_TILE
CPU_BATCH_PIXELS = 256 * 256


def budget_tile(budget: int, features: int, margin: int) -> int:
    """The largest tile (low-resolution pixels, margins excluded) whose forward pass fits
    ``budget`` bytes, for a network of ``features`` channels: at the upsampler an EDSR holds
    about 10 float32 maps of ``features`` channels per low-resolution pixel (its input, the
    convolution's 4x output, its depth-to-space, and the tail's work), measured on onnxruntime
    as 2.5-2.6 kB per pixel for 64 features."""
    side = int((budget / (10 * 4 * features)) ** 0.5)
    return max(MIN_TILE, min(DEFAULT_TILE, side - 2 * margin))


def to_uint8(sr: np.ndarray) -> np.ndarray:
    """Float NCHW network output -> uint8 NHWC: clamped to [0, 255], rounded half to even (as
    ``torch.round``)."""
    out = np.clip(sr, 0, 255)
    np.rint(out, out=out)
    return np.ascontiguousarray(out.astype(np.uint8).transpose(0, 2, 3, 1))


class TiledRestorer:
    """A network that restores uint8 frames at its scale (x2, or x1 for restoration), run in
    batches of equal-size frames and in tiles.

    Engines implement ``_forward`` (uint8 NxHxWx3 -> uint8 Nx(sH)x(sW)x3); everything else, the
    tile geometry included, is defined here once, so every engine tiles the same way.
    """

    #: Which engine this is ("torch", "onnx"), for reports.
    engine = ""
    #: Precision of the network's arithmetic ("fp32", "int8").
    precision = "fp32"
    #: Low-resolution pixels of equal-size frames restored in one forward pass.
    batch_pixels = GPU_BATCH_PIXELS

    def __init__(self, scale: int, margin: int, tile: int = DEFAULT_TILE) -> None:
        self.scale = scale
        self.margin = margin
        if tile < MIN_TILE:
            raise SrcodecError(
                f"tile must be at least {MIN_TILE} low-resolution pixels, got {tile}"
            )
        self.tile = tile

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _tiled(self, lr: np.ndarray) -> np.ndarray:
        h, w = lr.shape[:2]
        s, t, m = self.scale, self.tile, self.margin
        out = np.empty((h * s, w * s, 3), np.uint8)
        for y0 in range(0, h, t):
            for x0 in range(0, w, t):
                y1, x1 = min(y0 + t, h), min(x0 + t, w)
                # Each tile sees `margin` context pixels on every side, so its centre is
                # computed exactly as in an untiled pass.
                py0, px0, py1, px1 = max(0, y0 - m), max(0, x0 - m), min(h, y1 + m), min(w, x1 + m)
                sr = self._forward(lr[None, py0:py1, px0:px1])[0]
                oy, ox = (y0 - py0) * s, (x0 - px0) * s
                out[y0 * s : y1 * s, x0 * s : x1 * s] = sr[
                    oy : oy + (y1 - y0) * s, ox : ox + (x1 - x0) * s
                ]
        return out

    def restore_batch(
        self,
        frames: list[np.ndarray],
        sizes: list[tuple[int, int]],
        origins: list[tuple[int, int]] | None = None,
    ) -> list[np.ndarray]:
        """Restore low-resolution frames (uint8, HxW or HxWx3) to ``sizes`` (w, h) each.

        Frames of one shape go through the network together, up to ``batch_pixels``.
        ``origins`` (y, x): where each restored frame lies in its full frame, when it is a crop
        of one (only a restorer with a scene plate, ``plate.PlateRestorer``, needs it).
        """
        out: list[np.ndarray | None] = [None] * len(frames)
        groups: dict[tuple, list[int]] = {}
        for i, f in enumerate(frames):
            groups.setdefault(f.shape[:2], []).append(i)
        for (h, w), idx in groups.items():
            if h * w > self.tile * self.tile:
                results = [self._tiled(to_rgb(frames[i])) for i in idx]
            else:
                per = max(1, min(self.batch_pixels, self.tile * self.tile) // (h * w))
                results = []
                for k in range(0, len(idx), per):
                    chunk = np.stack([to_rgb(frames[i]) for i in idx[k : k + per]])
                    results.extend(self._forward(chunk))
            for i, sr in zip(idx, results, strict=True):
                width, height = sizes[i]
                sr = sr[:height, :width]
                if frames[i].ndim == 2:  # grayscale in, grayscale out
                    sr = np.round(sr.mean(axis=2)).astype(np.uint8)
                out[i] = np.ascontiguousarray(sr)
        return out  # type: ignore[return-value]

    def use_setting(self, setting: int | None) -> None:
        """Be told the codec setting (a lossy stream's quality parameter) of the frames to
        restore: a network ignores it; a scene plate's strength depends on it."""

    def use_strength(self, strength: float, chroma: float | None = None) -> None:
        """Be told the scene-plate strengths an archive recorded (``plate.PlateRestorer``): a
        restorer without a plate ignores them."""

    def restore(self, frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """Restore one low-resolution frame (to twice its size, or to ``size`` (w, h))."""
        h, w = frame.shape[:2]
        return self.restore_batch([frame], [size or (w * self.scale, h * self.scale)])[0]
