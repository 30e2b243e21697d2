"""Bjøntegaard delta rate (BD-rate, PSNR): the mean rate difference, in percent, between two
rate-distortion curves at equal PSNR, each log-rate curve interpolated as a function of PSNR by
a monotone cubic (pchip; piecewise linear without scipy), over the PSNR interval both cover.
Negative: the test curve needs fewer bits for the same quality.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["bd_rate"]

Points = Sequence[tuple[float, float]]  # (bits per pixel, PSNR dB)


def _curve(points: Points, x: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) arrays of a curve with x strictly increasing: PSNR -> log-rate (``x="psnr"``) or
    log-rate -> PSNR (``x="rate"``); points that break monotonicity are dropped."""
    pts = sorted((float(r), float(q)) for r, q in points if r > 0 and np.isfinite(q))
    kept: list[tuple[float, float]] = []
    for r, q in pts:
        if not kept or (r > kept[-1][0] and q > kept[-1][1]):
            kept.append((r, q))
    rate, psnr = np.log([r for r, _ in kept]), np.array([q for _, q in kept])
    return (psnr, rate) if x == "psnr" else (rate, psnr)


def _interp(xs: np.ndarray, ys: np.ndarray, at: np.ndarray) -> np.ndarray:
    try:
        from scipy.interpolate import PchipInterpolator
    except ImportError:
        return np.interp(at, xs, ys)
    return PchipInterpolator(xs, ys)(at)


def bd_rate(
    reference: Points, test: Points, rates: tuple[float, float] | None = None
) -> float | None:
    """BD-rate of ``test`` against ``reference`` in percent, or None where the curves share no
    PSNR interval (or have fewer than two usable points). ``rates`` (low, high bits per pixel)
    limits the interval to the PSNR the reference reaches within those rates."""
    ref_q, ref_r = _curve(reference, "psnr")
    test_q, test_r = _curve(test, "psnr")
    if len(ref_q) < 2 or len(test_q) < 2:
        return None
    lo, hi = max(ref_q[0], test_q[0]), min(ref_q[-1], test_q[-1])
    if rates is not None:
        log_r, q = _curve(reference, "rate")
        bounds = _interp(log_r, q, np.log(np.clip(rates, np.exp(log_r[0]), np.exp(log_r[-1]))))
        lo, hi = max(lo, float(bounds[0])), min(hi, float(bounds[1]))
    if hi - lo < 1e-6:
        return None
    grid = np.linspace(lo, hi, 256)
    gap = np.mean(_interp(test_q, test_r, grid) - _interp(ref_q, ref_r, grid))
    return float((np.exp(gap) - 1) * 100)
