"""Find and read the geocoded outputs of a MintPy run (velocity, time series, coherence, mask)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from insarhub.errors import ProductError
from insarhub.products.grid import GeoGrid

log = logging.getLogger(__name__)

# timeseries.h5 and the files each correction step derives from it, e.g.
# timeseries_ERA5_ramp_demErr.h5 (geo_ prefixed when MintPy geocoded radar outputs);
# timeseriesResidual*.h5 do not match.
TIMESERIES_NAME = re.compile(r"^(?:geo_)?timeseries(?:_[A-Za-z0-9]+)*\.h5$")
DEFAULT_MIN_TEMPORAL_COHERENCE = 0.7


@dataclass(frozen=True)
class MintPyFiles:
    """The MintPy files products are made from."""

    directory: Path
    velocity: Path
    timeseries: Path
    temporal_coherence: Path
    mask: Path | None


@dataclass
class MintPyResult:
    """MintPy outputs in memory, on one geocoded grid."""

    files: MintPyFiles
    grid: GeoGrid
    attrs: dict[str, Any]
    dates: list[dt.date]
    velocity: np.ndarray
    velocity_std: np.ndarray
    temporal_coherence: np.ndarray
    displacement: np.ndarray  # (date, row, col)
    has_data: np.ndarray  # pixels MintPy inverted at all
    reliable: np.ndarray  # MintPy's reliable-pixel mask (temporal coherence threshold)
    reference_rowcol: tuple[int, int] | None
    velocity_unit: str
    displacement_unit: str

    @property
    def reference_date(self) -> str | None:
        """MintPy's reference date (REF_DATE) as YYYY-MM-DD."""
        value = str(self.attrs.get("REF_DATE", "")).strip()
        try:
            return dt.datetime.strptime(value, "%Y%m%d").date().isoformat()
        except ValueError:
            return value or None

    def reference_lonlat(self) -> tuple[float, float] | None:
        if self.reference_rowcol is None:
            return None
        x, y = self.grid.pixel_centres(*self.reference_rowcol)
        lon, lat = self.grid.to_lonlat(x, y)
        return float(lon), float(lat)


def locate_outputs(mintpy_dir: Path | str) -> MintPyFiles:
    """Find velocity, the most corrected time series, temporal coherence and the mask.

    Geocoded runs (HyP3) keep them in ``mintpy_dir``; runs in radar coordinates (ISCE2)
    have geocoded copies in ``mintpy_dir/geo/geo_*.h5``, which are used then.
    """
    directory = Path(mintpy_dir)
    if not directory.is_dir():
        raise ProductError(f"mintpy_dir={str(directory)!r} is not a directory")
    velocity = directory / "velocity.h5"
    geo_velocity = directory / "geo" / "geo_velocity.h5"
    if geo_velocity.is_file() and not (velocity.is_file() and _is_geocoded(velocity)):
        return _files_in(directory / "geo", prefix="geo_")
    if not velocity.is_file():
        raise ProductError(
            f"no velocity.h5 in mintpy_dir={str(directory)!r}: run MintPy "
            "(Analyzer.run) up to its 'velocity' step first"
        )
    return _files_in(directory, prefix="")


def choose_timeseries(directory: Path, prefix: str = "") -> Path:
    """The most corrected time series MintPy made: the longest correction chain, then newest."""
    candidates = [
        path for path in directory.glob(f"{prefix}timeseries*.h5")
        if TIMESERIES_NAME.match(path.name)
    ]
    if not candidates:
        raise ProductError(
            f"no {prefix}timeseries*.h5 in {directory}: run MintPy up to its "
            "'invert_network' step first"
        )
    return max(candidates, key=lambda path: (path.stem.count("_"), path.stat().st_mtime))


