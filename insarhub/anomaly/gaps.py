"""Pixels that are unreliable on some dates (decorrelated, missing): masked per date, never
filled. The trend of such a pixel is fitted to its good dates only (weighted least squares on
the same basis), its residual is 0 (no weight) where it is not good, and a date's maps are
judged only on the pixels good on it."""

from __future__ import annotations

import numpy as np

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
