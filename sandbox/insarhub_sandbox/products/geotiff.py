"""GeoTIFF layers on a north-up UTM grid: the raster part of every simulated product."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

PIXEL_SPACING = {"20x4": 80, "10x2": 40, "5x1": 20}  # looks -> output resolution (m)


@dataclass(frozen=True)
class GeoGrid:
    """A north-up UTM pixel grid: upper-left corner, pixel spacing, size."""

    epsg: int
    x0: float
    y0: float
    spacing: float
    width: int
    length: int

    @property
    def geotransform(self) -> tuple[float, float, float, float, float, float]:
        return (self.x0, self.spacing, 0.0, self.y0, 0.0, -self.spacing)

    def wkt(self) -> str:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(self.epsg)
        return str(srs.ExportToWkt())


@dataclass(frozen=True)
class Layer:
    """One GeoTIFF layer of a product."""

    array: np.ndarray
    nodata: float | None = None
    units: str = ""


_GDAL_TYPES = {np.dtype("float32"): gdal.GDT_Float32, np.dtype("uint8"): gdal.GDT_Byte,
               np.dtype("int16"): gdal.GDT_Int16}


def geotiff_bytes(array: np.ndarray, grid: GeoGrid, nodata: float | None = None,
                  description: str = "", units: str = "",
                  band_descriptions: Sequence[str] = ()) -> bytes:
    """A GeoTIFF of `array` (2-D, or 3-D bands-first) on `grid`, built in memory."""
    bands = array[None] if array.ndim == 2 else array
    path = f"/vsimem/insarhub_{id(array)}_{np.random.default_rng().integers(1 << 40)}.tif"
    ds = gdal.GetDriverByName("GTiff").Create(path, grid.width, grid.length, bands.shape[0],
                                              _GDAL_TYPES[bands.dtype])
    try:
        ds.SetGeoTransform(grid.geotransform)
        ds.SetProjection(grid.wkt())
        if description:
            ds.SetMetadataItem("DESCRIPTION", description)
        for index, band_data in enumerate(bands, start=1):
            band = ds.GetRasterBand(index)
            band.WriteArray(band_data)
            if nodata is not None:
                band.SetNoDataValue(nodata)
            if units:
                band.SetUnitType(units)
            if index - 1 < len(band_descriptions):
                band.SetDescription(band_descriptions[index - 1])
        ds.FlushCache()
        ds = None
        handle = gdal.VSIFOpenL(path, "rb")
        gdal.VSIFSeekL(handle, 0, 2)
        size = gdal.VSIFTellL(handle)
        gdal.VSIFSeekL(handle, 0, 0)
        data = bytes(gdal.VSIFReadL(1, size, handle))
        gdal.VSIFCloseL(handle)
        return data
    finally:
        ds = None
        gdal.Unlink(path)


def write_geotiff(path: Path, array: np.ndarray, grid: GeoGrid, **kwargs: object) -> Path:
    """Write a GeoTIFF file (see `geotiff_bytes`)."""
    path.write_bytes(geotiff_bytes(array, grid, **kwargs))  # type: ignore[arg-type]
    return path
