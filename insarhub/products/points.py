"""Displacement time series at user points (lat/lon), as a table and a CSV file."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from insarhub.errors import ProductError
from insarhub.products.outputs import MintPyResult

PointsInput = Sequence[tuple[float, float]] | Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class PointSample:
    """A user point and the pixel of the products that holds it."""

    name: str
    lat: float
    lon: float
    row: int
    col: int


def locate_points(result: MintPyResult, points: PointsInput) -> list[PointSample]:
    """Find each (lat, lon) on the products' grid; a point without data is a ProductError."""
    named = points.items() if isinstance(points, Mapping) else (
        (f"P{index + 1}", point) for index, point in enumerate(points)
    )
    samples = []
    for name, point in named:
        lat, lon = _lat_lon(name, point)
        rowcol = result.grid.rowcol(lat, lon)
        if rowcol is None:
            lon_min, lat_min, lon_max, lat_max = result.grid.footprint().bounds
            raise ProductError(
                f"point {name} (lat={lat}, lon={lon}) is outside the data: the products cover "
                f"lat {lat_min:.5f}..{lat_max:.5f}, lon {lon_min:.5f}..{lon_max:.5f}"
            )
        if not result.has_data[rowcol]:
            raise ProductError(
                f"point {name} (lat={lat}, lon={lon}) falls on pixel (row={rowcol[0]}, "
                f"col={rowcol[1]}) where MintPy has no data (masked or not inverted): "
                "choose a point inside the valid area"
            )
        samples.append(PointSample(name=str(name), lat=lat, lon=lon, row=rowcol[0], col=rowcol[1]))
    return samples


def point_table(result: MintPyResult, samples: Sequence[PointSample]) -> pd.DataFrame:
    """One row per point and date: displacement in MintPy's unit (metres), plus pixel context."""
    unit = column_unit(result.displacement_unit)
    velocity_unit = column_unit(result.velocity_unit)
    rows: list[dict[str, Any]] = []
    for sample in samples:
        series = result.displacement[:, sample.row, sample.col]
        for date, value in zip(result.dates, series, strict=True):
            rows.append({
                "point": sample.name,
                "latitude": sample.lat,
                "longitude": sample.lon,
                "row": sample.row,
                "col": sample.col,
                "date": date.isoformat(),
                f"displacement_{unit}": float(value),
                f"velocity_{velocity_unit}": float(result.velocity[sample.row, sample.col]),
                "temporal_coherence": float(result.temporal_coherence[sample.row, sample.col]),
            })
    return pd.DataFrame(rows)


def write_points_csv(result: MintPyResult, samples: Sequence[PointSample], path: Path) -> Path:
    """Write the point time series table as CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    point_table(result, samples).to_csv(path, index=False, float_format="%.7g")
    return path


def _lat_lon(name: str, point: Any) -> tuple[float, float]:
    try:
        lat, lon = (float(value) for value in point)
    except (TypeError, ValueError) as exc:
        raise ProductError(
            f"points[{name}]={point!r} is not a (lat, lon) pair of numbers"
        ) from exc
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise ProductError(f"points[{name}]: lat={lat} is not a latitude in -90..90 (order is (lat, lon))")
    if not (math.isfinite(lon) and -180 <= lon <= 360):
        raise ProductError(f"points[{name}]: lon={lon} is not a longitude in -180..360")
    return lat, lon


def column_unit(unit: str) -> str:
    """'m/year' -> 'm_per_year', for column names."""
    return unit.strip().replace("/", "_per_").replace(" ", "_") or "unitless"
