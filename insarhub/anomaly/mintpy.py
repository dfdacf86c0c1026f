"""`anomaly_from_mintpy`: judge the newest date of MintPy's standard outputs in a folder."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from insarhub.anomaly.config import AlertConfig, WatchSite
from insarhub.anomaly.detector import detect_anomaly
from insarhub.anomaly.report import AnomalyReport
from insarhub.errors import ConfigError

log = logging.getLogger(__name__)

_METRES_PER_DEGREE = 111_320.0


def timeseries_file(mintpy_dir: str | Path) -> Path:
    """MintPy's final displacement time series in `mintpy_dir` (the most corrected one)."""
    folder = Path(mintpy_dir)
    candidates = [p for p in folder.glob("timeseries*.h5")
                  if "Residual" not in p.name and "Decomp" not in p.name]
    if not candidates:
        raise ConfigError(f"no MintPy time series (timeseries*.h5) in {folder}; "
                          "run the analysis first")
    # the longest name carries the most corrections (timeseries_ERA5_ramp_demErr.h5)
    return max(candidates, key=lambda p: (len(p.stem), p.stat().st_mtime))


def _first_dataset(path: Path, names: tuple[str, ...]) -> np.ndarray | None:
    import h5py

    if not path.is_file():
        return None
    with h5py.File(path, "r") as h5:
        for name in names:
            if name in h5:
                return np.asarray(h5[name][()])
        return np.asarray(h5[next(iter(h5))][()]) if len(h5) else None


def pixel_size_m(attrs: Mapping[str, Any]) -> float:
    """The ground pixel size (m) from MintPy's geocoding attributes (80 m if unknown)."""
    if "X_STEP" not in attrs:
        return 80.0
    dx, dy = abs(float(attrs["X_STEP"])), abs(float(attrs["Y_STEP"]))
    if str(attrs.get("Y_UNIT", attrs.get("X_UNIT", "degrees"))).lower().startswith("deg"):
        lat = float(attrs.get("Y_FIRST", 0.0))
        dx *= _METRES_PER_DEGREE * math.cos(math.radians(lat))
        dy *= _METRES_PER_DEGREE
    return math.sqrt(dx * dy)


def anomaly_from_mintpy(mintpy_dir: str | Path, alert: AlertConfig) -> AnomalyReport:
    """`detect_anomaly` on MintPy's outputs in `mintpy_dir`: `timeseries*.h5`, reliable pixels
    from `maskTempCoh.h5` (else `temporalCoherence.h5` >= `alert.min_coherence`), height from
    `inputs/geometry*.h5` when there, the newest dates' interferograms from
    `inputs/ifgramStack.h5` for the unwrapping check; regions located in lat/lon from the
    geocoding."""
    import h5py

    folder = Path(mintpy_dir)
    path = timeseries_file(folder)
    with h5py.File(path, "r") as h5:
        series = h5["timeseries"][()]
        dates = [datetime.strptime(d.decode(), "%Y%m%d").date() for d in h5["date"][()]]
        attrs = dict(h5.attrs)
    mask = _first_dataset(folder / "maskTempCoh.h5", ("mask",))
    coherence = _first_dataset(folder / "temporalCoherence.h5", ("temporalCoherence",))
    reliable = np.ones(series.shape[1:], dtype=bool)
    if mask is not None:
        reliable &= mask.astype(bool)
    if coherence is not None:
        reliable &= coherence >= alert.min_coherence
    height = None
    for name in ("geometryGeo.h5", "geometryRadar.h5"):
        height = _first_dataset(folder / "inputs" / name, ("height",))
        if height is not None:
            break
    if height is not None and height.shape != series.shape[1:]:
        height = None
    pairs = newest_pairs(folder, path, dates) if alert.check_unwrapping else None
    sites = site_labels(alert.watch, attrs, series.shape[1:]) if alert.watch else None
    report = detect_anomaly(dates, series, alert.threshold_mm, mask=reliable, height=height,
                            pixel_size_m=pixel_size_m(attrs),
                            false_alarm_rate=alert.false_alarm_rate, scales_m=alert.scales_m,
                            min_dates=alert.min_dates, pairs=pairs,
                            watch=None if sites is None else sites > 0)
    locate(report, attrs)
    if sites is not None:
        for region in report.regions:
            if region.watched:
                label = int(sites[min(region.row, sites.shape[0] - 1),
                                  min(region.col, sites.shape[1] - 1)])
                region.site = alert.watch[label - 1].name if label else None
    return report


