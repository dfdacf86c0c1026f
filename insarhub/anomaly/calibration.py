"""A false-alarm rate that means what it says: the threshold calibrated on the AOI's own past.

Random field theory per map with Bonferroni across the maps (scales x date combinations x
signs) is liberal per map and conservative across the family; by how much depends on the AOI
(its atmosphere, its noise's tails, the maps' correlation). Each past date is a cycle that
already happened, almost always without an event: judged like a new one, its family p-value
(the least rate at which its most significant map would alarm) is, on a calibrated scale,
uniform. The share of past cycles below a moderate level `a0` measures the ratio `eta` of the
real to the nominal rate there; the tail of both is the same Gaussian exponential, so the ratio
holds on down to the user's rate, and the maps are tested at `false_alarm_rate / eta`.

A past date is judged out of sample: each pixel's noise is its own past mean square moderated
towards its neighbourhood's, and the date's own contribution is taken out of it (leave one
out), as a new date's is never in it. Cost: the maxima of maps the detector already makes.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

ANCHOR_QUANTILE = 0.2  # the share of past cycles at which the rate ratio is read
RATIO_LIMITS = (0.1, 10.0)  # a history too short or odd cannot move the level further
MIN_CYCLES = 12


def leave_one_out(values: np.ndarray, total: np.ndarray, weight: np.ndarray,
                  removed: np.ndarray, count: int) -> np.ndarray:
    """z of `values` (n, rows, cols) against the pixel noise `total / weight` (sum of squares
    and count, the prior's included) less the `count` dates of each value, whose squares sum
    to `removed` (n, rows, cols)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (total[None] - removed) / (weight[None] - count)
        out = values / np.sqrt(np.maximum(variance, 1e-12))
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def cycle_p_values(maxima: list[np.ndarray], shares: np.ndarray, area: float,
                   perimeter: float, lam2: list[float], dofs: list[float]) -> np.ndarray:
    """Each past cycle's family p-value: the least Bonferroni-RFT rate at which its most
    significant map (its maximum |z| in `maxima[k][cycle]`) would alarm (as
    `significance.family_p_value`, vectorised over the cycles)."""
    cycles = min(len(m) for m in maxima)
    p = np.ones(cycles)
    for k, values in enumerate(maxima):
        tail = np.abs(np.asarray(values[-cycles:], dtype=float))
        u = stats.norm.isf(np.maximum(stats.t.sf(tail, dofs[k]), 1e-300))
        g = np.exp(-u * u / 2.0)
        euler = (area * lam2[k] / (2 * np.pi) ** 1.5 * u * g
                 + perimeter / 2.0 * np.sqrt(lam2[k]) / (2 * np.pi) * g + stats.norm.sf(u))
        p = np.minimum(p, np.minimum(1.0, euler / float(shares[k])))
    return p


def rate_ratio(p_values: np.ndarray) -> float:
    """eta: the real rate over the nominal one, read where ANCHOR_QUANTILE of the past cycles
    lie below their family p-value (1.0 when the history is too short to say)."""
    values = np.sort(np.asarray(p_values, dtype=float))
    if values.size < MIN_CYCLES:
        return 1.0
    anchor = float(np.quantile(values, ANCHOR_QUANTILE))
    if anchor <= 0:
        return RATIO_LIMITS[1]
    return float(np.clip(ANCHOR_QUANTILE / anchor, *RATIO_LIMITS))
