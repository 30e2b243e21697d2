"""A camera's scene plate (issues 23 and 27): a still of a fixed camera's scene, the per-pixel
temporal median of the footage a camera profile was tuned on, carried in the profile's weights
file. A frame restored by the profile is blended towards the plate where the two agree, so that
the static scene is restored from many frames' evidence rather than from the frame's own bits,
at no byte per archive:

    out = r + w (plate - r),  w = exp(-(d / (strength * median(d)))^2),  d = box5(|r - plate|)

with ``r`` the restored frame, ``|.|`` summed over RGB, ``box5`` a 5x5 mean (edges repeated)
and the median over the frame's pixels (every other row and column): where something moved or
the light changed, ``w`` falls to 0 and the frame stays as restored. The scale follows the
frame's own difference from the plate, which grows with the coding error: on validation vtest
frames (476-635, the plate the median of frames 0-475, srcodec-av1-x1-v2 restored) strength 1.5
gains +0.05 / +0.43 / +0.79 / +0.91 dB RGB at CRF 34 / 46 / 56 / 62, strength 3 -0.54 /
+0.25 / +1.01 / +1.49, where a fixed scale that gains 0.77 dB at CRF 62 loses 0.48 at CRF 34.
The plate is stored losslessly (WebP) beside the network's tensors, as a uint8
tensor of the file's bytes; the card (``plate``) holds the strength for each codec setting the
profile was checked at and one for all of them, chosen per profile on footage later than every
frame tuned on (``archive.profile``). An encoder goes further: it blends the luma part of the
difference (``Y(plate - r)`` on every channel) and its chroma part (the rest) at strengths of
their own, tries each pair of ``STRENGTHS`` and ``CHROMA_STRENGTHS`` on the frames its candidate
choice measures and records the best in the archive, which its reader blends at; an archive
without them (written before) takes the card's strength for the setting nearest to its own, for
both parts. A profile's network may also see the plate beside each frame (``feed``: its input
is the frame and its part of the plate, ``models.plain.with_plate``), then the blend follows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..models.store import CARD_KEY, PLATE_KEY
from ..pixels import to_rgb
from .tiling import TiledRestorer

__all__ = [
    "PLATE_KEY",
    "CHROMA_STRENGTHS",
    "STRENGTHS",
    "PlateRestorer",
    "blend",
    "encode_plate",
    "median_plate",
    "read_plate",
    "set_plate",
]

#: Frames (spread over those given) the temporal median is taken over.
PLATE_FRAMES = 64

#: The strengths an encoder tries for the luma part of the blend on the frames it measures
#: (``archive.candidates``), 0 (no blend) first, so that a tie keeps the frames as the network
#: restored them; the best pair with ``CHROMA_STRENGTHS`` is recorded in the archive
#: (``extra.lossy.plate``, docs/format.md 9.9) and its reader blends at it
#: (``PlateRestorer.use_strength``).
STRENGTHS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
#: The strengths tried for the chroma part of the blend, with each of ``STRENGTHS`` for its
#: luma part (``blend``): on validation vtest frames (476-635, 10-bit, srcodec-av1-x1-v3, the
#: plate the median of 0-475) chroma wants about twice luma's strength (best pairs 1 / 1.5 at
#: CRF 42, 3 / 6 at CRF 62), +0.03 to +0.05 dB RGB over one strength for both at CRF 42-62
#: (``benchmarks.studies.plate_chroma``, benchmarks/results/plate_chroma.json).
CHROMA_STRENGTHS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def median_plate(frames: Sequence[np.ndarray], most: int = PLATE_FRAMES) -> np.ndarray:
    """The per-pixel temporal median of ``frames`` (RGB of one shape; at most ``most`` of them,
    spread over all), uint8."""
    picks = sorted({round(k) for k in np.linspace(0, len(frames) - 1, min(most, len(frames)))})
    stack = np.stack([frames[k] for k in picks])
    return np.ascontiguousarray(np.round(np.median(stack, axis=0)).astype(np.uint8))


def _box(a: np.ndarray, r: int = 2) -> np.ndarray:
    """The (2r+1)^2 box mean of a 2-D integer array, edges repeated (float32)."""
    p = np.pad(a.astype(np.int32), r, mode="edge").cumsum(0).cumsum(1)
    p = np.pad(p, ((1, 0), (1, 0)))
    k = 2 * r + 1
    sums = p[k:, k:] - p[:-k, k:] - p[k:, :-k] + p[:-k, :-k]
    return sums.astype(np.float32) * np.float32(1 / (k * k))


#: BT.601 luma weights: the luma part of a difference ``delta`` is ``Y(delta)`` on every channel
#: (adding one value to R, G and B changes luma only), the rest is its chroma part.
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


class _Blend:
    """One frame's blend towards its plate at any strengths: the difference, its 5x5 mean and
    median computed once, the weights once per strength."""

    def __init__(self, frame: np.ndarray, plate: np.ndarray) -> None:
        self.frame = frame
        self.delta = plate.astype(np.int16) - frame
        size = np.abs(self.delta)
        self.diff = _box(size[..., 0] + size[..., 1] + size[..., 2])
        self.median = float(np.median(self.diff[::2, ::2]))
        self._w: dict[float, np.ndarray] = {}
        self._luma: np.ndarray | None = None

    def weight(self, strength: float) -> np.ndarray:
        if strength not in self._w:
            scale = max(strength * self.median, 1.0)
            self._w[strength] = np.exp(-np.square(self.diff * np.float32(1 / scale)))[..., None]
        return self._w[strength]

    def mix(self, strength: float, chroma: float) -> np.ndarray:
        """The frame blended at ``strength`` (luma) and ``chroma`` (0: that part unblended)."""
        if strength == chroma:
            if strength <= 0:
                return self.frame
            out = self.frame + self.weight(strength) * self.delta
        else:
            if self._luma is None:
                self._luma = (self.delta @ _LUMA)[..., None]
            out = self.frame.astype(np.float32)
            if strength > 0:
                out += self.weight(strength) * self._luma
            if chroma > 0:
                out += self.weight(chroma) * (self.delta - self._luma)
        return np.ascontiguousarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def _mixed(blends: list[np.ndarray | _Blend], strength: float, chroma: float) -> list[np.ndarray]:
    """Each of ``blends`` (``PlateRestorer._blends``) mixed at ``strength`` and ``chroma``, a
    frame the plate does not cover as it is."""
    return [b.mix(strength, chroma) if isinstance(b, _Blend) else b for b in blends]


def blend(
    frame: np.ndarray, plate: np.ndarray, strength: float, chroma: float | None = None
) -> np.ndarray:
    """``frame`` (uint8 RGB) blended towards ``plate`` (the same shape) where they agree, its
    luma part at ``strength`` and its chroma part at ``chroma`` (None: the same)."""
    return _Blend(frame, plate).mix(strength, strength if chroma is None else chroma)


def encode_plate(plate: np.ndarray) -> np.ndarray:
    """``plate`` as the tensor a weights file stores: its lossless WebP file's bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(plate).save(buf, format="WEBP", lossless=True, quality=100, method=4)
    return np.frombuffer(buf.getvalue(), np.uint8).copy()


