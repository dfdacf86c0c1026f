"""The map grid of geocoded MintPy outputs: CRS, geotransform, lat/lon <-> pixel, footprint."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS, Transformer
from shapely.geometry import Polygon

from insarhub.errors import ProductError

WGS84 = 4326


@dataclass(frozen=True)
class GeoGrid:
    """A north-up raster grid; (x_first, y_first) is the outer corner of the first pixel."""

    x_first: float
    y_first: float
    x_step: float
    y_step: float
    width: int
    length: int
    epsg: int

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any], source: Path | str) -> GeoGrid:
        """Read the grid from MintPy attributes (X/Y_FIRST, X/Y_STEP, WIDTH, LENGTH, EPSG/UTM_ZONE)."""
        if "Y_FIRST" not in attrs or "X_FIRST" not in attrs:
            raise ProductError(
                f"{source} is in radar coordinates (no X_FIRST/Y_FIRST attributes): products "
                "need geocoded MintPy outputs; run MintPy's geocode step (mintpy.geocode = yes)"
            )
        try:
            grid = cls(
                x_first=float(attrs["X_FIRST"]),
                y_first=float(attrs["Y_FIRST"]),
                x_step=float(attrs["X_STEP"]),
                y_step=float(attrs["Y_STEP"]),
                width=int(attrs["WIDTH"]),
                length=int(attrs["LENGTH"]),
                epsg=_epsg_from_attrs(attrs, source),
            )
        except (KeyError, ValueError) as exc:
            raise ProductError(f"{source} has unreadable grid attributes: {exc}") from exc
        if grid.width <= 0 or grid.length <= 0 or grid.x_step == 0 or grid.y_step == 0:
            raise ProductError(
                f"{source} has an empty grid: WIDTH={grid.width}, LENGTH={grid.length}, "
                f"X_STEP={grid.x_step}, Y_STEP={grid.y_step}"
            )
        return grid

    @property
    def shape(self) -> tuple[int, int]:
        return (self.length, self.width)

    @property
    def geotransform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL geotransform (origin at the outer corner of the first pixel)."""
        return (self.x_first, self.x_step, 0.0, self.y_first, 0.0, self.y_step)

    @cached_property
    def crs(self) -> CRS:
        return CRS.from_epsg(self.epsg)

    @property
    def is_geographic(self) -> bool:
        return bool(self.crs.is_geographic)

    def bounds(self) -> tuple[float, float, float, float]:
        """(min_x, min_y, max_x, max_y) of the grid's outer edges in the grid CRS."""
        x_last = self.x_first + self.x_step * self.width
        y_last = self.y_first + self.y_step * self.length
        return (
            min(self.x_first, x_last),
            min(self.y_first, y_last),
            max(self.x_first, x_last),
            max(self.y_first, y_last),
        )

    def extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) for matplotlib's imshow."""
        return (
            self.x_first,
            self.x_first + self.x_step * self.width,
            self.y_first + self.y_step * self.length,
            self.y_first,
        )

    def from_lonlat(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        """Convert WGS84 longitude/latitude to grid-CRS x/y."""
        transformer = Transformer.from_crs(WGS84, self.epsg, always_xy=True)
        x, y = transformer.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x), np.asarray(y)

    def to_lonlat(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Convert grid-CRS x/y to WGS84 longitude/latitude."""
        transformer = Transformer.from_crs(self.epsg, WGS84, always_xy=True)
        lon, lat = transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon), np.asarray(lat)

    def pixel_centres(self, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
        """Grid-CRS x/y of pixel centres."""
        x = self.x_first + (np.asarray(cols, dtype=float) + 0.5) * self.x_step
        y = self.y_first + (np.asarray(rows, dtype=float) + 0.5) * self.y_step
        return x, y

    def rowcol_of_xy(self, x: float, y: float) -> tuple[int, int] | None:
        """The pixel holding grid-CRS (x, y), or None when outside the grid."""
        col = math.floor((x - self.x_first) / self.x_step)
        row = math.floor((y - self.y_first) / self.y_step)
        if 0 <= row < self.length and 0 <= col < self.width:
            return row, col
        return None

    def rowcol(self, lat: float, lon: float) -> tuple[int, int] | None:
        """The pixel holding WGS84 (lat, lon), or None when outside the grid."""
        x, y = self.from_lonlat(lon, lat)
        if not (np.isfinite(x) and np.isfinite(y)):
            return None
        return self.rowcol_of_xy(float(x), float(y))

    def footprint(self, points_per_edge: int = 8) -> Polygon:
        """The grid's outline in WGS84 (edges densified so the reprojection stays faithful)."""
        min_x, min_y, max_x, max_y = self.bounds()
        steps = np.linspace(0.0, 1.0, points_per_edge, endpoint=False)
        xs = np.concatenate([
            min_x + steps * (max_x - min_x),
            np.full_like(steps, max_x),
            max_x - steps * (max_x - min_x),
            np.full_like(steps, min_x),
        ])
        ys = np.concatenate([
            np.full_like(steps, min_y),
            min_y + steps * (max_y - min_y),
            np.full_like(steps, max_y),
            max_y - steps * (max_y - min_y),
        ])
        lon, lat = self.to_lonlat(xs, ys)
        return Polygon(zip(np.round(lon, 7).tolist(), np.round(lat, 7).tolist(), strict=True))


def _epsg_from_attrs(attrs: Mapping[str, Any], source: Path | str) -> int:
    epsg = str(attrs.get("EPSG", "")).strip()
    if epsg.isdigit():
        return int(epsg)
    utm_zone = str(attrs.get("UTM_ZONE", "")).strip()
    if utm_zone:
        south = utm_zone[-1].upper() == "S"
        digits = utm_zone.rstrip("NnSs")
        if digits.isdigit() and 1 <= int(digits) <= 60:
            return (32700 if south else 32600) + int(digits)
        raise ProductError(f"{source}: UTM_ZONE={utm_zone!r} is not a zone like '12N' or '36S'")
    if str(attrs.get("Y_UNIT", "")).lower().startswith("deg") or abs(float(attrs["X_STEP"])) < 1:
        return WGS84
    raise ProductError(
        f"{source} names no coordinate system: expected an EPSG or UTM_ZONE attribute"
    )
