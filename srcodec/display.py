"""Figures as people read them in srcodec's messages: counts with the right plural, size ratios,
frame rates, and PSNR values that may be infinite (identical frames) or undefined.
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["count", "db", "db_gain", "fps", "ratio"]


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 frame``, ``2 frames``, ``0 frames``."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def ratio(before: int, after: int) -> str:
    """How ``after`` bytes compare to ``before``: ``6.64x smaller``, ``1.6x larger``, or
    ``same size``."""
    if before <= 0 or after <= 0:
        return "size ratio n/a"
    if before == after:
        return "same size"
    if before > after:
        return f"{before / after:.2f}x smaller"
    return f"{after / before:.2f}x larger"


def fps(rate: Fraction | float | str) -> str:
    """A frame rate as people write it: ``10``, ``12.5``, ``29.97``; one that is not a round
    figure at three decimals is marked ``~`` (``1000000/66667`` is ``~15``)."""
    exact = Fraction(rate)
    shown = round(float(exact), 3)
    text = f"{shown:g}"
    return text if Fraction(text) == exact or exact.denominator == 1001 else f"~{text}"


def db(value: float, digits: int = 2) -> str:
    """A PSNR: ``34.12 dB``, ``identical`` (infinite: no difference at all), ``n/a`` (not
    defined: nothing was measured)."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "identical" if value > 0 else "n/a"
    return f"{value:.{digits}f} dB"


def db_gain(gain: float, digits: int = 2) -> str:
    """A PSNR difference: ``+0.31 dB``; ``n/a`` when one side is not finite (an identical
    restore has no finite gain to show)."""
    if not math.isfinite(gain):
        return "n/a"
    return f"{gain:+.{digits}f} dB"