def site_labels(watch: Sequence[WatchSite], attrs: Mapping[str, Any], shape: tuple[int, ...]
                ) -> np.ndarray:
    """Which watched site each pixel is in (0: none, i: the i-th site; the nearer centre where
    two overlap), from MintPy's geocoding. A site off the map has no pixel."""
    if "Y_FIRST" not in attrs:
        raise ConfigError("alert.watch needs a geocoded time series (Y_FIRST/X_FIRST in "
                          "MintPy's attributes); this one is in radar coordinates: geocode "
                          "it or remove the watched sites")
    rows, cols = int(shape[0]), int(shape[1])
    y = float(attrs["Y_FIRST"]) + (np.arange(rows) + 0.5) * float(attrs["Y_STEP"])
    x = float(attrs["X_FIRST"]) + (np.arange(cols) + 0.5) * float(attrs["X_STEP"])
    xx, yy = np.meshgrid(x, y)
    degrees = _to_lonlat(attrs) == "degrees"
    labels = np.zeros((rows, cols), dtype=np.int32)
    nearest = np.full((rows, cols), np.inf)
    for number, site in enumerate(watch, start=1):
        if degrees:
            dy = (yy - site.lat) * _METRES_PER_DEGREE
            dx = (xx - site.lon) * _METRES_PER_DEGREE * math.cos(math.radians(site.lat))
        else:
            sx, sy = _from_lonlat(attrs).transform(site.lon, site.lat)
            dx, dy = xx - sx, yy - sy
        distance = np.hypot(dx, dy)
        inside = (distance <= site.radius_m) & (distance < nearest)
        labels[inside], nearest[inside] = number, distance[inside]
    return labels


def _from_lonlat(attrs: Mapping[str, Any]) -> Any:
    from pyproj import Transformer

    epsg = attrs.get("EPSG") or attrs.get("UTM_ZONE")
    if epsg is None:
        raise ConfigError("alert.watch: the time series' map projection is unknown (no EPSG "
                          "or UTM_ZONE attribute): cannot place the watched sites")
    crs = f"EPSG:{int(epsg)}" if str(epsg).isdigit() else _utm_epsg(str(epsg))
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def newest_pairs(folder: Path, series_file: Path, dates: list[date], newest: int = 2
                 ) -> dict[tuple[date, date], np.ndarray] | None:
    """The interferograms of `inputs/ifgramStack.h5` that end on the `newest` dates (LOS m,
    MintPy's sign, referenced to the stack's reference pixel, no-data NaN), put in the frame of
    the corrected time series `series_file`: each pair gets the difference of its dates'
    corrections (final minus MintPy's raw `timeseries.h5`), so that a pair and the series it
    is compared with carry the same corrections. None when there is no stack."""
    import h5py

    stack_file = folder / "inputs" / "ifgramStack.h5"
    if not stack_file.is_file():
        return None
    wanted = set(dates[-newest:]) if len(dates) >= newest else set()
    with h5py.File(stack_file, "r") as h5:
        attrs = dict(h5.attrs)
        names = [(_day(a), _day(b)) for a, b in h5["date"][()]]
        kept = h5["dropIfgram"][()] if "dropIfgram" in h5 else np.ones(len(names), bool)
        chosen = [k for k, (a, b) in enumerate(names) if b in wanted and kept[k] and a in dates]
        if not chosen or "REF_Y" not in attrs:
            return None
        phase = h5["unwrapPhase"][chosen].astype(np.float64)
    ref_y, ref_x = int(attrs["REF_Y"]), int(attrs["REF_X"])
    phase[phase == 0] = np.nan  # MintPy: zero phase is no data
    to_m = -float(attrs.get("WAVELENGTH", 0.05546576)) / (4 * math.pi)
    los = (phase - phase[:, ref_y:ref_y + 1, ref_x:ref_x + 1]) * to_m
    involved = sorted({d for k in chosen for d in names[k]})
    corrections = _corrections(folder, series_file, dates, involved)
    out = {}
    for row, k in enumerate(chosen):
        a, b = names[k]
        value = los[row]
        if corrections is not None:
            value = value + corrections[b] - corrections[a]
        out[(a, b)] = value.astype(np.float32)
    return out


