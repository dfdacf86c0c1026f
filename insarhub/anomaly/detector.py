"""`detect_anomaly`: does the newest date show local deformation, beyond atmosphere and noise?

Physics, in order:
- trend: each pixel's linear (+ annual, over a year or more) trend is fitted to all dates but
  the newest two; both are predicted, so neither leaks into its own reference. In the filtered
  domain the trend's rate and season are shrunk by empirical Bayes (`trend`) where they do not
  stand above the noise, so the prediction does not carry the past dates' atmosphere;
- unwrapping errors: the newest dates' interferograms, when given, are checked by closure
  (`unwrap`): a connected patch where one pair disagrees with the others by whole cycles is
  corrected in the series and reported with its interferogram, never as deformation;
- pixels missing (NaN) or unreliable (`reliable`) on a date are masked on that date (`gaps`):
  the trend is fitted to their good dates, they weigh nothing in that date's maps;
- atmosphere is smooth and new on every date: a plane (and a height term, the stratified
  delay) is removed from each date's map, and the maps are whitened by the noise spectrum of
  the past residuals inside a matched filter for bowls of a few hundred metres to a kilometre
  (`filters`);
- every date has its own atmosphere strength (each filtered map is scaled by its own robust
  spread over the AOI) and every pixel its own noise level: the mean square of its own past
  filtered residuals, moderated towards its neighbourhood's by empirical Bayes (limma);
- the trend's prediction for the newest dates carries the kept coefficients' noise: each
  pixel's newest z is divided by its own prediction variance, and each past date's by its
  in-sample one (`trend.prediction_variance`);
- deformation persists: besides the newest date alone, the mean of the two newest dates is
  tested, each date weighted by the inverse of its own atmosphere's variance (atmosphere
  averages down, a lasting step does not);
- a significance level that holds for the whole AOI for `false_alarm_rate` per event-free
  cycle (`calibration`): the past dates, judged out of sample like new ones, give the tail of
  the family's maximum; random field theory (`significance`) only shares the level among the
  maps, two thirds of it to the two newest dates' mean (measured: bench/results/anomaly.json);
- connected regions (`regions`) with centre, extent, magnitude, significance, first date and
  status: new (first seen on the newest date) or confirmed (seen on both newest dates).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy import ndimage, special

from insarhub.anomaly import calibration, filters, gaps, significance, trend, unwrap
from insarhub.anomaly.config import DEFAULT_SCALES_M
from insarhub.anomaly.regions import find_regions
from insarhub.anomaly.report import AnomalyRegion, AnomalyReport, UnwrappingErrorRegion
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
# a map narrower than this many widest bowls can hardly tell a bowl from atmosphere: with 80 m
# pixels and bowls up to 1 km, 2.2 km maps found no 40 mm event, 5.1 km maps all of them
# (bench/results/anomaly_map_size.json)
MIN_SIDE_IN_BOWLS = 5.0
PRIOR_ONLY_WEIGHT = 1e6  # a prior that takes all the weight, as a count
# with watched sites, the share of the false-alarm rate spent on them (the rest on the AOI):
# one rate for the whole cycle, and a small search area needs a far lower threshold
WATCH_SHARE = 0.5
MIN_WATCH_PIXELS = 9


def _years(dates: Sequence[date]) -> np.ndarray:
    return np.array([(d - dates[0]).days / 365.25 for d in dates], dtype=float)


def _design(t: np.ndarray, seasonal: bool) -> np.ndarray:
    columns = [np.ones_like(t), t]
    if seasonal:
        columns += [np.sin(2 * math.pi * t), np.cos(2 * math.pi * t)]
    return np.stack(columns, axis=1)


def _moderated_sigma(amplitudes: np.ndarray, valid: np.ndarray, scale_px: float,
                     good: np.ndarray | None = None) -> Noise:
    """Each pixel's noise from its own past values (mean square around 0, over the dates it is
    good on), moderated towards its neighbourhood's level (pooled over `POOL_SCALES` filter
    widths) by empirical Bayes (Smyth 2004, the limma moderated t): the weight d0 of the
    neighbourhood is how little the pixels differ from it beyond sampling noise."""
    squares = amplitudes.astype(np.float32) ** 2
    if good is None:
        count = np.full(valid.shape, float(amplitudes.shape[0]), dtype=np.float32)
        sum_sq = np.sum(squares, axis=0)
    else:
        count = np.sum(good, axis=0).astype(np.float32)
        sum_sq = np.sum(np.where(good, squares, 0.0), axis=0)
    n = float(np.median(count[valid])) if valid.any() else float(amplitudes.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(count > 0, sum_sq / np.maximum(count, 1.0), 0.0)
    width = POOL_SCALES * scale_px
    weight = ndimage.gaussian_filter(valid.astype(np.float32), width, mode="constant")
    local = ndimage.gaussian_filter(np.where(valid, variance, 0.0).astype(np.float32), width,
                                    mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        local = local / weight
    usable = valid & (variance > 0) & (local > 0) & (count >= 2)
    ratio = np.log(variance[usable] / local[usable]).astype(np.float64)
    logs = ratio - special.digamma(n / 2) + math.log(n / 2)
    spread = float(np.var(logs)) - float(special.polygamma(1, n / 2))
    if spread <= 0:
        prior_dof, shift = math.inf, float(np.mean(logs))
    else:
        prior_dof = 2 * _inverse_trigamma(spread)
        shift = float(np.mean(logs) + special.digamma(prior_dof / 2) - math.log(prior_dof / 2))
    prior = local * math.exp(shift)
    d0 = PRIOR_ONLY_WEIGHT if math.isinf(prior_dof) else prior_dof
    own = 0.0 if math.isinf(prior_dof) else 1.0
    total = np.asarray(d0 * prior + own * sum_sq, dtype=np.float32)
    counts = np.asarray(d0 + own * count, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.where(usable, np.sqrt(total / counts), np.inf).astype(np.float32)
    return Noise(sigma, min(n + prior_dof, MAX_DOF), total, counts)


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


def _spreads(maps: np.ndarray, valid: np.ndarray, good: np.ndarray | None = None
             ) -> np.ndarray:
    """Each map's spatial spread over the valid pixels (good on its date, when given)."""
    out = np.ones(maps.shape[0])
    for index, one in enumerate(maps):
        inside = valid if good is None else valid & good[index]
        values = one[inside]
        step = max(1, values.size // 200_000)
        spread = _spread(values[::step].astype(np.float64)) if values.size else 0.0
        out[index] = spread if spread > 0 else 1.0
    return out


def _per_date(maps: np.ndarray, valid: np.ndarray, good: np.ndarray | None = None
              ) -> np.ndarray:
    """Each map divided by its own spatial spread: every date has its own atmosphere, and its
    strength is read from that date."""
    return (maps / _spreads(maps, valid, good)[:, None, None]).astype(np.float32)


def _pairs(maps: np.ndarray, spreads: np.ndarray) -> np.ndarray:
    """Means of consecutive maps weighted by the inverse of each one's spread squared: a lasting
    step is the same on both dates, and a date with a strong atmosphere weighs less."""
    w = (1.0 / spreads ** 2)[:, None, None].astype(np.float32)
    return ((w[1:] * maps[1:] + w[:-1] * maps[:-1]) / (w[1:] + w[:-1])).astype(np.float32)


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


@dataclass
class Noise:
    """A pixel noise map and what it is made of (for leave-one-out z of past dates)."""

    sigma: np.ndarray
    dof: float
    total: np.ndarray  # prior weight x prior + sum of squares
    weight: np.ndarray  # prior weight + count


@dataclass
class Residuals:
    """The residual maps of the noise dates and the newest two, ready to be filtered."""

    maps: np.ndarray  # (past + 2, rows, cols), planes (and height) removed
    coefficient_maps: np.ndarray  # the trend's non-constant coefficients (rate, seasons)
    good: np.ndarray | None  # (past + 2, rows, cols) per-date reliability, None: all good
    basis: np.ndarray
    past: list[int]  # indices (into the ordered dates) of the noise dates
    fit_count: int
    unwrapping: list[unwrap.PatchError]


def _residuals(ordered: list[date], series: np.ndarray, order: np.ndarray, valid: np.ndarray,
               good_all: np.ndarray | None, height: np.ndarray | None,
               pairs: Mapping[tuple[date, date], np.ndarray] | None) -> Residuals:
    """Trend fit, newest dates' unwrapping corrections, per-date plane and height removal."""
    shape = valid.shape
    fit_count = len(ordered) - 2
    t = _years(ordered)
    design = _design(t, seasonal=t[fit_count - 1] - t[0] >= 0.9)
    basis = trend.orthonormal_basis(design, fit_count).astype(np.float32)
    past = list(range(max(0, fit_count - NOISE_DATES), fit_count))
    use = [*past, fit_count, fit_count + 1]
    data = series[order[use]][:, valid].astype(np.float64)
    good = None if good_all is None else good_all[order[use]]
    found: list[unwrap.PatchError] = []
    if pairs:
        window = order[max(0, len(order) - 2 - unwrap.MIN_PAIRS - 3):]
        sub = np.nan_to_num(series[window])
        changes, found = unwrap.find_and_correct(
            sub, [ordered[i] for i in range(len(ordered) - len(window), len(ordered))], pairs,
            [len(window) - 2, len(window) - 1], valid)
        data[-2:] += changes[:, valid]
    if good is None:
        coeffs = basis[:fit_count].T.astype(np.float64) @ series[order[:fit_count]][:, valid].astype(np.float64)
    else:
        fit_good = good_all[order[:fit_count]] if good_all is not None else None
        assert fit_good is not None
        cleaned = filters.remove_plane_per_date(series[order[:fit_count]], fit_good, height)
        coeffs = gaps.fit_with_gaps(basis[:fit_count].astype(np.float64),
                                    cleaned[:, valid].astype(np.float64), fit_good[:, valid])
        newest = np.zeros((len(use), *shape), dtype=np.float32)
        newest[:, valid] = data
        data = filters.remove_plane_per_date(newest, good, height)[:, valid].astype(np.float64)
    residual = np.zeros((len(use), *shape), dtype=np.float32)
    residual[:, valid] = (data - basis[use] @ coeffs).astype(np.float32)
    if good is not None:
        residual[~good] = 0.0
        maps = filters.remove_plane_per_date(residual, good & valid[None], height)
        maps = gaps.smooth_fill(maps, good & valid[None], valid)
    else:
        maps = filters.remove_plane(residual, valid, height)
    coefficient_maps = np.zeros((basis.shape[1] - 1, *shape), dtype=np.float32)
    coefficient_maps[:, valid] = coeffs[1:]  # rate and seasons: the constant is never shrunk
    return Residuals(maps, filters.remove_plane(coefficient_maps, valid, height), good, basis,
                     past, fit_count, found)


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
    reliable: np.ndarray | None = None,
    pairs: Mapping[tuple[date, date], np.ndarray] | None = None,
    watch: np.ndarray | None = None,
) -> AnomalyReport:
    """Regions of the newest date of `displacement_m` ((n_dates, rows, cols), metres, LOS)
    that depart from their own trend beyond their own noise, separated from atmosphere.

    `mask` marks reliable pixels; `reliable` ((n_dates, rows, cols), optional) and NaNs mark
    pixels unreliable on single dates (masked there, not filled); `height` (m, optional) lets
    a stratified delay be removed per date; `pairs` ({(reference, secondary): LOS m}, optional)
    are the newest dates' interferograms, checked for unwrapping errors by closure (found ones
    are corrected and reported as such); `threshold_mm` is the least |magnitude| of a region.
    `watch` ((rows, cols) bool, optional) marks watched sites: regions peaking there are judged
    against the sites' own family threshold (`WATCH_SHARE` of the rate, over their area only),
    so that smaller events are found where the user looks; `watched` says so on a region.
    """
    series = np.asarray(displacement_m)
    if series.ndim != 3:
        raise ConfigError(f"displacement must be (dates, rows, cols), got shape {series.shape}")
    if len(dates) != series.shape[0]:
        raise ConfigError(f"{len(dates)} dates for a time series of {series.shape[0]} "
                          "epochs: they must match")
    if pixel_size_m <= 0:
        raise ConfigError(f"pixel_size_m {pixel_size_m} must be > 0")
    if watch is not None and np.shape(watch) != series.shape[1:]:
        raise ConfigError(f"watch has shape {np.shape(watch)}, a date's map "
                          f"{series.shape[1:]}: they must match")
    if reliable is not None and np.shape(reliable) != series.shape:
        raise ConfigError(f"reliable has shape {np.shape(reliable)}, the time series "
                          f"{series.shape}: they must match")
    order = np.argsort(np.array([d.toordinal() for d in dates]))
    ordered = [dates[i] for i in order]
    newest, previous = ordered[-1].strftime("%Y%m%d"), ordered[-2].strftime("%Y%m%d")
    shape = (int(series.shape[1]), int(series.shape[2]))
    good_dates = gaps.good_dates(series, reliable)
    fit_count = len(ordered) - 2
    valid = np.ones(shape, dtype=bool) if mask is None else np.asarray(mask, bool).reshape(shape)
    good_all: np.ndarray | None = None
    if not good_dates.all():
        good_all = good_dates
        share = np.mean(good_all[order[:max(fit_count, 1)]], axis=0)
        valid &= (share >= gaps.MIN_GOOD_SHARE) & good_all[order[-2:]].any(axis=0)
    if fit_count < min_dates:
        return _empty(newest, threshold_mm, int(valid.sum()),
                      f"{fit_count} dates before the newest two, {min_dates} needed to fit "
                      "each pixel's trend and noise")
    if valid.sum() < MIN_VALID_PIXELS:
        return _empty(newest, threshold_mm, int(valid.sum()),
                      f"{int(valid.sum())} reliable pixels, {MIN_VALID_PIXELS} needed")
    parts = _residuals(ordered, series, order, valid, good_all, height, pairs)
    watched = None if watch is None else np.asarray(watch, bool) & valid
    unwatched = watched is not None and watched.sum() < MIN_WATCH_PIXELS
    report = _judge(parts, valid, [s / pixel_size_m for s in scales_m], scales_m,
                    false_alarm_rate, threshold_mm, pixel_size_m, newest, previous,
                    None if unwatched else watched)
    if unwatched:
        report.reason += (f"; the watched sites hold {int(watched.sum())} reliable pixels "  # type: ignore[union-attr]
                          f"(at least {MIN_WATCH_PIXELS} needed): judged with the AOI only")
    report.unwrapping_errors = [_unwrap_region(e, pixel_size_m) for e in parts.unwrapping]
    side_m, needed_m = min(shape) * pixel_size_m, MIN_SIDE_IN_BOWLS * max(scales_m)
    if side_m < needed_m:
        report.reason += (f"; the map is {side_m / 1000:.1f} km across, less than the "
                          f"{needed_m / 1000:.1f} km ({MIN_SIDE_IN_BOWLS:g}x the widest bowl "
                          f"sought, {max(scales_m):.0f} m) that tells a bowl from atmosphere: "
                          "events may go unseen; use a larger AOI or narrower alert.scales_m")
    if parts.good is not None:
        report.masked_pixels = int((valid & ~parts.good[-1]).sum())
    return report


