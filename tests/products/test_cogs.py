"""The COGs hold MintPy's numbers on MintPy's grid, are valid COGs, and carry dates and units."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from insarhub.products import ProductSet, cog_problems

gdal.UseExceptions()


def read_bands(path):
    dataset = gdal.Open(str(path))
    data = np.stack([dataset.GetRasterBand(i + 1).ReadAsArray() for i in range(dataset.RasterCount)])
    return dataset, data


@pytest.mark.parametrize("name", ["velocity", "velocity_std", "temporal_coherence", "displacement"])
def test_every_raster_is_a_valid_cog(products: ProductSet, name: str) -> None:
    path = getattr(products, name)
    assert cog_problems(path) == []
    info = gdal.Info(str(path), format="json")
    assert info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG"
    assert info["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"] == "DEFLATE"


def test_velocity_cog_matches_velocity_h5_on_the_same_grid(products, synthetic_run) -> None:
    dataset, data = read_bands(products.velocity)
    assert dataset.RasterCount == 1
    assert dataset.GetGeoTransform() == (330000.0, 80.0, 0.0, 4195000.0, 0.0, -80.0)
    assert dataset.GetSpatialRef().GetAuthorityCode(None) == "32612"
    valid = synthetic_run.has_data
    np.testing.assert_array_equal(data[0][valid], synthetic_run.velocity[valid])
    assert np.isnan(data[0][~valid]).all()  # where MintPy inverted nothing: no-data
    band = dataset.GetRasterBand(1)
    assert band.GetUnitType() == "m/year"
    assert np.isnan(band.GetNoDataValue())
    assert dataset.GetMetadata()["UNITS"] == "m/year"
    assert dataset.GetMetadata()["REF_DATE"] == "2020-01-02"


def test_std_and_coherence_cogs_match_their_sources(products, synthetic_run) -> None:
    valid = synthetic_run.has_data
    _, std = read_bands(products.velocity_std)
    np.testing.assert_array_equal(std[0][valid], synthetic_run.velocity_std[valid])
    dataset, coherence = read_bands(products.temporal_coherence)
    np.testing.assert_array_equal(coherence[0][valid], synthetic_run.coherence[valid])
    assert dataset.GetRasterBand(1).GetUnitType() == "1"


def test_displacement_has_one_band_per_date_from_the_corrected_time_series(
    products, synthetic_run
) -> None:
    dataset, data = read_bands(products.displacement)
    assert dataset.RasterCount == len(synthetic_run.dates) == 8
    descriptions = [dataset.GetRasterBand(i + 1).GetDescription() for i in range(dataset.RasterCount)]
    assert descriptions == [date.isoformat() for date in synthetic_run.dates]
    assert dataset.GetRasterBand(3).GetMetadata()["DATE"] == "2020-01-26"
    assert {dataset.GetRasterBand(i + 1).GetUnitType() for i in range(8)} == {"m"}
    valid = synthetic_run.has_data
    # timeseries_demErr.h5 (most corrected), not timeseries.h5 nor timeseriesResidual.h5
    np.testing.assert_array_equal(data[:, valid], synthetic_run.displacement[:, valid])
    assert not np.allclose(data[:, valid], synthetic_run.raw_displacement[:, valid])
    assert dataset.GetMetadata()["SOURCE"] == "timeseries_demErr.h5"


def test_cog_has_overviews_when_the_grid_is_large(tmp_path) -> None:
    from insarhub.products.cog import write_cog
    from insarhub.products.grid import GeoGrid

    grid = GeoGrid(500000.0, 4200000.0, 30.0, -30.0, 1200, 900, 32612)
    data = np.random.default_rng(1).normal(size=grid.shape).astype(np.float32)
    path = write_cog(tmp_path / "big.tif", data, grid, unit="m", descriptions=["noise"])
    assert cog_problems(path) == []
    dataset = gdal.Open(str(path))  # keep the dataset alive while its band is used
    band = dataset.GetRasterBand(1)
    assert band.GetOverviewCount() >= 1
    assert band.GetBlockSize() == [512, 512]
    np.testing.assert_array_equal(band.ReadAsArray(), data)


def test_a_plain_tiff_is_reported_as_not_a_cog(tmp_path) -> None:
    path = tmp_path / "striped.tif"
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), 600, 600, 1, gdal.GDT_Float32)
    dataset.GetRasterBand(1).Fill(1.0)
    dataset = None
    assert cog_problems(path) != []