def _day(value: Any) -> date:
    text = value.decode() if isinstance(value, bytes) else str(value)
    return datetime.strptime(text, "%Y%m%d").date()


def _corrections(folder: Path, series_file: Path, dates: list[date], involved: list[date]
                 ) -> dict[date, np.ndarray] | None:
    """Final minus raw series on the `involved` dates (None when the final is the raw)."""
    import h5py

    raw_file = folder / "timeseries.h5"
    if series_file.resolve() == raw_file.resolve() or not raw_file.is_file():
        return None
    index = [dates.index(d) for d in involved]
    with h5py.File(series_file, "r") as final, h5py.File(raw_file, "r") as raw:
        raw_dates = [_day(d) for d in raw["date"][()]]
        if any(d not in raw_dates for d in involved):
            return None
        raw_index = [raw_dates.index(d) for d in involved]
        return {d: np.asarray(final["timeseries"][i], dtype=np.float64)
                - np.asarray(raw["timeseries"][j], dtype=np.float64)
                for d, i, j in zip(involved, index, raw_index, strict=True)}


def locate(report: AnomalyReport, attrs: Mapping[str, Any]) -> None:
    """Fill lat/lon (and map x/y) of the report and its regions from MintPy's geocoding."""
    if "Y_FIRST" not in attrs:
        return
    transform = _to_lonlat(attrs)
    if report.row is not None:
        report.lat, report.lon = _lat_lon(attrs, transform, report.row, report.col or 0)[2:]
    for region in report.regions:
        region.x, region.y, region.lat, region.lon = _lat_lon(attrs, transform, region.row,
                                                              region.col)
    for error in report.unwrapping_errors:
        error.lat, error.lon = _lat_lon(attrs, transform, error.row, error.col)[2:]


def _lat_lon(attrs: Mapping[str, Any], transform: Any, row: float, col: float
             ) -> tuple[float, float, float | None, float | None]:
    y = float(attrs["Y_FIRST"]) + (row + 0.5) * float(attrs["Y_STEP"])
    x = float(attrs["X_FIRST"]) + (col + 0.5) * float(attrs["X_STEP"])
    if transform is None:
        return x, y, None, None
    if transform == "degrees":
        return x, y, round(y, 6), round(x, 6)
    lon, lat = transform.transform(x, y)
    return x, y, round(lat, 6), round(lon, 6)


def _to_lonlat(attrs: Mapping[str, Any]) -> Any:
    if str(attrs.get("Y_UNIT", "degrees")).lower().startswith("deg"):
        return "degrees"
    epsg = attrs.get("EPSG") or attrs.get("UTM_ZONE")
    if epsg is None:
        return None
    try:
        from pyproj import Transformer

        crs = f"EPSG:{int(epsg)}" if str(epsg).isdigit() else _utm_epsg(str(epsg))
        return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    except Exception as exc:  # the location is a convenience; never fail the check on it
        log.debug("could not convert the anomaly location to lat/lon: %s", exc)
        return None


def _utm_epsg(zone: str) -> str:
    number, band = int(zone[:-1]), zone[-1].upper()
    return f"EPSG:{32600 + number if band >= 'N' else 32700 + number}"
