"""`anomaly_from_mintpy` on MintPy's standard outputs, written by MintPy's own writer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from mintpy.utils import writefile

from insarhub.anomaly import AlertConfig, AnomalyReport, anomaly_from_mintpy
from insarhub.anomaly.synthetic import WAVELENGTH_M, Earth, add_unwrap_error, make_stack
from insarhub.errors import ConfigError

Y_FIRST, X_FIRST, STEP = 37.95, -112.95, 0.00072  # ~80 m x 64 m at 37.9 N


def write_mintpy(folder: Path, seed: int, event_mm: float | None) -> tuple[float, float]:
    """timeseries.h5, temporalCoherence.h5, maskTempCoh.h5, velocity.h5 and inputs/geometryGeo.h5
    of a synthetic stack; returns the event's (lat, lon)."""
    s = make_stack(np.random.default_rng(seed), atmosphere_mm=4.0, size=100, n_dates=24,
                   event_mm=event_mm, event_first=22)
    rows, cols = s.displacement_m.shape[1:]
    meta = {"FILE_TYPE": "timeseries", "UNIT": "m", "LENGTH": rows, "WIDTH": cols,
            "Y_FIRST": Y_FIRST, "X_FIRST": X_FIRST, "Y_STEP": -STEP, "X_STEP": STEP,
            "Y_UNIT": "degrees", "X_UNIT": "degrees", "REF_DATE": s.dates[0].strftime("%Y%m%d")}
    dates = np.array([d.strftime("%Y%m%d").encode() for d in s.dates])
    folder.mkdir(parents=True, exist_ok=True)
    writefile.write({"timeseries": s.displacement_m, "date": dates,
                     "bperp": np.zeros(len(dates), np.float32)}, str(folder / "timeseries.h5"),
                    metadata=meta)
    coherence = np.full((rows, cols), 0.95, np.float32)
    coherence[:10, :10] = 0.3  # an incoherent corner
    for name, data, kind in (("temporalCoherence", coherence, "temporalCoherence"),
                             ("mask", coherence > 0.7, "mask"),
                             ("velocity", np.zeros((rows, cols), np.float32), "velocity")):
        file_name = {"mask": "maskTempCoh.h5"}.get(name, f"{name}.h5")
        writefile.write({name: data}, str(folder / file_name), metadata={**meta, "FILE_TYPE": kind})
    (folder / "inputs").mkdir(exist_ok=True)
    writefile.write({"height": s.height}, str(folder / "inputs" / "geometryGeo.h5"),
                    metadata={**meta, "FILE_TYPE": "geometry"})
    event = s.event
    if event is None:
        return math.nan, math.nan
    return Y_FIRST - (event.row + 0.5) * STEP, X_FIRST + (event.col + 0.5) * STEP


def test_the_newest_date_of_mintpy_outputs_is_judged(tmp_path: Path) -> None:
    lat, lon = write_mintpy(tmp_path / "mintpy", seed=4, event_mm=-30.0)
    report = anomaly_from_mintpy(tmp_path / "mintpy", AlertConfig())
    assert isinstance(report, AnomalyReport) and report.anomalous
    assert report.valid_pixels == 100 * 100 - 10 * 10  # maskTempCoh / temporal coherence
    region = report.regions[0]
    assert (report.row, report.col, report.lat, report.lon) == (region.row, region.col,
                                                               region.lat, region.lon)
    assert region.lat is not None and region.lon is not None
    error_m = math.hypot((region.lat - lat) * 111_320,
                         (region.lon - lon) * 111_320 * math.cos(math.radians(lat)))
    assert error_m < 300
    assert region.status == "confirmed" and region.magnitude_mm < -15
    assert 60 < (report.pixel_size_m or 0) < 80  # from the geocoding, degrees to metres


def test_quiet_mintpy_outputs_and_a_missing_time_series(tmp_path: Path) -> None:
    write_mintpy(tmp_path / "mintpy", seed=5, event_mm=None)
    report = anomaly_from_mintpy(tmp_path / "mintpy", AlertConfig())
    assert not report.anomalous and report.lat is not None
    with pytest.raises(ConfigError, match="run the analysis first"):
        anomaly_from_mintpy(tmp_path / "elsewhere", AlertConfig())