def read_plate(path: str | Path) -> tuple[np.ndarray, float, dict[int, float]] | None:
    """The plate a weights file carries, its strength and its strengths by codec setting, or
    None (a model without one)."""
    from PIL import Image
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        if PLATE_KEY not in f.keys():  # noqa: SIM118 (safe_open has keys(), no __contains__)
            return None
        data = f.get_tensor(PLATE_KEY)
        card = json.loads((f.metadata() or {}).get(CARD_KEY, "{}"))
    try:
        strength = float(card["plate"]["strength"])
        by_setting = {int(k): float(v) for k, v in card["plate"].get("strengths", {}).items()}
        plate = np.asarray(Image.open(io.BytesIO(data.tobytes())).convert("RGB"))
    except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
        raise ModelError(f"{path}: its scene plate is damaged ({exc})") from None
    return np.ascontiguousarray(plate), strength, by_setting


class PlateRestorer(TiledRestorer):
    """``inner``'s restorations blended towards ``plate`` (``blend``) at ``strength``, or, once
    told the codec setting of the frames (``use_setting``), at the strength ``by_setting``
    gives the nearest setting (0: no blend). A restored frame the plate does not cover
    (another size, or grey) is left as ``inner`` restored it."""

    def __init__(
        self,
        inner: TiledRestorer,
        plate: np.ndarray,
        strength: float,
        by_setting: dict[int, float] | None = None,
        feed: bool = False,
    ) -> None:
        super().__init__(inner.scale, inner.margin, inner.tile)
        self.inner, self.plate, self.strength = inner, plate, strength
        #: ``inner``'s network sees the plate beside each frame (``models.plain.with_plate``).
        self.feed = feed
        #: The chroma part's strength (None: ``strength``), an archive's (``use_strength``).
        self.chroma: float | None = None
        self.by_setting = dict(by_setting or {})
        self.engine, self.precision = inner.engine, inner.precision
        self.batch_pixels = inner.batch_pixels

    def use_setting(self, setting: int | None) -> None:
        if setting is not None and self.by_setting:
            self.strength = self.by_setting[min(self.by_setting, key=lambda k: abs(k - setting))]

    def use_strength(self, strength: float, chroma: float | None = None) -> None:
        """Blend at ``strength`` (and the chroma part at ``chroma``; None: the same) whatever
        the setting: the strengths an archive recorded, chosen for it by its encoder."""
        self.strength, self.chroma, self.by_setting = strength, chroma, {}

    def restore_batch(
        self,
        frames: list[np.ndarray],
        sizes: list[tuple[int, int]],
        origins: list[tuple[int, int]] | None = None,
    ) -> list[np.ndarray]:
        """As ``TiledRestorer.restore_batch``; ``origins``: where each restored frame's top-left
        pixel lies in the full frame (a crop's), by default (0, 0)."""
        restored = self._restore(frames, sizes, origins)
        chroma = self.strength if self.chroma is None else self.chroma
        if self.strength <= 0 and chroma <= 0:
            return restored  # no blend: no difference from the plate to compute either
        return _mixed(self._blends(restored, origins), self.strength, chroma)

    def score_strengths(
        self,
        frames: list[np.ndarray],
        sizes: list[tuple[int, int]],
        origins: list[tuple[int, int]] | None,
        score: Callable[[list[np.ndarray]], float],
    ) -> dict[tuple[float, float], float]:
        """``score`` of the frames restored at each pair of ``STRENGTHS`` (luma) and
        ``CHROMA_STRENGTHS``, the network run once."""
        blends = self._blends(self._restore(frames, sizes, origins), origins)
        return {(s, c): score(_mixed(blends, s, c)) for s in STRENGTHS for c in CHROMA_STRENGTHS}

    def _restore(
        self,
        frames: list[np.ndarray],
        sizes: list[tuple[int, int]],
        origins: list[tuple[int, int]] | None,
    ) -> list[np.ndarray]:
        """``inner``'s restorations, each frame given with its part of the plate when ``inner``
        sees one (where the plate does not cover a frame, the frame stands in for it: no
        difference from the plate, so the network restores it from its own pixels)."""
        if not self.feed:
            return self.inner.restore_batch(frames, sizes)
        inputs = []
        for i, frame in enumerate(frames):
            rgb = to_rgb(frame)
            part = self._part(rgb.shape[:2], origins[i] if origins else None)
            inputs.append(np.concatenate([rgb, rgb if part is None else part], axis=2))
        restored = self.inner.restore_batch(inputs, sizes)
        return [
            np.round(r.mean(axis=2)).astype(np.uint8) if f.ndim == 2 else r
            for f, r in zip(frames, restored, strict=True)
        ]

    def _part(self, shape: tuple[int, ...], origin: tuple[int, int] | None) -> np.ndarray | None:
        """The plate under a frame of ``shape`` at ``origin`` (a crop's; None: a whole frame,
        which must be the plate's size), or None where the plate does not cover it."""
        (ph, pw), (h, w) = self.plate.shape[:2], shape[:2]
        y, x = origin or (0, 0)
        if y + h > ph or x + w > pw or (origin is None and (h, w) != (ph, pw)):
            return None
        return self.plate[y : y + h, x : x + w]

    def _blends(
        self, restored: list[np.ndarray], origins: list[tuple[int, int]] | None
    ) -> list[np.ndarray | _Blend]:
        """Each restored frame's blend towards its part of the plate, or the frame itself where
        the plate does not cover it."""
        out: list[np.ndarray | _Blend] = list(restored)
        for i, frame in enumerate(restored):
            part = self._part(frame.shape, origins[i] if origins else None)
            if frame.ndim == 3 and part is not None:
                out[i] = _Blend(frame, part)
        return out


def set_plate(
    path: str | Path,
    plate: np.ndarray | None,
    card: dict | None = None,
    out: str | Path | None = None,
) -> None:
    """Write the weights file at ``path`` again (to ``out``, by default in place) with ``plate``
    and its card entry ``card`` (strength, frames, gain), or without any plate (None)."""
    from safetensors.numpy import load as st_load
    from safetensors.numpy import save as st_save

    from ..atomic import write_bytes

    data = Path(path).read_bytes()
    tensors = st_load(data)
    (n,) = np.frombuffer(data[:8], "<u8")
    meta = json.loads(data[8 : 8 + int(n)]).get("__metadata__", {})
    full = json.loads(meta[CARD_KEY])
    full.pop("plate", None)
    tensors.pop(PLATE_KEY, None)
    if plate is not None:
        full["plate"], tensors[PLATE_KEY] = card or {}, encode_plate(plate)
    meta = {CARD_KEY: json.dumps(full, sort_keys=True)}
    write_bytes(Path(out or path), st_save(tensors, metadata=meta))
