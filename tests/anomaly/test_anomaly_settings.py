"""The mountain settings of the synthetic Earth, and the detector's answers to them: unwrapping
errors found by closure and reported as such, decorrelated pixels masked per date."""

from __future__ import annotations

import math
from datetime import date

import numpy as np

from insarhub.anomaly import detect_anomaly
from insarhub.anomaly.gaps import fit_with_gaps
from insarhub.anomaly.synthetic import CYCLE_M, Earth, Stack, add_unwrap_error, make_stack
from insarhub.anomaly.unwrap import find_and_correct

MOUNTAIN = Earth(relief_m=1000.0, seasonal_mm_per_km=40.0, turbulence_factors=(0.6, 3.0))


def pairs_of(s: Stack) -> dict[tuple[date, date], np.ndarray]:
    return {(s.dates[i], s.dates[j]): v for (i, j), v in s.pairs.items()}


def with_pairs(seed: int, event_mm: float | None = None) -> Stack:
    """A stack solved from its pairs (each date from its three predecessors), no error."""
    earth = Earth(unwrap_error_rate=1e-12)
    return make_stack(np.random.default_rng(seed), atmosphere_mm=4.0, size=100, n_dates=26,
                      event_mm=event_mm, event_first=24, earth=earth)


def square(row: int, col: int, half: int, size: int = 100) -> np.ndarray:
    patch = np.zeros((size, size), dtype=bool)
    patch[row - half:row + half, col - half:col + half] = True
    return patch


def test_mountain_settings_are_what_they_say() -> None:
    s = make_stack(np.random.default_rng(1), atmosphere_mm=8.0, size=100, n_dates=60,
                   earth=MOUNTAIN)
    assert s.turbulence_mm is not None
    assert math.isclose(float(np.median(s.turbulence_mm)), 8.0, rel_tol=0.25)
    assert 3.0 < s.turbulence_mm.max() / s.turbulence_mm.min() <= 5.0  # 0.6-3x
    relief = np.percentile(s.height, 99) - np.percentile(s.height, 1)
    assert 700 < relief < 1400
    # the delay's height coefficient swings with the seasons (+-40 mm/km)
    h = (s.height - s.height.mean()).ravel()
    slopes = [float(np.polyfit(h, d.ravel(), 1)[0]) * 1e6 for d in s.displacement_m]
    assert 50 < max(slopes) - min(slopes) < 110  # mm/km, peak to peak
    ramp = make_stack(np.random.default_rng(2), atmosphere_mm=0.0, size=100, n_dates=30,
                      event_mm=-30.0, event_first=20, ramp_dates=4)
    assert ramp.event is not None and ramp.event.last_ramp_index == 23
    quiet = make_stack(np.random.default_rng(2), atmosphere_mm=0.0, size=100, n_dates=30)
    centre = (int(round(ramp.event.row)), int(round(ramp.event.col)))
    growth = (ramp.displacement_m - quiet.displacement_m)[:, centre[0], centre[1]] * 1000
    assert np.allclose(growth[[19, 20, 21, 23, 29]], [0, -7.5, -15, -30, -30], atol=0.5)


def test_unwrapping_errors_are_whole_cycles_on_connected_patches() -> None:
    s = make_stack(np.random.default_rng(3), atmosphere_mm=6.0, size=100, n_dates=40,
                   earth=Earth(unwrap_error_rate=0.2))
    assert len(s.unwrap_errors) > 10 and set(s.pairs) == {(i, j) for j in (37, 38, 39)
                                                         for i in range(j - 3, j)}
    for error in s.unwrap_errors:
        assert error.cycles in (-1, 1) and error.patch.sum() >= 12
        assert error.secondary - 3 <= error.reference < error.secondary


def test_an_unwrapping_error_in_a_new_pair_is_reported_as_such_not_as_deformation() -> None:
    clean = with_pairs(21)
    patch = square(30, 60, 10)
    broken = add_unwrap_error(clean, 23, 25, patch, +1)
    report = detect_anomaly(broken.dates, broken.displacement_m, height=broken.height,
                            pairs=pairs_of(broken))
    assert [(u.interferogram, u.cycles) for u in report.unwrapping_errors] == [
        (f"{broken.dates[23]:%Y%m%d}_{broken.dates[25]:%Y%m%d}", 1)]
    error = report.unwrapping_errors[0]
    assert abs(error.los_mm - CYCLE_M * 1000) < 3 and abs(error.pixels - patch.sum()) < 40
    assert math.hypot(error.row - 30, error.col - 60) < 3
    reference = detect_anomaly(clean.dates, clean.displacement_m, height=clean.height)
    assert [r.to_dict() for r in report.regions] == [r.to_dict() for r in reference.regions]
    unchecked = detect_anomaly(broken.dates, broken.displacement_m, height=broken.height)
    assert unchecked.unwrapping_errors == [] and unchecked.max_residual_mm > reference.max_residual_mm


