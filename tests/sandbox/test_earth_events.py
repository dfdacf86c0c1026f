"""Deformation events injected into the sandbox's simulated Earth: in products, truth and API."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from insarhub_sandbox.admin import SandboxAdmin
from insarhub_sandbox.earth.events import DeformationEvent, distance_m
from insarhub_sandbox.earth.model import SimulatedEarth, make_scenes
from insarhub_sandbox.errors import SandboxError
from insarhub_sandbox.server import Sandbox, SandboxOptions
from osgeo import gdal
from pyproj import Transformer
from servers import start_sandbox, stop_sandbox

gdal.UseExceptions()
EVENT = DeformationEvent(lon=-112.86, lat=37.872, start=date(2020, 1, 20),
                         magnitude_mm=-30.0, sigma_m=400.0)


def read(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    ds = gdal.Open(str(path))
    return ds.ReadAsArray(), ds.GetGeoTransform()


def test_a_step_event_is_in_the_truth_where_and_when_it_was_put(tmp_path: Path) -> None:
    scenes = make_scenes(4)  # 2020-01-02, -14, -26, 02-07
    earth = SimulatedEarth(noise=False, events=[EVENT])
    plain = SimulatedEarth(noise=False)
    earth.write_truth("p100_f466", scenes, tmp_path / "with")
    plain.write_truth("p100_f466", scenes, tmp_path / "without")
    before = read(tmp_path / "with" / "displacement_20200114.tif")[0] - \
        read(tmp_path / "without" / "displacement_20200114.tif")[0]
    after, gt = read(tmp_path / "with" / "displacement_20200126.tif")
    after = after - read(tmp_path / "without" / "displacement_20200126.tif")[0]
    assert np.abs(before).max() == 0  # not yet
    row, col = np.unravel_index(int(np.argmin(after)), after.shape)
    x, y = gt[0] + (col + 0.5) * gt[1], gt[3] + (row + 0.5) * gt[5]
    lon, lat = Transformer.from_crs(32612, 4326, always_xy=True).transform(x, y)
    assert distance_m(EVENT, lat, lon) < 100  # the bowl's bottom is where the event was put
    assert -0.030 < after.min() < -0.020  # 30 mm vertical, seen along the line of sight


def test_accelerating_events_grow_and_bad_events_are_refused() -> None:
    slow = DeformationEvent.parse("-112.86,37.872,2020-01-01,-20,300,accelerating")
    assert slow.fraction(date(2020, 1, 31)) == pytest.approx(0.25)
    assert slow.fraction(date(2019, 12, 31)) == 0.0
    with pytest.raises(SandboxError, match="lon,lat,start,magnitude_mm"):
        DeformationEvent.parse("-112.86,37.872")
    with pytest.raises(SandboxError, match="kind 'sudden' unknown"):
        DeformationEvent.parse("-112.86,37.872,2020-01-01,-20,300,sudden")
    with pytest.raises(SandboxError, match="start"):
        DeformationEvent.from_dict({"lon": 1.0, "lat": 2.0})


def test_events_through_the_admin_api_persist(tmp_path: Path) -> None:
    with Sandbox(SandboxOptions(data_dir=tmp_path / "data")) as sandbox:
        admin = SandboxAdmin(sandbox.url)
        assert admin.events() == []
        listed = admin.add_event(-112.86, 37.872, "2020-03-01", -25.0, sigma_m=500.0)
        assert listed == [{**EVENT.to_dict(), "start": "2020-03-01", "magnitude_mm": -25.0,
                           "sigma_m": 500.0}]
        assert sandbox.events.events[0].magnitude_mm == -25.0  # what the Earth renders from
        with pytest.raises(SandboxError, match="bad event"):
            admin.add_event(-112.86, 37.872, "not a date")
    saved = json.loads((tmp_path / "data" / "events.json").read_text())
    assert saved == listed
    with Sandbox(SandboxOptions(data_dir=tmp_path / "data")) as again:  # a restart keeps them
        assert SandboxAdmin(again.url).events() == listed
        SandboxAdmin(again.url).clear_events()
        assert SandboxAdmin(again.url).events() == []


def test_sandbox_serve_takes_events_on_the_command_line(tmp_path: Path) -> None:
    served = start_sandbox(tmp_path / "data", "--event=-112.86,37.872,2020-03-01,-30,400,step")
    try:
        assert served.admin.events() == [{**EVENT.to_dict(), "start": "2020-03-01"}]
    finally:
        stop_sandbox(served)
