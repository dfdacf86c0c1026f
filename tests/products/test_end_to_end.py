"""Products of a real MintPy run on simulated HyP3 products (sandbox Earth, with noise)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from mintpy.utils import readfile
from osgeo import gdal
from shapely.geometry import Point, shape

from insarhub.products import cog_problems

gdal.UseExceptions()


def read_cog(path: Path) -> tuple[np.ndarray, gdal.Dataset]:
    dataset = gdal.Open(str(path))
    return dataset.ReadAsArray().astype(np.float64), dataset


def test_velocity_cog_equals_mintpy_velocity(mintpy_run) -> None:
    velocity, attrs = readfile.read(str(mintpy_run.mintpy_dir / "velocity.h5"), datasetName="velocity")
    coherence = readfile.read(str(mintpy_run.mintpy_dir / "temporalCoherence.h5"))[0]
    cog, dataset = read_cog(mintpy_run.products.velocity)
    assert cog.shape == velocity.shape
    x_first, x_step, _, y_first, _, y_step = dataset.GetGeoTransform()
    assert (x_first, y_first) == (float(attrs["X_FIRST"]), float(attrs["Y_FIRST"]))
    assert (x_step, y_step) == (float(attrs["X_STEP"]), float(attrs["Y_STEP"]))
    assert dataset.GetSpatialRef().GetAuthorityCode(None) == attrs["EPSG"]
    has_data = coherence > 0
    assert has_data.mean() > 0.5
    np.testing.assert_array_equal(cog[has_data], velocity[has_data])
    assert np.isnan(cog[~has_data]).all()
    assert dataset.GetRasterBand(1).GetUnitType() == "m/year"


def test_displacement_cog_has_a_band_per_date_of_the_corrected_series(mintpy_run) -> None:
    source = mintpy_run.mintpy_dir / "timeseries_demErr.h5"  # topographic residual is on
    series = readfile.read(str(source))[0]
    cog, dataset = read_cog(mintpy_run.products.displacement)
    assert dataset.RasterCount == len(mintpy_run.dates) == series.shape[0] == 8
    descriptions = [dataset.GetRasterBand(i + 1).GetDescription() for i in range(8)]
    assert descriptions == [d.isoformat() for d in mintpy_run.dates]
    valid = np.isfinite(cog[0])
    np.testing.assert_array_equal(cog[:, valid], series[:, valid])
    assert dataset.GetMetadata()["SOURCE"] == "timeseries_demErr.h5"


def test_every_cog_is_valid(mintpy_run) -> None:
    products = mintpy_run.products
    for path in (products.velocity, products.velocity_std, products.temporal_coherence,
                 products.displacement):
        assert cog_problems(path) == [], path.name


def test_csv_matches_the_time_series_at_the_points(mintpy_run) -> None:
    series = readfile.read(str(mintpy_run.mintpy_dir / "timeseries_demErr.h5"))[0]
    table = pd.read_csv(mintpy_run.products.timeseries_csv)
    for name, (row, col) in mintpy_run.points.items():
        rows = table[table["point"] == name]
        # the pixel found from lat/lon equals the pixel MintPy's own coordinates gave that lat/lon
        assert (rows["row"].iloc[0], rows["col"].iloc[0]) == (row, col)
        assert len(rows) == 8
        np.testing.assert_allclose(rows["displacement_m"], series[:, row, col], rtol=1e-6, atol=1e-9)
    fastest = table[table["point"] == "fastest"]["displacement_m"].to_numpy()
    assert fastest[-1] - fastest[0] < -0.01  # the simulated bowl subsides by centimetres a year


def test_velocity_resembles_the_simulated_truth(mintpy_run) -> None:
    """The products carry the Earth's signal (compared on the truth grid, up to a constant:
    MintPy's velocities are relative to a reference pixel that has its own noise)."""
    cog, dataset = read_cog(mintpy_run.products.velocity)
    truth, truth_dataset = read_cog(mintpy_run.truth_dir / "velocity.tif")
    gt, truth_gt = dataset.GetGeoTransform(), truth_dataset.GetGeoTransform()
    col0 = round((gt[0] - truth_gt[0]) / gt[1])
    row0 = round((gt[3] - truth_gt[3]) / gt[5])
    truth = truth[row0 : row0 + cog.shape[0], col0 : col0 + cog.shape[1]]
    valid = np.isfinite(cog)
    difference = cog[valid] - truth[valid]
    rmse = np.sqrt(np.mean((difference - difference.mean()) ** 2))
    assert rmse < 0.5 * truth[valid].std()  # ~3 vs ~7.4 mm/yr
    assert np.corrcoef(cog[valid], truth[valid])[0, 1] > 0.85


def test_stac_item_describes_the_run(mintpy_run) -> None:
    products = mintpy_run.products
    item = json.loads(products.stac_item.read_text())
    assert item["properties"]["insarhub:dates"] == [d.isoformat() for d in mintpy_run.dates]
    assert item["properties"]["start_datetime"].startswith(mintpy_run.dates[0].isoformat())
    assert item["properties"]["end_datetime"].startswith(mintpy_run.dates[-1].isoformat())
    assert item["properties"]["sat:orbit_state"] == "descending"
    for asset in item["assets"].values():
        assert (products.stac_item.parent / asset["href"]).is_file()
    assert len(item["assets"]) == len(products.files()) - 1  # all but the item itself
    footprint = shape(item["geometry"])
    for lat, lon in mintpy_run.point_lat_lon.values():
        assert footprint.contains(Point(lon, lat))
    reference = item["properties"]["insarhub:reference_point"]
    assert footprint.contains(Point(reference["lon"], reference["lat"]))


def test_geoparquet_has_mintpys_reliable_pixels(mintpy_run) -> None:
    mask = readfile.read(str(mintpy_run.mintpy_dir / "maskTempCoh.h5"))[0].astype(bool)
    frame = gpd.read_parquet(mintpy_run.products.geoparquet)
    assert len(frame) == int(mask.sum())
    assert mask[frame["row"], frame["col"]].all()