def test_an_unwrapping_error_in_mintpys_interferograms_is_reported_with_its_pair(
        tmp_path: Path) -> None:
    """inputs/ifgramStack.h5 holds the newest dates' pairs; one has a patch off by a cycle."""
    folder = tmp_path / "mintpy"
    write_mintpy(folder, seed=6, event_mm=None)
    patch = np.zeros((100, 100), dtype=bool)
    patch[31:49, 31:49] = True
    clean = make_stack(np.random.default_rng(24), atmosphere_mm=4.0, size=100, n_dates=26,
                       earth=Earth(unwrap_error_rate=1e-12))
    broken = add_unwrap_error(clean, 23, 25, patch, -1)
    rows, cols = broken.displacement_m.shape[1:]
    meta = {"LENGTH": rows, "WIDTH": cols, "Y_FIRST": Y_FIRST, "X_FIRST": X_FIRST,
            "Y_STEP": -STEP, "X_STEP": STEP, "Y_UNIT": "degrees", "X_UNIT": "degrees"}
    dates = np.array([d.strftime("%Y%m%d").encode() for d in broken.dates])
    writefile.write({"timeseries": broken.displacement_m, "date": dates,
                     "bperp": np.zeros(len(dates), np.float32)}, str(folder / "timeseries.h5"),
                    metadata={**meta, "FILE_TYPE": "timeseries", "UNIT": "m"})
    names = sorted(broken.pairs)
    phase = np.stack([broken.pairs[k] for k in names]) * (-4 * math.pi / WAVELENGTH_M)
    phase[phase == 0] = 1e-6  # zero is no data to MintPy
    writefile.write({"date": np.array([[dates[i], dates[j]] for i, j in names]),
                     "unwrapPhase": phase.astype(np.float32),
                     "coherence": np.full(phase.shape, 0.9, np.float32),
                     "dropIfgram": np.ones(len(names), bool),
                     "bperp": np.zeros(len(names), np.float32)},
                    str(folder / "inputs" / "ifgramStack.h5"),
                    metadata={**meta, "FILE_TYPE": "ifgramStack", "REF_Y": 0, "REF_X": 0,
                              "WAVELENGTH": WAVELENGTH_M})
    report = anomaly_from_mintpy(folder, AlertConfig())
    errors = [e.to_dict() for e in report.unwrapping_errors]
    assert [(e["interferogram"], e["cycles"]) for e in errors] == [
        (f"{broken.dates[23]:%Y%m%d}_{broken.dates[25]:%Y%m%d}", -1)]
    assert abs(errors[0]["lat"] - (Y_FIRST - 40.5 * STEP)) < 3 * STEP  # the patch's centre
    assert report.to_dict()["unwrapping_errors"][0]["secondary_date"] == report.date
    off = anomaly_from_mintpy(folder, AlertConfig(check_unwrapping=False))
    assert off.unwrapping_errors == []


def test_a_watched_site_finds_a_smaller_event_than_the_whole_aoi(tmp_path: Path) -> None:
    """A -8 mm bowl: below what the AOI-wide threshold can tell from atmosphere, found when
    the user watches its place (half the false-alarm rate spent on 3 km2, not on the AOI)."""
    folder = tmp_path / "mintpy"
    lat, lon = write_mintpy(folder, seed=12, event_mm=-8.0)
    whole = anomaly_from_mintpy(folder, AlertConfig(threshold_mm=5))
    assert not whole.anomalous
    slope = {"name": "slope", "lat": lat, "lon": lon, "radius_m": 1000}
    watched = anomaly_from_mintpy(folder, AlertConfig(threshold_mm=5, watch=[slope]))
    assert watched.watch_z_threshold is not None and whole.z_threshold is not None
    assert watched.watch_z_threshold < whole.z_threshold
    assert [(r.site, r.watched) for r in watched.regions] == [("slope", True)]
    region = watched.regions[0]
    assert region.lat is not None and region.lon is not None
    error_m = math.hypot((region.lat - lat) * 111_320,
                         (region.lon - lon) * 111_320 * math.cos(math.radians(lat)))
    assert error_m < 500 and -15 < region.magnitude_mm < -4
    assert region.significance < whole.z_threshold  # the AOI's threshold would not pass it
    elsewhere = {"name": "dam", "lat": Y_FIRST - 0.06, "lon": X_FIRST + 0.06}
    assert not anomaly_from_mintpy(folder, AlertConfig(threshold_mm=5,
                                                       watch=[elsewhere])).anomalous


def test_watched_sites_are_discs_on_the_map_and_need_geocoding() -> None:
    from insarhub.anomaly.config import WatchSite
    from insarhub.anomaly.mintpy import site_labels

    attrs = {"Y_FIRST": Y_FIRST, "X_FIRST": X_FIRST, "Y_STEP": -STEP, "X_STEP": STEP,
             "Y_UNIT": "degrees"}
    sites = [WatchSite(name="a", lat=Y_FIRST - 50 * STEP, lon=X_FIRST + 50 * STEP,
                       radius_m=800),
             WatchSite(name="off the map", lat=10.0, lon=10.0)]
    labels = site_labels(sites, attrs, (100, 100))
    pixel_m2 = (STEP * 111_320) * (STEP * 111_320 * math.cos(math.radians(sites[0].lat)))
    assert abs((labels == 1).sum() * pixel_m2 / (math.pi * 800 ** 2) - 1) < 0.05
    assert labels[50, 50] == 1 and not (labels == 2).any()
    with pytest.raises(ConfigError, match="radar coordinates"):
        site_labels(sites, {"LENGTH": 100}, (100, 100))
    with pytest.raises(ValueError, match="appear twice"):
        AlertConfig(watch=[sites[0], sites[0]])
