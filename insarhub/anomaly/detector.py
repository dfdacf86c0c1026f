"""`detect_anomaly`: does the newest date show local deformation, beyond atmosphere and noise?

Physics, in order:
- trend: each pixel's linear (+ annual, over a year or more) trend is fitted to all dates but
  the newest two; both are predicted, so neither leaks into its own reference. In the filtered
  domain the trend's rate and season are shrunk by empirical Bayes (`trend`) where they do not
  stand above the noise, so the prediction does not carry the past dates' atmosphere;
- atmosphere is smooth and new on every date: a plane (and a height term) is removed from each
  residual map, and the maps are whitened by the noise spectrum of the past residuals inside
  a matched filter for bowls of a few hundred metres to a kilometre (`filters`);
- every date has its own atmosphere strength (each filtered map is scaled by its own robust
  spread over the AOI) and every pixel its own noise level: the mean square of its own past
  filtered residuals, moderated towards its neighbourhood's by empirical Bayes (limma);
- deformation persists: besides the newest date alone, the mean of the two newest dates is
  tested (atmosphere averages down by sqrt 2, a lasting step does not);
- a significance level that holds for the whole AOI (`significance`: random field theory,
  Bonferroni over scales, maps and signs, never below what the AOI's own past maxima give)
  for `false_alarm_rate` per event-free cycle, two thirds of it spent on the two newest dates'
  mean (the bench measures the real rate, see bench/results/anomaly.json);
- connected regions (`regions`) with centre, extent, magnitude, significance, first date and
  status: new (first seen on the newest date) or confirmed (seen on both newest dates).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

import numpy as np
from scipy import ndimage, special

from insarhub.anomaly import filters, significance, trend
from insarhub.anomaly.config import DEFAULT_SCALES_M
from insarhub.anomaly.regions import find_regions
from insarhub.anomaly.report import AnomalyRegion, AnomalyReport
from insarhub.errors import ConfigError

NOISE_DATES = 48  # the most recent past dates whose residuals give each pixel's noise
Z_CONFIRM = 2.0  # a region is on a date when its z there reaches this (same sign)
MAX_DOF = 1000.0
MAD_TO_SIGMA = 1.4826
SPREAD_CLIP = 3.0  # a map's spread is the std of its values within this many spreads
PAIR_SHARE = 2.0 / 3.0  # share of the false-alarm rate spent on the mean of the two newest dates
POOL_SCALES = 2.0  # neighbourhood of the noise prior, in filter widths
ROUGHNESS_DATES = 12  # past dates whose z-maps give the field's smoothness
MIN_VALID_PIXELS = 64


def _years(dates: Sequence[date]) -> np.ndarray:
    return np.array([(d - dates[0]).days / 365.25 for d in dates], dtype=float)


def _design(t: np.ndarray, seasonal: bool) -> np.ndarray:
    columns = [np.ones_like(t), t]
    if seasonal:
        columns += [np.sin(2 * math.pi * t), np.cos(2 * math.pi * t)]
    return np.stack(columns, axis=1)


def _moderated_sigma(amplitudes: np.ndarray, valid: np.ndarray, scale_px: float
                     ) -> tuple[np.ndarray, float]:
    """Each pixel's noise from its own past values (mean square around 0, n dof), moderated
    towards its neighbourhood's level (pooled over `POOL_SCALES` filter widths) by empirical
    Bayes (Smyth 2004, the limma moderated t): the weight d0 of the neighbourhood is how little
    the pixels differ from it beyond sampling noise. Returns the sigma map and the dof of the
    moderated z (n + d0)."""
    n = float(amplitudes.shape[0])
    variance = np.mean(amplitudes.astype(np.float32) ** 2, axis=0)
    width = POOL_SCALES * scale_px
    weight = ndimage.gaussian_filter(valid.astype(np.float32), width, mode="constant")
    local = ndimage.gaussian_filter(np.where(valid, variance, 0.0).astype(np.float32), width,
                                    mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        local = local / weight
    usable = valid & (variance > 0) & (local > 0)
    ratio = np.log(variance[usable] / local[usable]).astype(np.float64)
    logs = ratio - special.digamma(n / 2) + math.log(n / 2)
    spread = float(np.var(logs)) - float(special.polygamma(1, n / 2))
    if spread <= 0:
        prior_dof, shift = math.inf, float(np.mean(logs))
    else:
        prior_dof = 2 * _inverse_trigamma(spread)
        shift = float(np.mean(logs) + special.digamma(prior_dof / 2) - math.log(prior_dof / 2))
    prior = local * math.exp(shift)
    moderated = prior if math.isinf(prior_dof) else (prior_dof * prior + n * variance) / (prior_dof + n)
    sigma = np.where(usable, np.sqrt(moderated), np.inf).astype(np.float32)
    return sigma, min(n + prior_dof, MAX_DOF)


def _clipped_std_factor(clip: float) -> float:
    """The std of a standard normal cut at +-`clip`."""
    density = math.exp(-clip * clip / 2) / math.sqrt(2 * math.pi)
    inside = 1.0 - 2.0 * float(special.ndtr(-clip))
    return math.sqrt(1.0 - 2 * clip * density / inside)


_CLIP_FACTOR = _clipped_std_factor(SPREAD_CLIP)


def _spread(values: np.ndarray) -> float:
    """A map's spatial spread: the std of the values within SPREAD_CLIP spreads of the median,
    iterated from the MAD and scaled to a normal's. As robust as the MAD to a large local event
    or outliers, and nearly as precise as the plain std (the spread's noise is noise in every z)."""
    centre = float(np.median(values))
    deviation = np.abs(values - centre)
    spread = MAD_TO_SIGMA * float(np.median(deviation))
    for _ in range(3):
        inside = deviation <= SPREAD_CLIP * spread
        if spread <= 0 or inside.sum() < 2:
            break
        spread = float(np.sqrt(np.mean(deviation[inside] ** 2))) / _CLIP_FACTOR
    return spread


def _per_date(maps: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each map divided by its own spatial spread: every date has its own atmosphere, and its
    strength is read from that date."""
    step = max(1, int(valid.sum()) // 200_000)
    out = np.empty_like(maps)
    for index, one in enumerate(maps):
        spread = _spread(one[valid][::step].astype(np.float64))
        out[index] = one / (spread if spread > 0 else 1.0)
    return out


def _inverse_trigamma(value: float) -> float:
    """x with trigamma(x) = value (Newton's method, as limma does)."""
    x = 0.5 + 1.0 / value
    for _ in range(50):
        tri = float(special.polygamma(1, x))
        step = tri * (1 - tri / value) / float(special.polygamma(2, x))
        x += step
        if -step / x < 1e-8:
            break
    return x


def _empty(newest: str, threshold_mm: float, valid_pixels: int, reason: str) -> AnomalyReport:
    return AnomalyReport(date=newest, residual_mm=0.0, max_residual_mm=0.0,
                         threshold_mm=threshold_mm, anomalous=False, pixels_over=0,
                         valid_pixels=valid_pixels, reason=reason)


def detect_anomaly(
    dates: Sequence[date],
    displacement_m: np.ndarray,
    threshold_mm: float = 10.0,
    *,
    mask: np.ndarray | None = None,
    height: np.ndarray | None = None,
    pixel_size_m: float = 80.0,
    false_alarm_rate: float = 0.02,
    scales_m: Sequence[float] = DEFAULT_SCALES_M,
    min_dates: int = 8,
) -> AnomalyReport:
    """Regions of the newest date of `displacement_m` ((n_dates, rows, cols), metres, LOS)
    that depart from their own trend beyond their own noise, separated from atmosphere.

    `mask` marks reliable pixels; `height` (m, optional) lets a stratified delay be removed;
    `threshold_mm` is the least |magnitude| of a reported region.
    """
    series = np.asarray(displacement_m)
    if series.ndim != 3:
        raise ConfigError(f"displacement must be (dates, rows, cols), got shape {series.shape}")
    if len(dates) != series.shape[0]:
        raise ConfigError(f"{len(dates)} dates for a time series of {series.shape[0]} "
                          "epochs: they must match")
    if pixel_size_m <= 0:
        raise ConfigError(f"pixel_size_m {pixel_size_m} must be > 0")
    order = np.argsort(np.array([d.toordinal() for d in dates]))
    ordered = [dates[i] for i in order]
    newest, previous = ordered[-1].strftime("%Y%m%d"), ordered[-2].strftime("%Y%m%d")
    shape = (int(series.shape[1]), int(series.shape[2]))
    valid = np.all(np.isfinite(series), axis=0)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool).reshape(shape)
    fit_count = len(ordered) - 2
    if fit_count < min_dates:
        return _empty(newest, threshold_mm, int(valid.sum()),
                      f"{fit_count} dates before the newest two, {min_dates} needed to fit "
                      "each pixel's trend and noise")
    if valid.sum() < MIN_VALID_PIXELS:
        return _empty(newest, threshold_mm, int(valid.sum()),
                      f"{int(valid.sum())} reliable pixels, {MIN_VALID_PIXELS} needed")

    t = _years(ordered)
    design = _design(t, seasonal=t[fit_count - 1] - t[0] >= 0.9)
    basis = trend.orthonormal_basis(design, fit_count).astype(np.float32)
    past = list(range(max(0, fit_count - NOISE_DATES), fit_count))
    use = [*past, fit_count, fit_count + 1]
    data = series[order[use]][:, valid].astype(np.float64)
    coeffs = basis[:fit_count].T.astype(np.float64) @ series[order[:fit_count]][:, valid].astype(np.float64)
    residual = np.zeros((len(use), *shape), dtype=np.float32)
    residual[:, valid] = (data - basis[use] @ coeffs).astype(np.float32)
    maps = filters.remove_plane(residual, valid, height)
    coefficient_maps = np.zeros((basis.shape[1] - 1, *shape), dtype=np.float32)
    coefficient_maps[:, valid] = coeffs[1:]  # rate and seasons: the constant is never shrunk

    scales_px = [s / pixel_size_m for s in scales_m]
    matched, past_spectra = filters.make_filters(maps[:-2], scales_px)
    new_spectra = matched.spectra(maps[-2:])
    coefficient_spectra = matched.spectra(filters.remove_plane(coefficient_maps, valid, height))
    z_maps, amplitudes, z_previous, lam2 = [], [], [], []
    dofs: list[float] = []
    maxima: list[np.ndarray] = []
    for index, scale in enumerate(scales_px):
        past_amp = matched.apply(past_spectra, index)
        new_amp = matched.apply(new_spectra, index)
        taken = trend.shrunk_part(matched.apply(coefficient_spectra, index), past_amp, valid, scale,
                                  fit_count, basis.shape[1])
        past_amp += np.tensordot(basis[past, 1:], taken, axes=1)
        new_amp += np.tensordot(basis[fit_count:fit_count + 2, 1:], taken, axes=1)
        past_pair = (past_amp[1:] + past_amp[:-1]) / 2
        new_pair = (new_amp[:1] + new_amp[1:]) / 2
        past_scaled = _per_date(past_amp, valid)
        sigma, dof_one = _moderated_sigma(past_scaled, valid, scale)
        dofs += [dof_one, dof_one]  # a mean of two dates has the same per-pixel pattern
        lam2.append(significance.roughness(past_scaled[-ROUGHNESS_DATES:] / sigma, valid))
        past_z = [past_scaled / sigma, _per_date(past_pair, valid) / sigma]
        maxima += [np.abs(np.where(valid, m, 0.0)).max(axis=(1, 2)) for m in past_z]
        single = _per_date(new_amp, valid) / sigma
        z_maps += [single[1], _per_date(new_pair, valid)[0] / sigma]
        amplitudes += [new_amp[1], new_pair[0]]
        z_previous.append(single[0])
    z = np.where(valid, np.stack(z_maps), 0.0).astype(np.float32)
    # each map's share of the false-alarm rate, per sign: a lasting step (the two newest dates)
    # is what most alerts are about, so the pair maps get PAIR_SHARE of it
    shares = np.array([(1.0 - PAIR_SHARE, PAIR_SHARE)[k % 2] / (2 * len(scales_px))
                       for k in range(len(z_maps))])
    area, perimeter = float(valid.sum()), float(significance.boundary_pixels(valid))
    thresholds = np.array([max(significance.field_threshold(false_alarm_rate * shares[k], area,
                                                            perimeter, lam2[k // 2], dofs[k]),
                               significance.history_threshold(2 * false_alarm_rate * shares[k],
                                                              maxima[k]))
                           for k in range(len(z_maps))])
    raw, labels = find_regions(z, thresholds, np.stack(amplitudes), valid)

    regions: list[AnomalyRegion] = []
    pixel_km2 = (pixel_size_m / 1000.0) ** 2
    for item in raw:
        scale_index = item.map_index // 2
        sign = 1.0 if item.z > 0 else -1.0
        seen_before = sign * float(z_previous[scale_index][item.peak]) >= Z_CONFIRM
        seen_now = sign * float(z[2 * scale_index][item.peak]) >= Z_CONFIRM
        magnitude = item.amplitude * 1000.0
        if abs(magnitude) < threshold_mm:
            labels[labels == item.label] = 0
            continue
        regions.append(AnomalyRegion(
            row=int(round(item.centre[0])), col=int(round(item.centre[1])),
            magnitude_mm=round(magnitude, 2), extent_km2=round(item.half_peak_pixels * pixel_km2, 3),
            significance=round(abs(item.z), 2),
            p_value=significance.family_p_value(item.z, shares[item.map_index], area, perimeter,
                                                lam2[scale_index], dofs[item.map_index]),
            first_date=previous if seen_before else newest,
            status="confirmed" if seen_before and seen_now else "new",
            pixels=item.pixels, scale_m=float(scales_m[scale_index])))
    newest_single = np.stack(amplitudes[0::2])
    strongest = np.unravel_index(int(np.argmax(np.abs(np.where(valid, newest_single, 0)))),
                                 newest_single.shape)
    top = regions[0] if regions else None
    return AnomalyReport(
        date=newest, previous_date=previous, pixel_size_m=pixel_size_m,
        residual_mm=round(abs(top.magnitude_mm) if top else
                          abs(float(newest_single[strongest])) * 1000.0, 3),
        max_residual_mm=round(float(np.abs(maps[-1][valid]).max()) * 1000.0, 3),
        threshold_mm=threshold_mm, anomalous=bool(regions),
        pixels_over=int(sum(r.pixels for r in regions)), valid_pixels=int(valid.sum()),
        row=top.row if top else int(strongest[1]), col=top.col if top else int(strongest[2]),
        reason=(f"{len(regions)} region(s) beyond the noise" if regions else
                "no region beyond its own noise and the threshold"),
        regions=regions, z_threshold=round(float(thresholds.min()), 2),
        residual_map=np.where(valid, maps[-1], np.nan), region_labels=labels)
