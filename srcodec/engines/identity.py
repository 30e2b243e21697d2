"""The model that is no network: ``srcodec.identity`` restores an x1 archive's frames as they
were decoded. A lossy archive whose best candidate is its base codec alone records it, so that
srcodec is never worse than the codec it wraps, and decoding it needs neither torch nor ONNX.
"""

from __future__ import annotations

import numpy as np

from .tiling import TiledRestorer

__all__ = ["IDENTITY_MODEL", "IdentityRestorer", "is_identity"]

#: The model id an archive records for "no network" (not a weights file: it has no hash).
IDENTITY_MODEL = "srcodec.identity"


def is_identity(model_id: str) -> bool:
    """Whether an archive's model id means "no network"."""
    return model_id.partition("@")[0] == IDENTITY_MODEL


class IdentityRestorer(TiledRestorer):
    """Gives x1 frames back as they are (cropped to their size): ``srcodec.identity``."""

    engine = "identity"
    batch_pixels = 1 << 30  # no network: any batch will do

    def __init__(self) -> None:
        super().__init__(scale=1, margin=0)

    def restore_batch(
        self,
        frames: list[np.ndarray],
        sizes: list[tuple[int, int]],
        origins: list[tuple[int, int]] | None = None,
    ) -> list[np.ndarray]:
        return [np.ascontiguousarray(f[:h, :w]) for f, (w, h) in zip(frames, sizes, strict=True)]
