"""Point time series: CSV values equal the time series at the pixel holding each lat/lon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insarhub.errors import ProductError
from insarhub.products import make_products


def test_csv_holds_the_time_series_of_each_point(products, synthetic_run, point_pixels) -> None:
    table = pd.read_csv(products.timeseries_csv)
    assert list(table.columns) == [
        "point", "latitude", "longitude", "row", "col", "date", "displacement_m",
        "velocity_m_per_year", "temporal_coherence",
    ]
    assert sorted(table["point"].unique()) == ["bowl", "stable"]
    for name, (row, col) in point_pixels.items():
        rows = table[table["point"] == name]
        assert (rows["row"].unique().tolist(), rows["col"].unique().tolist()) == ([row], [col])
        assert rows["date"].tolist() == [d.isoformat() for d in synthetic_run.dates]
        np.testing.assert_allclose(
            rows["displacement_m"], synthetic_run.displacement[:, row, col], rtol=1e-6, atol=1e-9
        )
        np.testing.assert_allclose(rows["velocity_m_per_year"], synthetic_run.velocity[row, col],
                                   rtol=1e-6)
    bowl = table[table["point"] == "bowl"]["displacement_m"].to_numpy()
    assert bowl[-1] < -0.005  # the bowl subsides: ~ -29 mm/yr over 84 days


def test_points_without_names_are_numbered(synthetic_run, tmp_path) -> None:
    made = make_products(synthetic_run.mintpy_dir, tmp_path, points=[synthetic_run.lat_lon(20, 20)])
    table = pd.read_csv(made.timeseries_csv)
    assert table["point"].unique().tolist() == ["P1"]
    assert made.timeseries_png is not None and made.timeseries_png.is_file()


def test_a_point_outside_the_data_is_a_clear_error(synthetic_run, tmp_path) -> None:
    with pytest.raises(ProductError, match=r"point far \(lat=40.0, lon=-105.0\) is outside the data"):
        make_products(synthetic_run.mintpy_dir, tmp_path / "out", points={"far": (40.0, -105.0)})
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_a_point_where_mintpy_has_no_data_is_a_clear_error(synthetic_run, tmp_path) -> None:
    lat, lon = synthetic_run.lat_lon(1, 1)  # inside the grid, not inverted
    with pytest.raises(ProductError, match="no data"):
        make_products(synthetic_run.mintpy_dir, tmp_path, points=[(lat, lon)])


@pytest.mark.parametrize(
    ("point", "message"),
    [((-112.9, 37.87), "lat=-112.9 is not a latitude"),
     ((37.87, 500.0), "lon=500.0 is not a longitude"),
     (("north", 3), "is not a \\(lat, lon\\) pair"),
     ((37.87,), "is not a \\(lat, lon\\) pair")],
)
def test_malformed_points_name_the_point_and_value(synthetic_run, tmp_path, point, message) -> None:
    with pytest.raises(ProductError, match=message):
        make_products(synthetic_run.mintpy_dir, tmp_path, points=[point])
