"""A STAC item (plain JSON, STAC 1.0) listing every product with its footprint, dates and assets."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import mapping

from insarhub.products.cog import COG_MEDIA_TYPE
from insarhub.products.outputs import MintPyResult

STAC_VERSION = "1.0.0"
PROJECTION_EXTENSION = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
RASTER_EXTENSION = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"

MEDIA_TYPES = {
    ".tif": COG_MEDIA_TYPE,
    ".csv": "text/csv",
    ".png": "image/png",
    ".parquet": "application/vnd.apache.parquet",
    ".kmz": "application/vnd.google-earth.kmz",
    ".json": "application/json",
}


@dataclass(frozen=True)
class AssetSpec:
    """A product file as a STAC asset."""

    path: Path
    title: str
    roles: tuple[str, ...]
    unit: str | None = None
    bands: int = 0  # raster bands (COGs), described with the raster extension


def item_id(result: MintPyResult) -> str:
    """A stable id from the platform, orbit and date range of the time series."""
    platform = str(result.attrs.get("PLATFORM", "sar")).lower()
    orbit = result.attrs.get("relative_orbit") or result.attrs.get("trackNumber")
    track = f"_t{orbit}" if orbit not in (None, "") else ""
    raw = f"insarhub_{platform}{track}_{result.dates[0]:%Y%m%d}_{result.dates[-1]:%Y%m%d}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)


def write_stac_item(result: MintPyResult, assets: Mapping[str, AssetSpec], path: Path) -> Path:
    """Write the item beside the products; asset hrefs are relative to it."""
    footprint = result.grid.footprint()
    start = dt.datetime.combine(result.dates[0], dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(result.dates[-1], dt.time(23, 59, 59), tzinfo=dt.UTC)
    created = dt.datetime.fromtimestamp(result.files.velocity.stat().st_mtime, tz=dt.UTC)
    properties: dict[str, Any] = {
        "datetime": None,
        "start_datetime": _iso(start),
        "end_datetime": _iso(end),
        "created": _iso(created),
        "proj:epsg": result.grid.epsg,
        "proj:shape": list(result.grid.shape),
        "proj:transform": [result.grid.x_step, 0.0, result.grid.x_first,
                           0.0, result.grid.y_step, result.grid.y_first],
        "insarhub:dates": [date.isoformat() for date in result.dates],
        "insarhub:reference_date": result.reference_date,
        "insarhub:timeseries_source": result.files.timeseries.name,
    }
    platform = str(result.attrs.get("PLATFORM", ""))
    if platform.lower().startswith("sen"):
        properties["constellation"] = "sentinel-1"
    if "ORBIT_DIRECTION" in result.attrs:
        properties["sat:orbit_state"] = str(result.attrs["ORBIT_DIRECTION"]).lower()
    reference = result.reference_lonlat()
    if reference is not None:
        properties["insarhub:reference_point"] = {"lon": reference[0], "lat": reference[1]}

    item = {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [PROJECTION_EXTENSION, FILE_EXTENSION, RASTER_EXTENSION],
        "id": item_id(result),
        "geometry": mapping(footprint),
        "bbox": list(footprint.bounds),
        "properties": properties,
        "links": [{"rel": "self", "href": f"./{path.name}", "type": "application/geo+json"}],
        "assets": {key: _asset(spec, path.parent) for key, spec in assets.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(item, indent=2, default=_json_default) + "\n")
    os.replace(partial, path)
    return path


def _asset(spec: AssetSpec, base: Path) -> dict[str, Any]:
    asset: dict[str, Any] = {
        "href": f"./{spec.path.relative_to(base).as_posix()}",
        "type": MEDIA_TYPES.get(spec.path.suffix.lower(), "application/octet-stream"),
        "title": spec.title,
        "roles": list(spec.roles),
        "file:size": spec.path.stat().st_size,
    }
    if spec.bands:
        band = {"data_type": "float32", "nodata": "nan", **({"unit": spec.unit} if spec.unit else {})}
        asset["raster:bands"] = [band] * spec.bands
    return asset


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _json_default(value: object) -> object:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
