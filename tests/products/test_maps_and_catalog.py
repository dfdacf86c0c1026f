"""GeoParquet of reliable pixels, PNG figures, MintPy's KMZ and the STAC item."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from matplotlib.image import imread
from shapely.geometry import Point, shape

from insarhub.errors import ProductError
from insarhub.products import make_products


def test_geoparquet_holds_every_reliable_pixel(products, synthetic_run) -> None:
    frame = gpd.read_parquet(products.geoparquet)
    assert frame.crs.to_epsg() == 32612
    assert len(frame) == int(synthetic_run.reliable.sum())
    rows, cols = frame["row"].to_numpy(), frame["col"].to_numpy()
    assert synthetic_run.reliable[rows, cols].all()
    np.testing.assert_array_equal(frame["velocity_m_per_year"], synthetic_run.velocity[rows, cols])
    np.testing.assert_array_equal(frame["temporal_coherence"], synthetic_run.coherence[rows, cols])
    last = f"displacement_m_{synthetic_run.dates[-1].isoformat()}"
    np.testing.assert_array_equal(frame[last], synthetic_run.displacement[-1, rows, cols])
    assert sum(c.startswith("displacement_m_") for c in frame.columns) == len(synthetic_run.dates)
    first = frame.iloc[0]
    assert first.geometry.x == 330000.0 + (first["col"] + 0.5) * 80.0
    lat, lon = synthetic_run.lat_lon(int(first["row"]), int(first["col"]))
    assert (first["latitude"], first["longitude"]) == pytest.approx((lat, lon), abs=1e-9)


def test_geoparquet_refuses_a_run_without_reliable_pixels(fresh_run, tmp_path) -> None:
    from mintpy.utils import writefile

    writefile.write({"mask": np.zeros((40, 50), dtype=bool)},
                    str(fresh_run.mintpy_dir / "maskTempCoh.h5"),
                    metadata={**fresh_run.attrs, "FILE_TYPE": "mask"}, print_msg=False)
    with pytest.raises(ProductError, match="no reliable pixel"):
        make_products(fresh_run.mintpy_dir, tmp_path, geoparquet=True)


def test_pngs_are_figures_with_content(products) -> None:
    for path in (products.velocity_png, products.timeseries_png):
        image = imread(path)
        assert image.shape[0] > 400 and image.shape[1] > 600
        assert image[..., :3].std() > 0.05  # not a blank canvas


def test_velocity_map_shows_colours_of_both_signs(products) -> None:
    """RdBu_r: subsidence (blue) and the rest around zero; the colour bar spans red too."""
    image = imread(products.velocity_png)[..., :3]
    blue = (image[..., 2] > image[..., 0] + 0.3).sum()
    red = (image[..., 0] > image[..., 2] + 0.3).sum()
    assert blue > 1000 and red > 100


def test_optional_products_are_left_out_unless_asked(synthetic_run, tmp_path) -> None:
    made = make_products(synthetic_run.mintpy_dir, tmp_path)
    assert made.timeseries_csv is made.timeseries_png is made.geoparquet is made.kmz is None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in made.files())
    item = json.loads(made.stac_item.read_text())
    assert set(item["assets"]) == {"velocity", "velocity_std", "temporal_coherence",
                                   "displacement", "velocity_png"}


def test_kmz_from_mintpy_is_a_google_earth_overlay(products) -> None:
    with zipfile.ZipFile(products.kmz) as kmz:
        names = kmz.namelist()
        kml = kmz.read(next(n for n in names if n.endswith(".kml"))).decode()
    assert any(n.endswith("_data.png") for n in names)
    assert "<GroundOverlay>" in kml and "<LatLonBox>" in kml
    north = float(kml.split("<north>")[1].split("</north>")[0])
    assert 37.8 < north < 38.0  # UTM converted to WGS84 by MintPy
    assert not list(products.out_dir.glob("*.kml"))  # MintPy's temporary files are gone


def test_stac_item_lists_every_product(products, synthetic_run) -> None:
    item = json.loads(products.stac_item.read_text())
    assert item["type"] == "Feature" and item["stac_version"] == "1.1.0"
    assert item["properties"]["datetime"] is None
    assert item["properties"]["start_datetime"] == "2020-01-02T00:00:00Z"
    assert item["properties"]["end_datetime"] == "2020-03-26T23:59:59Z"
    assert item["properties"]["proj:code"] == "EPSG:32612"
    assert item["properties"]["insarhub:dates"] == [d.isoformat() for d in synthetic_run.dates]
    listed = {Path(products.stac_item.parent, a["href"]).resolve() for a in item["assets"].values()}
    written = {p.resolve() for p in products.files() if p != products.stac_item}
    assert listed == written
    for asset in item["assets"].values():
        path = products.stac_item.parent / asset["href"]
        assert path.is_file() and asset["file:size"] == path.stat().st_size
        assert asset["roles"] and asset["type"]
    displacement = item["assets"]["displacement"]
    assert displacement["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
    assert len(displacement["raster:bands"]) == 8
    assert displacement["raster:bands"][0]["unit"] == "m"
    assert item["assets"]["kmz"]["type"] == "application/vnd.google-earth.kmz"


def test_stac_geometry_is_the_wgs84_footprint_of_the_grid(products, synthetic_run) -> None:
    item = json.loads(products.stac_item.read_text())
    footprint = shape(item["geometry"])
    assert footprint.is_valid
    for row, col in [(0, 0), (39, 49), (20, 25), (0, 49), (39, 0)]:
        lat, lon = synthetic_run.lat_lon(row, col)
        assert footprint.contains(Point(lon, lat))
    assert not footprint.contains(Point(-112.5, 37.87))
    west, south, east, north = item["bbox"]
    assert west < -112.9 < east and south < 37.87 < north
    reference = item["properties"]["insarhub:reference_point"]
    assert (reference["lat"], reference["lon"]) == pytest.approx(synthetic_run.lat_lon(30, 40))


def test_aoi_may_be_given_as_a_bounding_box(synthetic_run, tmp_path) -> None:
    pytest.importorskip("insarhub.aoi")
    made = make_products(synthetic_run.mintpy_dir, tmp_path, aoi=[-112.92, 37.86, -112.90, 37.88])
    assert made.velocity_png.is_file()
