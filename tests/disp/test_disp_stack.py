"""DISP-S1 products -> MintPy-style time series (opera-utils), measured against the truth."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from disp_helpers import truth

from insarhub.disp import framedb
from insarhub.disp.errors import DispError
from insarhub.products import make_products
from insarhub.products.outputs import locate_outputs, read_outputs


def test_rebased_series_matches_the_simulated_signal(built_frame, sandbox_server, tmp_path) -> None:
    with h5py.File(built_frame.mintpy_dir / "timeseries.h5") as f:
        ts = f["timeseries"][()].astype(np.float64)
        dates = [d.decode() for d in f["date"][()]]
        ry, rx = int(f.attrs["REF_Y"]), int(f.attrs["REF_X"])
    with h5py.File(built_frame.mintpy_dir / "maskTempCoh.h5") as f:
        reliable = f["mask"][()].astype(bool)
    assert dates[0] == "20190823" and "20200219" in dates and dates[-1] >= "20200326"
    first = truth(sandbox_server, f"signal_{dates[0]}", tmp_path)
    errors = {}
    for k, day in enumerate(dates[1:], start=1):
        expected = truth(sandbox_server, f"signal_{day}", tmp_path) - first
        expected -= expected[ry, rx]
        diff = (ts[k] - expected)[reliable & np.isfinite(ts[k])]
        errors[day] = float(np.sqrt(np.mean(diff**2)))
    # phase-linking noise is ~0.3 mm; an unrebased date after 2020-02-19 is off by cm
    assert max(errors.values()) < 0.0015, errors
    assert reliable.mean() > 0.8


def test_outputs_serve_the_products_path(built_frame, tmp_path) -> None:
    result = read_outputs(locate_outputs(built_frame.mintpy_dir))
    assert len(result.dates) == len(built_frame.result.dates)
    assert result.velocity.shape == built_frame.result.shape
    assert np.isfinite(result.velocity[result.reliable]).all()
    assert (built_frame.mintpy_dir / "geometryGeo.h5").is_file()
    products = make_products(built_frame.mintpy_dir, tmp_path / "products")
    written = [p for p in tmp_path.joinpath("products").rglob("*") if p.is_file()]
    assert any(p.suffix == ".tif" for p in written) and any(p.suffix == ".json" for p in written)
    assert products is not None


def test_frame_database_is_local_only(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OPERA_UTILS_DATA_DIR", raising=False)
    with pytest.raises(DispError, match="OPERA_UTILS_DATA_DIR"):
        framedb.configure()
    framedb.configure(tmp_path)  # empty: nothing there, and no download is attempted
    from opera_utils import datasets

    assert datasets.POOCH.base_url.startswith("file://")
    with pytest.raises(DispError, match="frame-geometries-simple"):
        framedb.frame_geodataframe()


@pytest.mark.slow
def test_reformat_engine_gives_the_same_series(built_frame, disp_sandbox, tmp_path) -> None:
    """opera-utils' reformat_stack route and the direct engine agree."""
    from insarhub.disp.stack import build_timeseries

    build_timeseries(built_frame.files, tmp_path / "m", engine="reformat")
    build_timeseries(built_frame.files, tmp_path / "d", engine="direct")
    with h5py.File(tmp_path / "m" / "timeseries.h5") as a, h5py.File(tmp_path / "d" / "timeseries.h5") as b:
        assert list(a["date"][()]) == list(b["date"][()])
        x, y = a["timeseries"][()], b["timeseries"][()]
        ry, rx = int(a.attrs["REF_Y"]), int(a.attrs["REF_X"])
    x, y = x - x[:, ry, rx][:, None, None], y - y[:, ry, rx][:, None, None]  # one reference
    both = np.isfinite(x) & np.isfinite(y)
    assert both.mean() > 0.8
    assert np.abs(x - y)[both].max() < 2e-4  # opera-utils rounds mantissas in reformat


def test_a_failed_rebuild_keeps_the_series_already_made(built_frame, disp_sandbox) -> None:
    from insarhub.disp.stack import build_timeseries

    with h5py.File(built_frame.mintpy_dir / "timeseries.h5") as f:
        before = [d.decode() for d in f["date"][()]]
    with pytest.raises(DispError, match="fewer than 2 DISP-S1 dates on or after 2030-01-01"):
        build_timeseries(built_frame.files, built_frame.mintpy_dir, first_date="2030-01-01")
    with h5py.File(built_frame.mintpy_dir / "timeseries.h5") as f:
        assert [d.decode() for d in f["date"][()]] == before
    assert (built_frame.mintpy_dir / "velocity.h5").is_file()


def test_an_aoi_reads_only_its_window_of_the_frame(built_frame, disp_sandbox, tmp_path) -> None:
    from insarhub.disp.stack import build_timeseries

    small = [-112.89, 37.855, -112.85, 37.885]  # ~3.5 x 3.3 km around the seed site
    result = build_timeseries(built_frame.files, tmp_path / "m", aoi=small,
                              static_dir=built_frame.workdir / "F31466" / "static")
    full_shape = built_frame.result.shape
    assert result.shape[0] < full_shape[0] and result.shape[1] < full_shape[1]
    with h5py.File(built_frame.mintpy_dir / "timeseries.h5") as f:
        full, fx, fy = f["timeseries"][()], float(f.attrs["X_FIRST"]), float(f.attrs["Y_FIRST"])
    with h5py.File(tmp_path / "m" / "timeseries.h5") as f:
        part, px, py = f["timeseries"][()], float(f.attrs["X_FIRST"]), float(f.attrs["Y_FIRST"])
        ry, rx = int(f.attrs["REF_Y"]), int(f.attrs["REF_X"])
    ox, oy = round((px - fx) / 30), round((fy - py) / 30)
    sub = full[:, oy:oy + part.shape[1], ox:ox + part.shape[2]]
    sub = sub - sub[:, ry, rx][:, None, None]
    both = np.isfinite(sub) & np.isfinite(part)
    assert both.mean() > 0.8 and np.abs(sub - part)[both].max() < 1e-5
    with h5py.File(tmp_path / "m" / "geometryGeo.h5") as f:
        assert f["incidenceAngle"].shape == part.shape[1:]


def test_the_frame_database_follows_opera_utils_data_dir(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from opera_utils import datasets

    name = f"frame-geometries-simple-{datasets.BURST_DB_VERSION}.geojson.zip"
    for folder in ("first", "second"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_bytes(b"zip")
    monkeypatch.setenv("OPERA_UTILS_DATA_DIR", str(tmp_path / "first"))
    assert framedb.require(name) == (tmp_path / "first" / name).resolve()
    monkeypatch.setenv("OPERA_UTILS_DATA_DIR", str(tmp_path / "second"))  # another sandbox
    assert framedb.require(name) == (tmp_path / "second" / name).resolve()
