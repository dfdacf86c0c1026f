"""The STAC item (pystac, STAC 1.1) listing every product with its footprint, dates and assets."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pystac import Asset, Item
from pystac.extensions.file import FileExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, NoDataStrings, RasterBand, RasterExtension
from pystac.extensions.sat import OrbitState, SatExtension
from shapely.geometry import mapping

from insarhub.products.cog import COG_MEDIA_TYPE
from insarhub.products.outputs import MintPyResult

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


def build_stac_item(result: MintPyResult, assets: Mapping[str, AssetSpec], path: Path) -> Item:
    """The STAC item of a time series, built with pystac (projection, file, raster, sat)."""
    footprint = result.grid.footprint()
    start = dt.datetime.combine(result.dates[0], dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(result.dates[-1], dt.time(23, 59, 59), tzinfo=dt.UTC)
    created = dt.datetime.fromtimestamp(result.files.velocity.stat().st_mtime, tz=dt.UTC)
    properties: dict[str, Any] = {
        "created": _iso(created),
        "insarhub:dates": [date.isoformat() for date in result.dates],
        "insarhub:reference_date": result.reference_date,
        "insarhub:timeseries_source": result.files.timeseries.name,
    }
    if str(result.attrs.get("PLATFORM", "")).lower().startswith("sen"):
        properties["constellation"] = "sentinel-1"
    reference = result.reference_lonlat()
    if reference is not None:
        properties["insarhub:reference_point"] = {"lon": reference[0], "lat": reference[1]}
    item = Item(id=item_id(result), geometry=mapping(footprint), bbox=list(footprint.bounds),
                datetime=None, start_datetime=start, end_datetime=end,
                properties=_plain(properties))
    projection = ProjectionExtension.ext(item, add_if_missing=True)
    projection.epsg = int(result.grid.epsg)
    projection.shape = [int(n) for n in result.grid.shape]
    projection.transform = [float(v) for v in (result.grid.x_step, 0.0, result.grid.x_first,
                                               0.0, result.grid.y_step, result.grid.y_first)]
    if "ORBIT_DIRECTION" in result.attrs:
        SatExtension.ext(item, add_if_missing=True).orbit_state = OrbitState(
            str(result.attrs["ORBIT_DIRECTION"]).lower())
    FileExtension.add_to(item)
    RasterExtension.add_to(item)
    for key, spec in assets.items():
        item.add_asset(key, _asset(spec, path.parent))
    item.set_self_href(str(path))
    return item


def write_stac_item(result: MintPyResult, assets: Mapping[str, AssetSpec], path: Path) -> Path:
    """Write the item beside the products (atomically); asset hrefs are relative to it."""
    item = build_stac_item(result, assets, path)
    document = item.to_dict(include_self_link=False, transform_hrefs=False)
    document["links"] = [{"rel": "self", "href": f"./{path.name}", "type": "application/geo+json"}]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(partial, path)
    return path


def _asset(spec: AssetSpec, base: Path) -> Asset:
    asset = Asset(href=f"./{spec.path.relative_to(base).as_posix()}", title=spec.title,
                  media_type=MEDIA_TYPES.get(spec.path.suffix.lower(), "application/octet-stream"),
                  roles=list(spec.roles))
    FileExtension.ext(asset).size = spec.path.stat().st_size
    if spec.bands:
        band = RasterBand.create(data_type=DataType.FLOAT32, nodata=NoDataStrings.NAN, unit=spec.unit)
        RasterExtension.ext(asset).bands = [band] * spec.bands
    return asset


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """numpy scalars to Python numbers, recursively (STAC properties are plain JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") else value
