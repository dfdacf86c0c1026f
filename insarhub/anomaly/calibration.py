"""A false-alarm rate that means what it says: the threshold calibrated on the AOI's own past.

Random field theory per map with Bonferroni across the maps (scales x date combinations x
signs) is liberal per map and conservative across the family; by how much depends on the AOI
(its atmosphere, its noise's tails, the maps' correlation, the noise of each date's spread).
Each past date is a cycle that already happened, almost always without an event: judged like
a new one, the largest of its maps' |z| (each map's |z| divided by its share's random-field
threshold relative to the others', so that the two newest dates' mean keeps its larger share)
is a draw of the family's maximum in an event-free cycle. Maxima follow a Gumbel law (their
limit law; its location and scale absorb the field's resolution elements and any extra spread
of the z); fitted to the past cycles by maximum likelihood, its upper `false_alarm_rate`
quantile is the threshold. On smooth Gaussian fields, 47 past cycles give 2.2 % for 2 %
(tests/anomaly/test_anomaly_calibration.py); the random-field tail fitted at one quantile gave
6-11 %.

A past date is judged out of sample: each pixel's noise is its own past mean square moderated
towards its neighbourhood's, and the date's own contribution is taken out of it (leave one
out), as a new date's is never in it. Cost: the maxima of maps the detector already makes.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

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


def family_maxima(maxima: list[np.ndarray], relative: np.ndarray) -> np.ndarray:
    """Each past cycle's family maximum: max over maps k of maxima[k][cycle] / relative[k]
    (cycles aligned on the newest, the shortest list decides how many)."""
    cycles = min(len(m) for m in maxima)
    stacked = np.stack([np.asarray(m[-cycles:], dtype=float) / r
                        for m, r in zip(maxima, relative, strict=True)])
    return stacked.max(axis=0)


def family_threshold(alpha: float, maxima: list[np.ndarray], relative: np.ndarray
                     ) -> float | None:
    """The threshold (in units of `relative`) that the family's maximum exceeds with
    probability `alpha` per event-free cycle, from the AOI's past cycles (a Gumbel law fitted
    to their family maxima by maximum likelihood); None when the history is too short."""
    values = family_maxima(maxima, relative)
    values = values[np.isfinite(values)]
    if values.size < MIN_CYCLES:
        return None
    location, scale = stats.gumbel_r.fit(values)
    return float(stats.gumbel_r.isf(alpha, location, scale))
