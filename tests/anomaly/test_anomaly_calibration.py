"""The family threshold read from an AOI's past cycles: the rate it gives on new cycles is the
rate asked for (smooth Gaussian fields, whose maxima follow the random-field tail)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from insarhub.anomaly.calibration import family_threshold, leave_one_out


def maxima(rng: np.random.Generator, count: int, size: int = 48, width: float = 2.0) -> np.ndarray:
    fields = ndimage.gaussian_filter(rng.standard_normal((count, size, size)), (0, width, width))
    fields /= fields.std(axis=(1, 2), keepdims=True)
    return np.abs(fields).max(axis=(1, 2))


def test_the_past_cycles_give_a_threshold_with_the_asked_rate() -> None:
    rng = np.random.default_rng(8)
    fresh = maxima(rng, 2000)
    rates = []
    for _ in range(20):  # twenty AOIs, 47 past cycles each
        history = maxima(rng, 47)
        threshold = family_threshold(0.02, [history], np.ones(1))
        assert threshold is not None
        rates.append(float(np.mean(fresh > threshold)))
    assert 0.015 < float(np.mean(rates)) < 0.03
    assert family_threshold(0.02, [maxima(rng, 5)], np.ones(1)) is None  # too short


def test_a_past_date_is_judged_without_its_own_square() -> None:
    values = np.array([[[3.0]], [[1.0]]])
    # a prior variance of 1 with the weight of 9 dates, and the squares 9 and 1 of two dates
    total, weight = np.array([[9.0 * 1.0 + 9.0 + 1.0]]), np.array([[9.0 + 2.0]])
    z = leave_one_out(values, total, weight, values ** 2, 1)
    assert np.allclose(z[:, 0, 0], [3.0 / np.sqrt(10.0 / 10.0), 1.0 / np.sqrt(18.0 / 10.0)])


def test_the_threshold_carries_the_fits_own_error() -> None:
    """38 past cycles of a Gumbel law: the plug-in 2 % quantile is exceeded 2.5 % of the time
    on average (a noisy fit and a convex tail); the predictive threshold, 2 %."""
    from scipy import stats

    rng = np.random.default_rng(3)
    rates, plug_in = [], []
    for _ in range(1000):
        history = stats.gumbel_r.rvs(3.5, 0.4, size=38, random_state=rng)
        threshold = family_threshold(0.02, [history], np.ones(1))
        assert threshold is not None
        rates.append(float(stats.gumbel_r.sf(threshold, 3.5, 0.4)))
        fitted = stats.gumbel_r.fit(history)
        plug_in.append(float(stats.gumbel_r.sf(stats.gumbel_r.isf(0.02, *fitted), 3.5, 0.4)))
    assert 0.018 < float(np.mean(rates)) < 0.022
    assert float(np.mean(plug_in)) > 0.023