def read_outputs(files: MintPyFiles) -> MintPyResult:
    """Read every array the products need and check that they share one grid."""
    from mintpy.objects import timeseries as TimeSeriesFile

    vel_attrs = _read_attrs(files.velocity)
    grid = GeoGrid.from_attrs(vel_attrs, files.velocity)
    velocity = _read(files.velocity, "velocity", grid)
    velocity_std = _read(files.velocity, "velocityStd", grid)
    coherence = _read(files.temporal_coherence, "temporalCoherence", grid)
    displacement = _read(files.timeseries, "timeseries", grid)
    if displacement.ndim == 2:  # a single date
        displacement = displacement[np.newaxis]
    try:
        ts_file = TimeSeriesFile(str(files.timeseries))
        ts_file.open(print_msg=False)
        dates = [dt.datetime.strptime(d, "%Y%m%d").date() for d in ts_file.dateList]
    except Exception as exc:
        raise ProductError(f"cannot read the dates of {files.timeseries}: {exc}") from exc
    if len(dates) != displacement.shape[0]:
        raise ProductError(
            f"{files.timeseries} lists {len(dates)} dates for {displacement.shape[0]} layers"
        )

    has_data = (
        np.isfinite(velocity) & np.isfinite(coherence) & (coherence > 0)
        & np.isfinite(displacement).all(axis=0)
    )
    reliable = has_data & _reliable_mask(files, coherence, grid, vel_attrs)
    ts_attrs = _read_attrs(files.timeseries)
    return MintPyResult(
        files=files,
        grid=grid,
        attrs=vel_attrs,
        dates=dates,
        velocity=velocity,
        velocity_std=velocity_std,
        temporal_coherence=coherence,
        displacement=displacement,
        has_data=has_data,
        reliable=reliable,
        reference_rowcol=_reference_rowcol(vel_attrs, grid),
        velocity_unit=str(vel_attrs.get("UNIT", "m/year")),
        displacement_unit=str(ts_attrs.get("UNIT", "m")),
    )


def _files_in(directory: Path, prefix: str) -> MintPyFiles:
    velocity = directory / f"{prefix}velocity.h5"
    coherence = directory / f"{prefix}temporalCoherence.h5"
    for path, step in ((velocity, "velocity"), (coherence, "invert_network")):
        if not path.is_file():
            raise ProductError(f"missing {path}: run MintPy up to its {step!r} step first")
    mask = directory / f"{prefix}maskTempCoh.h5"
    timeseries = choose_timeseries(directory, prefix)
    log.info("products from %s and %s", velocity, timeseries.name)
    return MintPyFiles(
        directory=directory,
        velocity=velocity,
        timeseries=timeseries,
        temporal_coherence=coherence,
        mask=mask if mask.is_file() else None,
    )


def _is_geocoded(path: Path) -> bool:
    return "Y_FIRST" in _read_attrs(path)


def _read_attrs(path: Path) -> dict[str, Any]:
    from mintpy.utils import readfile

    try:
        return dict(readfile.read_attribute(str(path)))
    except Exception as exc:
        raise ProductError(f"cannot read {path} as a MintPy file: {exc}") from exc


def _read(path: Path, dataset: str, grid: GeoGrid) -> np.ndarray:
    from mintpy.utils import readfile

    try:
        data = readfile.read(str(path), datasetName=dataset, print_msg=False)[0]
    except Exception as exc:
        raise ProductError(f"cannot read dataset {dataset!r} from {path}: {exc}") from exc
    data = np.asarray(data, dtype=np.float32)
    if data.shape[-2:] != grid.shape:
        raise ProductError(
            f"{path}:{dataset} is {data.shape[-2:]} pixels but velocity.h5 is {grid.shape}: "
            "the MintPy outputs come from different runs"
        )
    return data


def _reliable_mask(
    files: MintPyFiles, coherence: np.ndarray, grid: GeoGrid, attrs: dict[str, Any]
) -> np.ndarray:
    if files.mask is not None:
        mask = _read(files.mask, "mask", grid)
        return np.asarray(mask != 0)
    threshold = float(attrs.get("mintpy.networkInversion.minTempCoh", DEFAULT_MIN_TEMPORAL_COHERENCE))
    return np.asarray(coherence >= threshold)


def _reference_rowcol(attrs: dict[str, Any], grid: GeoGrid) -> tuple[int, int] | None:
    """MintPy's reference pixel: REF_Y/REF_X, else REF_LAT/REF_LON.

    For UTM grids MintPy stores northing/easting in REF_LAT/REF_LON, so values outside
    the degree ranges are read as grid coordinates.
    """
    try:
        if "REF_Y" in attrs and "REF_X" in attrs:
            row, col = int(float(attrs["REF_Y"])), int(float(attrs["REF_X"]))
            inside = 0 <= row < grid.length and 0 <= col < grid.width
            return (row, col) if inside else None
        if "REF_LAT" in attrs and "REF_LON" in attrs:
            lat, lon = float(attrs["REF_LAT"]), float(attrs["REF_LON"])
            if abs(lat) <= 90 and abs(lon) <= 360 and not grid.is_geographic:
                return grid.rowcol(lat, lon)
            return grid.rowcol_of_xy(lon, lat)
    except ValueError:
        log.warning("unreadable reference point attributes in velocity.h5; none shown")
    return None
