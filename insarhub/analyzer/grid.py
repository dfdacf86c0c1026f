"""Pixel grids of interferogram layers: read them, find their common overlap, clip to it (GDAL)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from osgeo import gdal, osr
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from insarhub.errors import AOIError, MintPyError

gdal.UseExceptions()
MIN_PIXELS = 8  # smallest common grid side that MintPy can work with


class ProductSetError(MintPyError):
    """The interferogram products cannot be used (missing, corrupt, or not from one stack)."""


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid in a projected CRS."""

    epsg: int
    x0: float
    y0: float
    dx: float
    dy: float  # positive; rows go south
    width: int
    length: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top)."""
        return (self.x0, self.y0 - self.length * self.dy, self.x0 + self.width * self.dx, self.y0)

    def to_lonlat(self, row: float, col: float) -> tuple[float, float]:
        x = self.x0 + (col + 0.5) * self.dx
        y = self.y0 - (row + 0.5) * self.dy
        lon, lat = Transformer.from_crs(self.epsg, 4326, always_xy=True).transform(x, y)
        return float(lon), float(lat)

    def to_rowcol(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = Transformer.from_crs(4326, self.epsg, always_xy=True).transform(lon, lat)
        return (self.y0 - y) / self.dy, (x - self.x0) / self.dx

    def lonlat_extent(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the grid corners."""
        corners = [self.to_lonlat(r, c) for r in (-0.5, self.length - 0.5) for c in (-0.5, self.width - 0.5)]
        lons, lats = zip(*corners, strict=True)
        return min(lons), min(lats), max(lons), max(lats)


def raster_grid(path: Path) -> Grid:
    """The grid of a GeoTIFF (header only); `ProductSetError` if unreadable."""
    try:
        ds = gdal.Open(str(path))
    except RuntimeError as exc:
        raise ProductSetError(f"layer {path} is unreadable ({exc}); delete the product and download it again") from exc
    gt = ds.GetGeoTransform()
    srs = osr.SpatialReference(wkt=ds.GetProjection()) if ds.GetProjection() else None
    epsg = int(srs.GetAuthorityCode(None)) if srs is not None and srs.GetAuthorityCode(None) else 0
    if gt[2] or gt[4] or gt[5] >= 0:
        raise ProductSetError(f"layer {path} is not a north-up grid (geotransform {gt})")
    return Grid(epsg=epsg, x0=gt[0], y0=gt[3], dx=gt[1], dy=-gt[5], width=ds.RasterXSize,
                length=ds.RasterYSize)


def common_grid(grids: Sequence[Grid], aoi: BaseGeometry | None = None) -> Grid:
    """The overlap of all grids (and the AOI's bounding box), on the first grid's pixel lattice."""
    first = grids[0]
    left = max(g.bounds[0] for g in grids)
    bottom = max(g.bounds[1] for g in grids)
    right = min(g.bounds[2] for g in grids)
    top = min(g.bounds[3] for g in grids)
    if left >= right or bottom >= top:
        raise ProductSetError("the products do not overlap: they cannot come from one stack (check the "
                              "frames/bursts under the hyp3 folder)")
    if aoi is not None:
        to_utm = Transformer.from_crs(4326, first.epsg, always_xy=True)
        west, south, east, north = aoi.bounds
        a_left, a_bottom, a_right, a_top = to_utm.transform_bounds(west, south, east, north, densify_pts=21)
        data_extent = Grid(first.epsg, left, top, first.dx, first.dy,
                           max(1, round((right - left) / first.dx)),
                           max(1, round((top - bottom) / first.dy))).lonlat_extent()
        left, bottom = max(left, a_left), max(bottom, a_bottom)
        right, top = min(right, a_right), min(top, a_top)
        if left >= right or bottom >= top:
            raise AOIError(f"the AOI {tuple(round(v, 4) for v in aoi.bounds)} does not intersect the "
                           f"interferograms' common extent (lon/lat {tuple(round(v, 4) for v in data_extent)})")
    col0 = math.ceil((left - first.x0) / first.dx - 1e-6)
    col1 = math.floor((right - first.x0) / first.dx + 1e-6)
    row0 = math.ceil((first.y0 - top) / first.dy - 1e-6)
    row1 = math.floor((first.y0 - bottom) / first.dy + 1e-6)
    width, length = col1 - col0, row1 - row0
    if width < MIN_PIXELS or length < MIN_PIXELS:
        raise ProductSetError(f"the common area of the products (and AOI) is only {width} x {length} pixels; "
                              f"MintPy needs at least {MIN_PIXELS} x {MIN_PIXELS}: enlarge the AOI")
    return Grid(first.epsg, first.x0 + col0 * first.dx, first.y0 - row0 * first.dy, first.dx, first.dy,
                width, length)


def clip_layer(source: Path, target: Path, grid: Grid, source_grid: Grid) -> Path:
    """Cut `grid` out of `source` (a pixel window when aligned, else nearest-neighbour warp)."""
    col = (grid.x0 - source_grid.x0) / grid.dx
    row = (source_grid.y0 - grid.y0) / grid.dy
    partial = target.with_name(f".{target.name}.part")
    try:
        if abs(col - round(col)) < 1e-3 and abs(row - round(row)) < 1e-3:
            gdal.Translate(str(partial), str(source), format="GTiff",
                           srcWin=[round(col), round(row), grid.width, grid.length])
        else:
            left, bottom, right, top = grid.bounds
            gdal.Warp(str(partial), str(source), format="GTiff", outputBounds=(left, bottom, right, top),
                      xRes=grid.dx, yRes=grid.dy, resampleAlg="near")
    except RuntimeError as exc:
        partial.unlink(missing_ok=True)
        raise ProductSetError(f"layer {source} is corrupt or truncated ({exc}); delete the product "
                              "and download it again") from exc
    partial.replace(target)
    return target
