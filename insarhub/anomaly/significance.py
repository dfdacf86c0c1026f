"""How significant a peak of a smooth noise map is: random field theory for the whole AOI.

A z-map of matched-filtered noise is a smooth random field: its largest value over the AOI
grows with the number of resolution elements, which depends on the field's smoothness, not on
its pixel count. The expected Euler characteristic of the excursion set above `u` (Worsley
1996; area, boundary and point terms of a 2-D field) is a sharp upper estimate of the chance
that the maximum exceeds `u`; the threshold solves it for the false-alarm rate. The per-pixel
noise is estimated from a few dozen past dates, so z is converted through Student's t.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats


def boundary_pixels(valid: np.ndarray) -> int:
    """Valid pixels with a 4-neighbour outside the valid area (or the image)."""
    padded = np.pad(valid, 1, constant_values=False)
    inner = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    return int((valid & ~inner).sum())


def expected_euler(u: float, area: float, perimeter: float, lam2: float) -> float:
    """E[Euler characteristic] of {z >= u} for a unit-variance Gaussian field of roughness
    `lam2` (variance of its derivative per pixel) over `area` px^2 with `perimeter` px."""
    g = math.exp(-u * u / 2.0)
    return (area * lam2 / (2 * math.pi) ** 1.5 * u * g
            + perimeter / 2.0 * math.sqrt(lam2) / (2 * math.pi) * g
            + float(stats.norm.sf(u)))


def field_threshold(alpha: float, area: float, perimeter: float, lam2: float, dof: float) -> float:
    """The z a field's maximum exceeds with probability `alpha` (one tail)."""
    def excess(u: float) -> float:
        return expected_euler(u, area, perimeter, lam2) - alpha

    gaussian = float(optimize.brentq(excess, 0.5, 40.0)) if excess(0.5) > 0 else 0.5
    return float(stats.t.isf(stats.norm.sf(gaussian), dof))


def family_p_value(z: float, share: float, area: float, perimeter: float, lam2: float,
                   dof: float) -> float:
    """The family-wise p-value of a peak of |z| in a one-tailed map that was given `share` of
    the false-alarm rate: the least rate at which it would be reported."""
    gaussian = float(stats.norm.isf(max(float(stats.t.sf(abs(z), dof)), 1e-300)))
    return float(min(1.0, expected_euler(gaussian, area, perimeter, lam2) / share))


def roughness(z: np.ndarray, valid: np.ndarray) -> float:
    """lam2 of unit-variance fields `z` (n, rows, cols): mean squared neighbour difference."""
    dx = (z[:, :, 1:] - z[:, :, :-1])[:, valid[:, 1:] & valid[:, :-1]]
    dy = (z[:, 1:, :] - z[:, :-1, :])[:, valid[1:, :] & valid[:-1, :]]
    values = np.concatenate([dx.ravel(), dy.ravel()]).astype(np.float64)
    return float(np.mean(values ** 2)) if values.size else 1.0


def history_threshold(alpha: float, past_maxima: np.ndarray, quantile: float = 0.75) -> float:
    """The threshold that the AOI's own history gives: the maxima of |z| over the AOI on past
    (event-free, mostly) dates fix the effective number of resolution elements R of the tail
    model P(max |z| > u) = 2 R u exp(-u^2 / 2) at their `quantile`; solved for `alpha`."""
    values = np.asarray(past_maxima, dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 5:
        return 0.0
    anchor = float(np.quantile(values, quantile))
    resels = (1.0 - quantile) / (2.0 * anchor * math.exp(-anchor * anchor / 2.0))

    def excess(u: float) -> float:
        return 2.0 * resels * u * math.exp(-u * u / 2.0) - alpha

    low = max(anchor, 1.0)
    return float(optimize.brentq(excess, low, 40.0)) if excess(low) > 0 else low