def _in_sample(rows: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Each past date's residual variance (in noise units) after the shrunk trend's fit:
    1 - b0^2 - sum_k (2 keep_k - keep_k^2) b_k^2 (dates, rows, cols)."""
    weight = (2.0 * kept - kept ** 2).astype(np.float32)
    out = 1.0 - rows[:, :1, None] ** 2 - np.tensordot(rows[:, 1:] ** 2, weight, axes=1)
    return np.maximum(out.reshape(rows.shape[0], *kept.shape[1:]), 0.05).astype(np.float32)


def _unwrap_region(error: unwrap.PatchError, pixel_size_m: float) -> UnwrappingErrorRegion:
    rows, cols = np.nonzero(error.patch)
    return UnwrappingErrorRegion(
        reference_date=error.reference.strftime("%Y%m%d"),
        secondary_date=error.secondary.strftime("%Y%m%d"), cycles=error.cycles,
        los_mm=round(error.departure_m * 1000.0, 2), row=int(round(float(rows.mean()))),
        col=int(round(float(cols.mean()))), pixels=int(rows.size),
        extent_km2=round(rows.size * (pixel_size_m / 1000.0) ** 2, 3))


@dataclass
class Family:
    """Where regions are sought at one rate: the AOI, or the watched sites."""

    rate: float
    area: float
    perimeter: float
    maxima: list[np.ndarray]  # per map, the past cycles' max |z| over the family's area
    nominal: np.ndarray | None = None  # per map, random field theory's threshold
    thresholds: np.ndarray | None = None  # per map, calibrated on the past cycles

    def calibrate(self, shares: np.ndarray, lam2: list[float], dofs: list[float]) -> float:
        """Set the thresholds; the calibrated over nominal ratio (1 without history)."""
        self.nominal = np.array([significance.field_threshold(
            self.rate * shares[k], self.area, self.perimeter, lam2[k], dofs[k])
            for k in range(len(shares))])
        relative = self.nominal / self.nominal.mean()
        family = calibration.family_threshold(self.rate, self.maxima, relative)
        self.thresholds = self.nominal if family is None else family * relative
        return 1.0 if family is None else float(np.mean(self.thresholds / self.nominal))


def _judge(parts: Residuals, valid: np.ndarray, scales_px: list[float],
           scales_m: Sequence[float], false_alarm_rate: float, threshold_mm: float,
           pixel_size_m: float, newest: str, previous: str,
           watch: np.ndarray | None = None) -> AnomalyReport:
    """Matched filters, z-maps, the calibrated family thresholds and the regions."""
    maps, basis, past, fit_count = parts.maps, parts.basis, parts.past, parts.fit_count
    good = parts.good
    past_good = None if good is None else good[:-2] & valid[None]
    new_good = None if good is None else good[-2:] & valid[None]
    matched, past_spectra = filters.make_filters(maps[:-2], scales_px)
    new_spectra = matched.spectra(maps[-2:])
    coefficient_spectra = matched.spectra(parts.coefficient_maps)
    z_maps, amplitudes, z_previous, lam2 = [], [], [], []
    dofs: list[float] = []
    aoi_share = 1.0 if watch is None else 1.0 - WATCH_SHARE
    families = [Family(false_alarm_rate * aoi_share, float(valid.sum()),
                       float(significance.boundary_pixels(valid)), [])]
    if watch is not None:
        families.append(Family(false_alarm_rate * WATCH_SHARE, float(watch.sum()),
                               float(significance.boundary_pixels(watch)), []))
    for index, scale in enumerate(scales_px):
        past_amp = matched.apply(past_spectra, index)
        new_amp = matched.apply(new_spectra, index)
        taken, kept = trend.shrunk_part(matched.apply(coefficient_spectra, index), past_amp,
                                        valid, scale, fit_count, basis.shape[1])
        past_amp += np.tensordot(basis[past, 1:], taken, axes=1)
        new_amp += np.tensordot(basis[fit_count:fit_count + 2, 1:], taken, axes=1)
        past_amp /= np.sqrt(_in_sample(basis[past], kept))
        past_spreads = _spreads(past_amp, valid, past_good)
        past_scaled = (past_amp / past_spreads[:, None, None]).astype(np.float32)
        noise = _moderated_sigma(past_scaled, valid, scale, past_good)
        sigma = noise.sigma
        dofs += [noise.dof, noise.dof]  # a mean of two dates has the same per-pixel pattern
        lam2.append(significance.roughness(past_scaled[-ROUGHNESS_DATES:] / sigma, valid))
        squares = past_scaled ** 2
        past_single = calibration.leave_one_out(past_scaled, noise.total, noise.weight, squares, 1)
        past_pair = calibration.leave_one_out(
            _per_date(_pairs(past_amp, past_spreads), valid), noise.total, noise.weight,
            squares[1:] + squares[:-1], 2)
        for z_past, usable in ((past_single, past_good),
                               (past_pair, None if past_good is None
                                else past_good[1:] & past_good[:-1])):
            inside = valid[None] if usable is None else usable
            folded = np.abs(np.where(inside, z_past, 0.0))
            families[0].maxima.append(folded.max(axis=(1, 2)))
            if watch is not None:
                families[1].maxima.append(np.where(watch, folded, 0.0).max(axis=(1, 2)))
        del past_single, past_pair, squares
        new_rows = basis[fit_count:fit_count + 2]
        new_w = new_amp / np.sqrt(1.0 + np.stack([trend.prediction_variance(new_rows[j:j + 1],
                                                                            kept)
                                                  for j in (0, 1)]))
        new_spreads = _spreads(new_w, valid, new_good)
        single = (new_w / new_spreads[:, None, None]) / sigma
        pair_amp = _pairs(new_amp, new_spreads)
        shares_of = (1.0 / new_spreads ** 2) / np.sum(1.0 / new_spreads ** 2)
        own = float(np.sum(shares_of ** 2))  # the pair's noise, in units of one date's
        pair_factor = 1.0 + trend.prediction_variance(new_rows, kept, shares_of) / own
        pair_z = _per_date(pair_amp / np.sqrt(pair_factor), valid) / sigma
        if new_good is not None:
            single = np.where(new_good, single, 0.0)
            pair_z = np.where(new_good[0] & new_good[1], pair_z, 0.0)
        z_maps += [single[1], pair_z[0]]
        amplitudes += [new_amp[1], pair_amp[0]]
        z_previous.append(single[0])
    z = np.where(valid, np.stack(z_maps), 0.0).astype(np.float32)
    # each map's share of the false-alarm rate, per sign: a lasting step (the two newest dates)
    # is what most alerts are about, so the pair maps get PAIR_SHARE of it
    shares = np.array([(1.0 - PAIR_SHARE, PAIR_SHARE)[k % 2] / (2 * len(scales_px))
                       for k in range(len(z_maps))])
    lam2_maps = [lam2[k // 2] for k in range(len(z_maps))]
    ratio = families[0].calibrate(shares, lam2_maps, dofs)
    for family in families[1:]:
        family.calibrate(shares, lam2_maps, dofs)
    thresholds = families[0].thresholds
    assert thresholds is not None
    # in a watched site both families look: the lower threshold decides (the rates add up)
    per_pixel = thresholds if watch is None else np.where(
        watch[None], np.minimum(np.asarray(families[1].thresholds), thresholds)[:, None, None],
        thresholds[:, None, None])
    raw, labels = find_regions(z, per_pixel, np.stack(amplitudes), valid)

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
        watched = watch is not None and bool(watch[item.peak])
        family = families[0]
        if watched and abs(item.z) < float(thresholds[item.map_index]):
            family = families[1]  # only the watched family's threshold passes it
        assert family.thresholds is not None and family.nominal is not None
        k = item.map_index
        regions.append(AnomalyRegion(
            row=int(round(item.centre[0])), col=int(round(item.centre[1])),
            magnitude_mm=round(magnitude, 2), extent_km2=round(item.half_peak_pixels * pixel_km2, 3),
            significance=round(abs(item.z), 2),
            p_value=min(1.0, significance.family_p_value(
                item.z / (family.thresholds[k] / family.nominal[k]), shares[k], family.area,
                family.perimeter, lam2[scale_index], dofs[k]) * false_alarm_rate / family.rate),
            first_date=previous if seen_before else newest,
            status="confirmed" if seen_before and seen_now else "new",
            pixels=item.pixels, scale_m=float(scales_m[scale_index]), watched=watched))
    newest_single = np.stack(amplitudes[0::2])
    strongest = np.unravel_index(int(np.argmax(np.abs(np.where(valid, newest_single, 0)))),
                                 newest_single.shape)
    top = regions[0] if regions else None
    newest_valid = valid if new_good is None else new_good[1]
    return AnomalyReport(
        date=newest, previous_date=previous, pixel_size_m=pixel_size_m,
        residual_mm=round(abs(top.magnitude_mm) if top else
                          abs(float(newest_single[strongest])) * 1000.0, 3),
        max_residual_mm=round(float(np.abs(maps[-1][newest_valid]).max()) * 1000.0, 3)
        if newest_valid.any() else 0.0,
        threshold_mm=threshold_mm, anomalous=bool(regions),
        pixels_over=int(sum(r.pixels for r in regions)), valid_pixels=int(valid.sum()),
        row=top.row if top else int(strongest[1]), col=top.col if top else int(strongest[2]),
        reason=(f"{len(regions)} region(s) beyond the noise" if regions else
                "no region beyond its own noise and the threshold"),
        regions=regions, z_threshold=round(float(thresholds.min()), 2),
        watch_z_threshold=None if watch is None
        else round(float(np.min(np.minimum(np.asarray(families[1].thresholds), thresholds))), 2),
        residual_map=np.where(newest_valid, maps[-1], np.nan), region_labels=labels,
        calibration=round(ratio, 3))
