"""`anomaly_from_mintpy` on MintPy's standard outputs, written by MintPy's own writer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from mintpy.utils import writefile

from insarhub.anomaly.synthetic import make_stack
from insarhub.errors import ConfigError
from insarhub.monitoring import AlertConfig, AnomalyReport, anomaly_from_mintpy

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