def test_the_correction_follows_an_error_of_the_previous_date_into_the_newest() -> None:
    clean = with_pairs(22)
    broken = add_unwrap_error(clean, 22, 24, square(70, 40, 8), -1)
    order = list(range(len(clean.dates)))
    changes, found = find_and_correct(broken.displacement_m, clean.dates, pairs_of(broken),
                                      [24, 25], np.ones((100, 100), dtype=bool))
    assert [(f.reference, f.secondary, f.cycles) for f in found] == [
        (clean.dates[22], clean.dates[24], -1)]
    corrected = broken.displacement_m[order[-2:]] + changes
    assert np.abs(corrected - clean.displacement_m[-2:]).max() < 1e-5


def test_a_real_event_of_about_a_cycle_is_no_unwrapping_error() -> None:
    s = with_pairs(23, event_mm=-28.0)
    report = detect_anomaly(s.dates, s.displacement_m, height=s.height, pairs=pairs_of(s))
    assert report.unwrapping_errors == []
    assert s.event is not None and any(
        math.hypot(r.row - s.event.row, r.col - s.event.col) * s.pixel_m < 300
        for r in report.regions)


def test_decorrelated_pixels_are_masked_per_date_not_filled() -> None:
    winter = Earth(relief_m=1000.0, winter=True)
    s = make_stack(np.random.default_rng(31), atmosphere_mm=4.0, size=100, n_dates=30,
                   earth=winter, start=date(2019, 12, 20))
    assert s.reliable is not None and (~s.reliable[-1]).mean() > 0.1  # the newest in winter
    masked = detect_anomaly(s.dates, s.displacement_m, height=s.height, reliable=s.reliable)
    assert masked.masked_pixels > 0 and masked.regions == []
    assert masked.region_labels is not None
    assert masked.residual_map is not None and np.isnan(masked.residual_map[~s.reliable[-1]]).all()
    missing_only = detect_anomaly(s.dates, s.displacement_m, height=s.height)  # NaN: masked
    missing = np.isnan(s.displacement_m[-1])
    assert 0 < missing_only.masked_pixels <= missing.sum() < masked.masked_pixels


def test_a_trend_fitted_to_good_dates_only_is_least_squares_on_them() -> None:
    rng = np.random.default_rng(4)
    basis = np.linalg.qr(rng.standard_normal((20, 3)))[0]
    data = rng.standard_normal((20, 50))
    good = rng.random((20, 50)) > 0.3
    good[:, :10] = True
    coeffs = fit_with_gaps(basis, np.where(good, data, 1e6), good)
    for pixel in (0, 20, 49):
        keep = good[:, pixel]
        expected = np.linalg.lstsq(basis[keep], data[keep, pixel], rcond=None)[0]
        assert np.allclose(coeffs[:, pixel], expected, atol=1e-8)


def test_a_snow_line_is_no_edge_for_the_filters() -> None:
    """Masked pixels take the smooth continuation of their good neighbours before filtering.
    Cut to 0, the snow line is a step that the whitened 250 m filter turns into noise 16 %
    stronger beside it than on summer dates (a z of 5 becomes 5.8); filled, it is as strong."""
    from scipy import ndimage

    from insarhub.anomaly import filters
    from insarhub.anomaly.gaps import smooth_fill
    from insarhub.anomaly.synthetic import powerlaw_fields

    field = 0.01 * powerlaw_fields(np.random.default_rng(2), 30, 120, 8.0 / 3.0)
    good = np.ones_like(field, dtype=bool)
    good[:, :, 70:] = False  # the high ground, masked on these dates
    inside = np.ones((120, 120), dtype=bool)
    inside[:5] = False  # never judged: left as it is
    cut = np.where(good, field, 0.0)
    filled = smooth_fill(cut, good, inside)
    assert np.array_equal(filled[good], field[good]) and (filled[:, :5, 70:] == 0).all()
    matched, summer = filters.make_filters(field, [250 / 80])
    edge = good[0] & (ndimage.distance_transform_edt(good[0]) <= 4)

    def strength(maps: np.ndarray) -> np.ndarray:
        return matched.apply(matched.spectra(maps), 0).std(axis=0)[edge]

    reference = matched.apply(summer, 0).std(axis=0)[edge]
    assert float(np.mean(strength(cut) / reference)) > 1.1
    assert 0.9 < float(np.mean(strength(filled) / reference)) < 1.05
