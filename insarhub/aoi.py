"""Areas of interest: read any usual form into one valid shapely polygon in EPSG:4326.

`load_aoi` accepts
- a bounding box `[min_lon, min_lat, max_lon, max_lat]` (EPSG:4326; `min_lon > max_lon` by more
  than 180 degrees means the box crosses the antimeridian),
- a list of `(lon, lat)` points (a ring),
- a WKT string, a GeoJSON string or dict (geometry, Feature or FeatureCollection),
- a shapely geometry,
- a file: GeoJSON, shapefile (`.shp` or zipped `.zip`), GeoPackage, KML ... in any CRS
  (reprojected to EPSG:4326).

Self-intersecting polygons are repaired with a warning; polygons crossing the antimeridian are
split into a MultiPolygon at +-180; AOIs far larger than a Sentinel-1 frame get a warning.
Anything else raises `AOIError`, naming the value and what is allowed.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from insarhub.errors import AOIError

log = logging.getLogger(__name__)

AOIInput: TypeAlias = str | Path | Sequence[float] | Sequence[Sequence[float]] | Mapping[str, Any] | BaseGeometry
S1_FRAME_KM2 = 250 * 170  # one IW SLC covers about 250 km x 170 km
LARGE_AOI_FRAMES = 5  # warn beyond this many frames' worth of area
FILE_SUFFIXES = (".geojson", ".json", ".shp", ".zip", ".gpkg", ".kml", ".fgb", ".gml")
ALLOWED = ("a bbox [min_lon, min_lat, max_lon, max_lat] in degrees, a WKT polygon, a GeoJSON "
           "dict/string, a shapely polygon, or a .geojson/.shp/.zip/.gpkg file path")
_GEOD = Geod(ellps="WGS84")


class AOIWarning(UserWarning):
    """The AOI was usable but changed (repaired, split) or looks unwise (very large)."""


def load_aoi(value: AOIInput) -> Polygon | MultiPolygon:
    """The AOI in `value` as a valid, counter-clockwise (Multi)Polygon in EPSG:4326."""
    if value is None or isinstance(value, bool):
        raise AOIError(f"AOI {value!r} is not an area; give {ALLOWED}")
    if isinstance(value, BaseGeometry):
        geometry = value
    elif isinstance(value, Path):
        geometry = _from_file(value)
    elif isinstance(value, str):
        geometry = _from_text(value)
    elif isinstance(value, Mapping):
        geometry = _from_geojson(value, repr(value)[:80])
    elif isinstance(value, Sequence):
        geometry = _from_sequence(value)
    else:
        raise AOIError(f"AOI of type {type(value).__name__} is not supported; give {ALLOWED}")
    return _finish(geometry, _describe(value))


def optional_aoi(value: AOIInput | None) -> Polygon | MultiPolygon | None:
    """`load_aoi`, with None for "no AOI" (the stack's own extent)."""
    return None if value is None else load_aoi(value)


def bbox_snwe(value: AOIInput | None) -> list[float] | None:
    """ISCE2's bounding box `[S, N, W, E]` of an AOI (None: the stack's common overlap).

    Everywhere else a box is `[W, S, E, N]` (min_lon, min_lat, max_lon, max_lat), as GeoJSON."""
    geometry = optional_aoi(value)
    if geometry is None:
        return None
    west, south, east, north = geometry.bounds
    return [south, north, west, east]


def aoi_argument(value: str | Sequence[str]) -> list[float] | str:
    """A command-line AOI: four numbers (`W,S,E,N` or `W S E N`) become a bbox; else WKT or a path."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) == 4:
        try:
            return [float(part) for part in parts]
        except ValueError:
            pass
    return value if isinstance(value, str) else " ".join(value)


def aoi_area_km2(geometry: BaseGeometry) -> float:
    """Geodesic area in km2."""
    return abs(_GEOD.geometry_area_perimeter(geometry)[0]) / 1e6


def bbox_aoi(values: Sequence[float]) -> Polygon | MultiPolygon:
    """A bbox `[min_lon, min_lat, max_lon, max_lat]` as a polygon (split at the antimeridian)."""
    text = _describe(values)
    if len(values) != 4:
        raise AOIError(f"bbox {text} has {len(values)} numbers; a bbox is "
                       "[min_lon, min_lat, max_lon, max_lat]")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in values)
    except (TypeError, ValueError):
        raise AOIError(f"bbox {text} must hold 4 numbers [min_lon, min_lat, max_lon, max_lat]") from None
    numbers = (min_lon, min_lat, max_lon, max_lat)
    if not all(math.isfinite(v) for v in numbers):
        raise AOIError(f"bbox {text} contains NaN or infinity; give finite degrees")
    if any(abs(lat) > 90 for lat in (min_lat, max_lat)):
        if all(abs(v) <= 90 for v in (min_lon, max_lon)) and all(abs(v) <= 180 for v in (min_lat, max_lat)):
            raise AOIError(f"bbox {text}: latitude outside -90..90; the values look like "
                           "[min_lat, min_lon, max_lat, max_lon]; give [min_lon, min_lat, max_lon, max_lat]")
        raise AOIError(f"bbox {text}: latitudes must be within -90..90")
    if any(abs(lon) > 180 for lon in (min_lon, max_lon)):
        raise AOIError(f"bbox {text}: longitudes must be within -180..180")
    if min_lat > max_lat:
        raise AOIError(f"bbox {text}: min_lat {min_lat} > max_lat {max_lat}; "
                       "the order is [min_lon, min_lat, max_lon, max_lat]")
    if min_lat == max_lat or min_lon == max_lon:
        raise AOIError(f"bbox {text} has zero area; min and max must differ")
    if min_lon > max_lon:
        if min_lon - max_lon <= 180:
            raise AOIError(f"bbox {text}: min_lon {min_lon} > max_lon {max_lon}; swap them (a box "
                           "crossing the antimeridian has min_lon east of 0 and max_lon west of it, "
                           "e.g. [170, -10, -170, 10])")
        return MultiPolygon([box(min_lon, min_lat, 180, max_lat), box(-180, min_lat, max_lon, max_lat)])
    return box(min_lon, min_lat, max_lon, max_lat)


# -- readers ----------------------------------------------------------------------------------
def _describe(value: Any) -> str:
    text = str(value) if isinstance(value, (str, Path)) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _from_sequence(value: Sequence[Any]) -> BaseGeometry:
    if len(value) and all(isinstance(v, Sequence) and not isinstance(v, str) for v in value):
        points = [tuple(v) for v in value]
        if len(points) < 3 or any(len(p) != 2 for p in points):
            raise AOIError(f"AOI ring {_describe(value)} needs at least 3 (lon, lat) pairs")
        try:
            ring = [(float(lon), float(lat)) for lon, lat in points]
        except (TypeError, ValueError):
            raise AOIError(f"AOI ring {_describe(value)} must hold numbers") from None
        return Polygon(ring)
    return bbox_aoi(value)


def _from_text(text: str) -> BaseGeometry:
    stripped = text.strip()
    if not stripped:
        raise AOIError(f"AOI '' is empty; give {ALLOWED}")
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise AOIError(f"AOI {_describe(text)} is not valid GeoJSON: {exc}") from None
        return _from_geojson(data, _describe(text))
    head = stripped.split("(", 1)[0].strip().upper()
    if head in {"POLYGON", "MULTIPOLYGON", "POINT", "LINESTRING", "MULTIPOINT",
                "MULTILINESTRING", "GEOMETRYCOLLECTION", "POLYGON Z", "POLYGON EMPTY"} or \
            head.startswith(("POLYGON", "MULTIPOLYGON", "GEOMETRYCOLLECTION")):
        try:
            return shapely.from_wkt(stripped)
        except shapely.errors.GEOSException as exc:
            raise AOIError(f"AOI WKT {_describe(text)} cannot be parsed: {exc}") from None
    path = Path(stripped).expanduser()
    if path.suffix.lower() in FILE_SUFFIXES or path.exists():
        return _from_file(path)
    raise AOIError(f"AOI {_describe(text)} is neither WKT, GeoJSON nor an existing file; give {ALLOWED}")


def _from_geojson(data: Any, text: str) -> BaseGeometry:
    if not isinstance(data, Mapping) or "type" not in data:
        raise AOIError(f"GeoJSON AOI {text} has no 'type'; give a Polygon, Feature or FeatureCollection")
    kind = data["type"]
    try:
        if kind == "FeatureCollection":
            features = data.get("features") or []
            geometries = [shape(f["geometry"]) for f in features if f.get("geometry")]
            if not geometries:
                raise AOIError(f"GeoJSON FeatureCollection {text} has no geometries")
            return shapely.unary_union(geometries)
        if kind == "Feature":
            if not data.get("geometry"):
                raise AOIError(f"GeoJSON Feature {text} has no geometry")
            return shape(data["geometry"])
        return shape(data)
    except AOIError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError,
            shapely.errors.GEOSException) as exc:
        raise AOIError(f"GeoJSON AOI {text} is malformed ({type(exc).__name__}: {exc})") from None


def _from_file(path: Path) -> BaseGeometry:
    import geopandas as gpd  # heavy: only when a file is given

    if not path.exists():
        raise AOIError(f"AOI file {path} does not exist")
    source = f"zip://{path}" if path.suffix.lower() == ".zip" else str(path)
    try:
        frame = gpd.read_file(source)
    except Exception as exc:  # pyogrio/fiona raise many types for unreadable files
        raise AOIError(f"AOI file {path} cannot be read as vector data ({type(exc).__name__}: "
                       f"{str(exc)[:200]}); give a GeoJSON, shapefile (.shp or zipped) or GeoPackage") from None
    if frame.empty or frame.geometry.isna().all():
        raise AOIError(f"AOI file {path} holds no geometries")
    if frame.crs is None:
        log.warning("AOI file %s has no CRS; assuming EPSG:4326 (lon, lat)", path)
    elif frame.crs.to_epsg() != 4326:
        log.info("reprojecting AOI file %s from %s to EPSG:4326", path, frame.crs.to_string())
        frame = frame.to_crs(4326)
    return shapely.unary_union(list(frame.geometry.dropna()))


# -- validation and repair -------------------------------------------------------------------
def _finish(geometry: BaseGeometry, text: str) -> Polygon | MultiPolygon:
    if geometry is None or geometry.is_empty:
        raise AOIError(f"AOI {text} is an empty geometry; give {ALLOWED}")
    if geometry.has_z:
        geometry = shapely.force_2d(geometry)
    if geometry.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        raise AOIError(f"AOI {text} is a {geometry.geom_type}, which has no area; give a polygon "
                       "or a bbox [min_lon, min_lat, max_lon, max_lat]")
    coords = shapely.get_coordinates(geometry)
    if not coords.size or not (abs(coords) < float("inf")).all():
        raise AOIError(f"AOI {text} has NaN or infinite coordinates")
    lons, lats = coords[:, 0], coords[:, 1]
    if (abs(lats) > 90).any():
        hint = (" (the coordinates look projected: give the file's CRS, or EPSG:4326 degrees)"
                if (abs(coords) > 360).any() else
                " (the values look like (lat, lon); WKT and GeoJSON order is lon lat)"
                if (abs(lons) <= 90).all() else "")
        raise AOIError(f"AOI {text}: latitude {float(lats[abs(lats).argmax()])} outside -90..90{hint}")
    if (lons < -180).any() or (lons > 360).any():
        raise AOIError(f"AOI {text}: longitude {float(lons[abs(lons).argmax()])} outside -180..180")
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        geometry = shapely.make_valid(geometry)
        warnings.warn(f"AOI {text} was invalid ({reason}); repaired it", AOIWarning, stacklevel=3)
        log.warning("AOI repaired: %s", reason)
    geometry = _polygons_only(geometry, text)
    geometry = _wrap_antimeridian(geometry)
    if geometry.area == 0:
        raise AOIError(f"AOI {text} has zero area; give a polygon with an inside")
    area = aoi_area_km2(geometry)
    if area > LARGE_AOI_FRAMES * S1_FRAME_KM2:
        warnings.warn(f"AOI covers {area:,.0f} km2, about {area / S1_FRAME_KM2:.0f} Sentinel-1 "
                      "frames: searches and processing will be large", AOIWarning, stacklevel=3)
    return _orient(geometry)


def _polygons_only(geometry: BaseGeometry, text: str) -> Polygon | MultiPolygon:
    if isinstance(geometry, (Polygon, MultiPolygon)):
        return geometry
    parts = [g for g in shapely.get_parts(geometry) if isinstance(g, (Polygon, MultiPolygon))]
    polygons: list[Polygon] = []
    for part in parts:
        polygons.extend(part.geoms if isinstance(part, MultiPolygon) else [part])
    if not polygons:
        raise AOIError(f"AOI {text} holds no polygon ({geometry.geom_type}); give a polygon")
    merged = shapely.unary_union(polygons)
    return merged if isinstance(merged, (Polygon, MultiPolygon)) else MultiPolygon(polygons)


def _wrap_antimeridian(geometry: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """Split polygons that cross +-180 (edges jumping > 180 degrees, or lon > 180)."""
    polygons = list(geometry.geoms) if isinstance(geometry, MultiPolygon) else [geometry]
    out: list[Polygon] = []
    changed = False
    for polygon in polygons:
        lons = shapely.get_coordinates(polygon.exterior)[:, 0]
        jumps = abs(lons[1:] - lons[:-1]).max() if len(lons) > 1 else 0
        if jumps <= 180 and lons.max() <= 180:
            out.append(polygon)
            continue
        changed = True
        if jumps > 180:  # drawn across the antimeridian with -180..180 coordinates: unwrap
            polygon = shapely.transform(polygon, lambda xy: xy + [[360, 0]] * (xy[:, :1] < 0))
        east = polygon.intersection(box(-180, -90, 180, 90))
        west = shapely.affinity.translate(polygon.intersection(box(180, -90, 540, 90)), xoff=-360)
        for piece in (east, west):
            if not piece.is_empty:
                out.extend(piece.geoms if isinstance(piece, MultiPolygon) else
                           [g for g in shapely.get_parts(piece) if isinstance(g, Polygon)])
    if not changed:
        return geometry
    log.info("AOI crosses the antimeridian: split into %d polygons", len(out))
    return MultiPolygon(out) if len(out) > 1 else out[0]


def _orient(geometry: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    if isinstance(geometry, Polygon):
        return orient(geometry, sign=1.0)
    return MultiPolygon([orient(p, sign=1.0) for p in geometry.geoms])
