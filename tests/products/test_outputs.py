"""Finding MintPy's outputs, and clear errors when they are missing, damaged or mismatched."""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest

from insarhub.errors import ProductError
from insarhub.products import make_products
from insarhub.products.outputs import choose_timeseries, locate_outputs, read_outputs


def test_the_most_corrected_time_series_is_chosen(tmp_path) -> None:
    for name in ["timeseries.h5", "timeseries_ERA5.h5", "timeseries_ERA5_ramp_demErr.h5",
                 "timeseries_ERA5_ramp.h5", "timeseriesResidual.h5", "timeseriesResidual_ramp.h5",
                 "timeseries_ERA5_ramp_demErr.h5.bak"]:
        (tmp_path / name).write_bytes(b"")
    assert choose_timeseries(tmp_path).name == "timeseries_ERA5_ramp_demErr.h5"


def test_only_timeseries_h5_is_used_when_nothing_was_corrected(tmp_path) -> None:
    (tmp_path / "timeseries.h5").write_bytes(b"")
    (tmp_path / "timeseriesResidual.h5").write_bytes(b"")
    assert choose_timeseries(tmp_path).name == "timeseries.h5"


def test_outputs_of_a_synthetic_run_are_read_on_their_grid(synthetic_run) -> None:
    result = read_outputs(locate_outputs(synthetic_run.mintpy_dir))
    assert result.files.timeseries.name == "timeseries_demErr.h5"
    assert result.files.mask is not None and result.files.mask.name == "maskTempCoh.h5"
    assert result.grid.epsg == 32612 and result.grid.shape == (40, 50)
    assert result.dates == synthetic_run.dates
    assert result.reference_rowcol == (30, 40)
    assert result.reference_date == "2020-01-02"
    np.testing.assert_array_equal(result.has_data, synthetic_run.has_data)
    np.testing.assert_array_equal(result.reliable, synthetic_run.reliable)
    lon, lat = result.reference_lonlat()
    assert (lat, lon) == pytest.approx(synthetic_run.lat_lon(30, 40), abs=1e-9)


def test_reference_point_from_ref_lat_lon_in_utm_metres(fresh_run) -> None:
    """Without REF_Y/REF_X MintPy's REF_LAT/REF_LON (northing/easting on UTM grids) are used."""
    with h5py.File(fresh_run.mintpy_dir / "velocity.h5", "r+") as h5:
        del h5.attrs["REF_Y"], h5.attrs["REF_X"]
    result = read_outputs(locate_outputs(fresh_run.mintpy_dir))
    assert result.reference_rowcol == (30, 40)


def test_an_empty_directory_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ProductError, match="no velocity.h5 in mintpy_dir=.*run MintPy"):
        make_products(tmp_path, tmp_path / "out")


def test_a_missing_directory_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ProductError, match="mintpy_dir=.*is not a directory"):
        make_products(tmp_path / "nowhere", tmp_path / "out")


def test_missing_time_series_is_a_clear_error(fresh_run, tmp_path) -> None:
    for path in fresh_run.mintpy_dir.glob("timeseries*.h5"):
        path.unlink()
    with pytest.raises(ProductError, match=r"no timeseries\*.h5 in .*invert_network"):
        make_products(fresh_run.mintpy_dir, tmp_path / "out")


def test_missing_temporal_coherence_is_a_clear_error(fresh_run, tmp_path) -> None:
    (fresh_run.mintpy_dir / "temporalCoherence.h5").unlink()
    with pytest.raises(ProductError, match="missing .*temporalCoherence.h5"):
        make_products(fresh_run.mintpy_dir, tmp_path / "out")


def test_a_corrupt_file_is_a_clear_error(fresh_run, tmp_path) -> None:
    path = fresh_run.mintpy_dir / "velocity.h5"
    path.write_bytes(path.read_bytes()[:200])  # truncated
    with pytest.raises(ProductError, match="cannot read .*velocity.h5"):
        make_products(fresh_run.mintpy_dir, tmp_path / "out")


def test_outputs_of_different_runs_are_a_clear_error(fresh_run, tmp_path) -> None:
    from mintpy.utils import writefile

    attrs = {**fresh_run.attrs, "FILE_TYPE": "temporalCoherence", "WIDTH": "30", "LENGTH": "20"}
    writefile.write({"temporalCoherence": np.ones((20, 30), np.float32)},
                    str(fresh_run.mintpy_dir / "temporalCoherence.h5"), metadata=attrs,
                    print_msg=False)
    with pytest.raises(ProductError, match=r"\(20, 30\) pixels but velocity.h5 is \(40, 50\)"):
        make_products(fresh_run.mintpy_dir, tmp_path / "out")


def test_radar_coordinates_without_geocoded_copies_are_a_clear_error(fresh_run, tmp_path) -> None:
    for path in fresh_run.mintpy_dir.glob("*.h5"):
        with h5py.File(path, "r+") as h5:
            for key in ("X_FIRST", "Y_FIRST", "X_STEP", "Y_STEP"):
                del h5.attrs[key]
    with pytest.raises(ProductError, match="radar coordinates.*mintpy.geocode"):
        make_products(fresh_run.mintpy_dir, tmp_path / "out")


def test_geocoded_copies_in_geo_are_used_for_radar_coordinate_runs(fresh_run, tmp_path) -> None:
    """ISCE2 runs: radar-coordinate files at the top, geocoded geo/geo_*.h5 beside."""
    mintpy_dir = fresh_run.mintpy_dir
    geo = mintpy_dir / "geo"
    geo.mkdir()
    for name in ["velocity.h5", "timeseries_demErr.h5", "temporalCoherence.h5", "maskTempCoh.h5"]:
        shutil.copy(mintpy_dir / name, geo / f"geo_{name}")
    for path in mintpy_dir.glob("*.h5"):
        with h5py.File(path, "r+") as h5:
            del h5.attrs["Y_FIRST"]
    files = locate_outputs(mintpy_dir)
    assert files.directory == geo
    assert files.timeseries.name == "geo_timeseries_demErr.h5"
    made = make_products(mintpy_dir, tmp_path / "out")
    assert made.velocity.is_file()


def test_products_are_identical_when_made_twice(synthetic_run, tmp_path) -> None:
    first = make_products(synthetic_run.mintpy_dir, tmp_path / "a", points=[synthetic_run.lat_lon(9, 9)])
    second = make_products(synthetic_run.mintpy_dir, tmp_path / "b", points=[synthetic_run.lat_lon(9, 9)])
    for one, two in zip(first.files(), second.files(), strict=True):
        assert one.name == two.name
        assert one.read_bytes() == two.read_bytes(), one.name
    assert not [name for name in os.listdir(tmp_path / "a") if name.startswith(".")]


def test_product_set_lists_what_was_made(products) -> None:
    listed = products.as_dict()
    assert listed["out_dir"] == str(products.out_dir)
    assert set(listed) == {"out_dir", "velocity", "velocity_std", "temporal_coherence", "displacement",
                           "velocity_png", "stac_item", "timeseries_csv", "timeseries_png",
                           "geoparquet", "kmz"}
    assert sorted(listed[k] for k in listed if k != "out_dir") == sorted(str(p) for p in products.files())
    assert all(path.is_file() for path in products.files())
