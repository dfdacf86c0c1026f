"""Cloud-Optimized GeoTIFFs written with GDAL's COG driver."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

from insarhub.errors import ProductError
from insarhub.products.grid import GeoGrid

gdal.UseExceptions()

COG_OPTIONS = [
    "COMPRESS=DEFLATE",
    "PREDICTOR=YES",
    "OVERVIEWS=AUTO",
    "OVERVIEW_RESAMPLING=AVERAGE",
    "BIGTIFF=IF_SAFER",
]
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def write_cog(
    path: Path,
    data: np.ndarray,
    grid: GeoGrid,
    *,
    unit: str,
    descriptions: Sequence[str],
    metadata: Mapping[str, str] | None = None,
    band_metadata: Sequence[Mapping[str, str]] | None = None,
) -> Path:
    """Write a 2-D array or a (band, row, col) stack as a float32 COG with NaN as no-data.

    Every band carries its description and ``unit`` (GDAL unit type and a UNITS item);
    ``metadata`` goes to the dataset. The file appears complete or not at all.
    """
    bands = np.asarray(data, dtype=np.float32)
    if bands.ndim == 2:
        bands = bands[np.newaxis]
    if bands.ndim != 3 or bands.shape[1:] != grid.shape:
        raise ProductError(f"cannot write {path.name}: data {data.shape} is not on grid {grid.shape}")
    if len(descriptions) != bands.shape[0]:
        raise ProductError(f"{path.name}: {len(descriptions)} descriptions for {bands.shape[0]} bands")

    memory = gdal.GetDriverByName("MEM").Create(
        "", grid.width, grid.length, bands.shape[0], gdal.GDT_Float32
    )
    memory.SetGeoTransform(grid.geotransform)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(grid.epsg)
    memory.SetProjection(srs.ExportToWkt())
    memory.SetMetadata({**(metadata or {}), "UNITS": unit})
    for index, (array, description) in enumerate(zip(bands, descriptions, strict=True)):
        band = memory.GetRasterBand(index + 1)
        band.WriteArray(array)
        band.SetNoDataValue(float("nan"))
        band.SetDescription(description)
        band.SetUnitType(unit)
        extra = dict(band_metadata[index]) if band_metadata else {}
        band.SetMetadata({**extra, "UNITS": unit})

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        gdal.GetDriverByName("COG").CreateCopy(str(partial), memory, options=COG_OPTIONS)
    except RuntimeError as exc:
        partial.unlink(missing_ok=True)
        raise ProductError(f"GDAL could not write {path}: {exc}") from exc
    finally:
        memory = None
    os.replace(partial, path)
    return path


def cog_problems(path: Path) -> list[str]:
    """What keeps ``path`` from being a good COG (empty when it is one).

    GDAL's validator (errors and warnings, full check of the tile leaders) plus the
    ``LAYOUT=COG`` marker that GDAL's COG driver writes.
    """
    from osgeo_utils.samples import validate_cloud_optimized_geotiff as validator

    try:
        warnings, errors, _ = validator.validate(str(path), full_check=True)
    except validator.ValidateCloudOptimizedGeoTIFFException as exc:
        return [str(exc)]
    problems = list(errors) + list(warnings)
    layout = gdal.Open(str(path)).GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE")
    if layout != "COG":
        problems.append(f"no LAYOUT=COG marker (layout: {layout})")
    return problems
