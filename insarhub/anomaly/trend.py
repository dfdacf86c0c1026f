"""Each pixel's trend, and how much of it to trust when it is extrapolated to the newest dates.

The trend (offset, rate and, over a year or more, an annual term) is fitted per pixel to the
past dates on an orthonormal basis (QR of the design), so its coefficients are independent with
the noise's variance each. Extrapolated to the newest dates, every fitted coefficient adds its
own noise to the prediction; over 40 dates a linear + annual fit makes the newest residual's
variance 1.24x the noise's, and since that error is common to the two newest dates it is what
limits the test of a lasting step.

In the matched-filtered domain (bowls of a few hundred metres) most of the trend is noise: rates
and seasons are broad, and a filtered coefficient is mostly the filtered atmosphere of the past
dates. Each non-constant coefficient is therefore shrunk towards 0 by empirical Bayes, with the
prior's variance read locally from the coefficients themselves (their mean square over a few
filter widths minus the noise's): where a local rate or season is real it stands above the
noise and is kept, where it is not the prediction no longer carries its noise.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

POOL_WIDTHS = 2.0  # neighbourhood of a coefficient's prior variance, in filter widths


def orthonormal_basis(design: np.ndarray, fit_count: int) -> np.ndarray:
    """The design's columns re-expressed on an orthonormal basis over its first `fit_count`
    rows: `basis[:fit_count]` is Q of a QR, later rows extrapolate it. The first column stays
    the constant (the design's first column is ones)."""
    _, r = np.linalg.qr(design[:fit_count])
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return (design @ np.linalg.inv(r)) * signs[None, :]


def shrunk_part(coefficients: np.ndarray, past_residuals: np.ndarray, valid: np.ndarray,
                scale_px: float, fit_count: int, params: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of each filtered coefficient map (k, rows, cols) that empirical Bayes takes
    away: (1 - tau2 / (tau2 + v)) * coefficient, where v is each pixel's noise variance (from
    its in-sample residuals `past_residuals`, (n, rows, cols)) and tau2 the local variance of
    the coefficient beyond that noise; and the share kept, tau2 / (tau2 + v), per map."""
    n = past_residuals.shape[0]
    dof = max(1.0, n * (1.0 - params / fit_count))
    noise = np.sum(past_residuals.astype(np.float64) ** 2, axis=0) / dof
    width = POOL_WIDTHS * scale_px
    weight = ndimage.gaussian_filter(valid.astype(np.float64), width, mode="constant")
    weight = np.where(weight > 0, weight, 1.0)

    def local(values: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(np.where(valid, values, 0.0), width, mode="constant") / weight

    local_noise = local(noise)
    out = np.zeros_like(coefficients, dtype=np.float32)
    kept = np.zeros_like(coefficients, dtype=np.float32)
    for index, coefficient in enumerate(coefficients.astype(np.float64)):
        prior = np.maximum(local(coefficient ** 2) - local_noise, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            keep = np.where(prior + noise > 0, prior / (prior + noise), 1.0)
        out[index] = np.where(valid, (1.0 - keep) * coefficient, 0.0)
        kept[index] = np.where(valid, keep, 0.0)
    return out, kept


def prediction_variance(basis_rows: np.ndarray, kept: np.ndarray, weights: np.ndarray | None = None
                        ) -> np.ndarray:
    """Each pixel's variance (in units of its noise variance) of the trend's prediction for a
    weighted mean of dates (`basis_rows` (dates, params), `weights` summing to 1, default the
    first row alone): the constant's share plus every kept coefficient's (its noise is the
    noise's, on an orthonormal basis)."""
    rows = basis_rows if weights is None else (weights[:, None] * basis_rows).sum(axis=0,
                                                                                  keepdims=True)
    b = rows[0].astype(np.float32)
    return (b[0] ** 2 + np.tensordot(b[1:] ** 2, kept.astype(np.float32) ** 2, axes=1)
            ).astype(np.float32)
