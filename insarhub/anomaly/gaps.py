"""Pixels that are unreliable on some dates (decorrelated, missing): masked per date, never
filled as data. The trend of such a pixel is fitted to its good dates only (weighted least
squares on the same basis), a date's maps are judged only on the pixels good on it, and before
the matched filters its masked pixels take the smooth continuation of their good neighbours
(`smooth_fill`): a hole cut to 0 in an atmosphere of +-10 mm is a step at the snow line, which
the whitening filters (steep atmosphere spectrum: they lift the high wavenumbers) turn into a
ridge that no summer date had; 5 of 6 winter false alarms sat on such an edge."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# normalized convolution, finest first; the widest reaches deep into large holes: without it
# (0 beyond 20 px) winter false alarms were 5.0 %, with it 3.0 % (bench/results/anomaly_mountain.json)
FILL_WIDTHS_PX = (2.0, 8.0, 32.0)
FILL_MIN_WEIGHT = 0.05

MIN_GOOD_SHARE = 0.5  # of the fit dates: a pixel good on fewer is not judged at all


def good_dates(series: np.ndarray, reliable: np.ndarray | None) -> np.ndarray:
    """(dates, rows, cols) bool: finite and, when given, marked reliable."""
    good = np.isfinite(series)
    if reliable is not None:
        good &= np.asarray(reliable, dtype=bool)
    return good


def fit_with_gaps(basis: np.ndarray, data: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Per-pixel least-squares coefficients ((params, pixels)) of `data` ((dates, pixels),
    garbage where not `good`) on `basis` ((dates, params)), over each pixel's good dates."""
    params = basis.shape[1]
    coeffs = np.zeros((params, data.shape[1]), dtype=np.float64)
    full = good.all(axis=0)
    clean = np.where(good, data, 0.0)
    coeffs[:, full] = basis.T @ clean[:, full]  # orthonormal over all dates
    some = ~full
    if some.any():
        weights = good[:, some].astype(np.float64)
        normal = np.einsum("tp,tq,tm->mpq", basis, basis, weights)
        right = np.einsum("tp,tm->mp", basis, clean[:, some])
        normal += np.eye(params)[None] * 1e-9
        coeffs[:, some] = np.linalg.solve(normal, right[..., None])[..., 0].T
    return coeffs


def smooth_fill(maps: np.ndarray, good: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """`maps` (dates, rows, cols) with each date's pixels in `inside` but not `good` set to the
    normalized convolution of its good pixels (the finest width that reaches them); the
    others as they are. Only for filtering: those pixels stay masked in every judgement."""
    out = maps.astype(np.float32, copy=True)
    for index in range(maps.shape[0]):
        missing = inside & ~good[index]
        if not missing.any():
            continue
        weight = good[index].astype(np.float32)
        values = np.where(good[index], maps[index], 0.0).astype(np.float32)
        for width in FILL_WIDTHS_PX:
            density = ndimage.gaussian_filter(weight, width, mode="constant")
            reached = missing & (density >= FILL_MIN_WEIGHT)
            if reached.any():
                smooth = ndimage.gaussian_filter(values, width, mode="constant")
                out[index][reached] = smooth[reached] / density[reached]
                missing &= ~reached
            if not missing.any():
                break
        out[index][missing] = 0.0
    return out
