"""`load_aoi`: every usual AOI form in, one valid EPSG:4326 polygon out; bad input named."""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from insarhub.aoi import AOIWarning, load_aoi
from insarhub.errors import AOIError

SEED = [-113.05, 37.74, -112.68, 38.00]
SEED_BOX = box(*SEED)


def same_area(geometry: shapely.Geometry, expected: shapely.Geometry, tolerance: float = 1e-6) -> bool:
    return geometry.symmetric_difference(expected).area < tolerance


@pytest.fixture
def seed_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["seed"]}, geometry=[SEED_BOX], crs="EPSG:4326")


def test_bbox_wkt_and_geojson_give_the_same_polygon() -> None:
    geojson = json.loads(gpd.GeoSeries([SEED_BOX]).to_json())
    forms = [SEED, tuple(SEED), SEED_BOX.wkt, SEED_BOX, geojson, geojson["features"][0],
             geojson["features"][0]["geometry"], json.dumps(geojson),
             [list(c) for c in SEED_BOX.exterior.coords]]
    for form in forms:
        aoi = load_aoi(form)
        assert isinstance(aoi, Polygon) and same_area(aoi, SEED_BOX), form
        assert aoi.exterior.is_ccw


def test_files_in_any_crs(tmp_path: Path, seed_frame: gpd.GeoDataFrame) -> None:
    seed_frame.to_file(tmp_path / "aoi.geojson", driver="GeoJSON")
    assert same_area(load_aoi(tmp_path / "aoi.geojson"), SEED_BOX)
    assert same_area(load_aoi(str(tmp_path / "aoi.geojson")), SEED_BOX)
    utm = seed_frame.to_crs("EPSG:32612")  # UTM zone 12N, metres
    utm.to_file(tmp_path / "aoi_utm.shp")
    reprojected = load_aoi(tmp_path / "aoi_utm.shp")
    assert reprojected.bounds == pytest.approx(SEED_BOX.bounds, abs=1e-3)
    archive = tmp_path / "aoi_utm.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in tmp_path.glob("aoi_utm.*"):
            if part.suffix != ".zip":
                zipped.write(part, part.name)
    assert load_aoi(archive).bounds == pytest.approx(SEED_BOX.bounds, abs=1e-3)
    utm.to_file(tmp_path / "aoi.gpkg", driver="GPKG")
    assert load_aoi(tmp_path / "aoi.gpkg").bounds == pytest.approx(SEED_BOX.bounds, abs=1e-3)


def test_several_features_are_merged(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)],
                             crs="EPSG:4326")
    frame.to_file(tmp_path / "many.geojson", driver="GeoJSON")
    aoi = load_aoi(tmp_path / "many.geojson")
    assert isinstance(aoi, MultiPolygon) and len(aoi.geoms) == 2 and aoi.area == pytest.approx(3)


def test_self_intersection_is_repaired_with_a_warning() -> None:
    bowtie = "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"
    with pytest.warns(AOIWarning, match="Self-intersection"):
        aoi = load_aoi(bowtie)
    assert aoi.is_valid and aoi.area == pytest.approx(0.5)


def test_antimeridian_boxes_and_polygons_are_split() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AOIWarning)  # also a large AOI
        by_box = load_aoi([179.5, 51.0, -179.5, 52.0])
        by_polygon = load_aoi("POLYGON((179.5 51, -179.5 51, -179.5 52, 179.5 52, 179.5 51))")
        by_360 = load_aoi("POLYGON((179.5 51, 180.5 51, 180.5 52, 179.5 52, 179.5 51))")
    for aoi in (by_box, by_polygon, by_360):
        assert isinstance(aoi, MultiPolygon) and len(aoi.geoms) == 2
        assert aoi.bounds == pytest.approx((-180, 51, 180, 52))
        assert aoi.area == pytest.approx(1.0)


def test_large_aoi_warns() -> None:
    with pytest.warns(AOIWarning, match="Sentinel-1 frames"):
        load_aoi([-120, 30, -100, 45])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_aoi(SEED)  # a normal AOI: no warning at all


MALFORMED = [
    (None, "is not an area"),
    (True, "is not an area"),
    (42, "type int is not supported"),
    ([1, 2, 3], "has 3 numbers"),
    ([1, 2, 3, 4, 5], "has 5 numbers"),
    (["a", 1, 2, 3], "must hold 4 numbers"),
    ([float("nan"), 37.7, -112.6, 38.0], "NaN"),
    ([-113.05, 37.74, -113.05, 38.0], "zero area"),
    ([-112.68, 37.74, -113.05, 38.0], "min_lon -112.68 > max_lon -113.05; swap them"),
    ([-113.05, 38.0, -112.68, 37.74], "min_lat 38.0 > max_lat 37.74"),
    ([37.74, -113.05, 38.0, -112.68], r"look like \[min_lat, min_lon, max_lat, max_lon\]"),
    ([-200, 37.74, -112.68, 38.0], "longitudes must be within -180..180"),
    ([-113.05, -95, -112.68, 38.0], "latitudes must be within -90..90"),
    ("", "empty"),
    ("   ", "empty"),
    ("POLYGON((0 0, 1 1", "cannot be parsed"),
    ("POLYGON EMPTY", "empty geometry"),
    ("POINT(-112.9 37.9)", "Point, which has no area"),
    ("LINESTRING(0 0, 1 1)", "LineString, which has no area"),
    ("POLYGON((0 0, 1 0, 2 0, 0 0))", "no polygon|zero area"),
    ("POLYGON((37.7 -113, 38 -113, 38 -112, 37.7 -112, 37.7 -113))", r"outside -90..90 .*lon lat"),
    ("POLYGON((500000 4170000, 510000 4170000, 510000 4180000, 500000 4170000))", "projected"),
    ("Utah please", "neither WKT, GeoJSON nor an existing file"),
    ("/no/such/aoi.geojson", "does not exist"),
    ('{"type": "Polygon"', "not valid GeoJSON"),
    ({"type": "Polygon"}, "malformed"),
    ({"coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}, "has no 'type'"),
    ({"type": "Feature", "geometry": None}, "has no geometry"),
    ({"type": "FeatureCollection", "features": []}, "has no geometries"),
    ([[0, 0], [1, 1]], "at least 3"),
]


@pytest.mark.parametrize(("value", "message"), MALFORMED, ids=[repr(v)[:40] for v, _ in MALFORMED])
def test_malformed_aois_are_refused_by_name(value: object, message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AOIWarning)
        with pytest.raises(AOIError, match=message) as raised:
            load_aoi(value)  # type: ignore[arg-type,unused-ignore]  # malformed on purpose
    if isinstance(value, (str, list)) and str(value).strip():
        shown = str(value)[:20]
        assert shown in str(raised.value) or "file" in str(raised.value)


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "broken.geojson"
    bad.write_text("this is not geojson")
    with pytest.raises(AOIError, match="cannot be read"):
        load_aoi(bad)
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(AOIError, match="no geometries|cannot be read"):
        load_aoi(empty)
    notazip = tmp_path / "aoi.zip"
    notazip.write_bytes(b"PK nope")
    with pytest.raises(AOIError, match="cannot be read"):
        load_aoi(notazip)
