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
quantile is the threshold. That plug-in quantile is too low on average: fitted to 38 cycles,
the 2 % quantile of a Gumbel law is exceeded 2.5 % of the time (the fit's own error, and the
tail is convex). The threshold is therefore the predictive one: a location-scale family's
fitted quantile is a pivot, so the factor q with P(new > loc + q scale) = rate, the fit's error
included, depends only on the number of cycles and is found once by simulation (`PIVOT_FITS`
fits of standard Gumbel samples). On smooth Gaussian fields, 47 past cycles give about 2 % for
2 % (tests/anomaly/test_anomaly_calibration.py); the random-field tail fitted at one quantile
gave 6-11 %.

A past date is judged out of sample: each pixel's noise is its own past mean square moderated
towards its neighbourhood's, and the date's own contribution is taken out of it (leave one
out), as a new date's is never in it. Cost: the maxima of maps the detector already makes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize, stats

MIN_CYCLES = 12
PIVOT_FITS = 1000  # simulated fits per number of cycles (about 0.5 s, once per process)


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
    return float(location + scale * predictive_factor(alpha, int(values.size)))


@lru_cache(maxsize=32)
def _pivot_fits(cycles: int) -> tuple[np.ndarray, np.ndarray]:
    """Gumbel fits (location, scale) of `PIVOT_FITS` standard Gumbel samples of `cycles`."""
    rng = np.random.default_rng(cycles)
    samples = stats.gumbel_r.rvs(size=(PIVOT_FITS, cycles), random_state=rng)
    fits = np.array([stats.gumbel_r.fit(sample) for sample in samples])
    return fits[:, 0], fits[:, 1]


@lru_cache(maxsize=256)
def predictive_factor(alpha: float, cycles: int) -> float:
    """q such that a new cycle's maximum exceeds the fitted location + q x fitted scale with
    probability `alpha`, averaged over the fits `cycles` past cycles give."""
    location, scale = _pivot_fits(cycles)

    def excess(q: float) -> float:
        return float(np.mean(stats.gumbel_r.sf(location + scale * q))) - alpha

    return float(optimize.brentq(excess, -5.0, 100.0))
