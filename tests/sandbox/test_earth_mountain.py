"""The simulated Earth's mountain settings (off by default): relief, a seasonal stratified
delay, a turbulence strength per date, winter decorrelation of high ground, ramp events."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from insarhub_sandbox.earth.events import DeformationEvent
from insarhub_sandbox.earth.model import SimulatedEarth, make_scenes, product_name
from osgeo import gdal

gdal.UseExceptions()


def corr(earth: SimulatedEarth, ref, sec, out: Path) -> tuple[np.ndarray, np.ndarray]:
    name = product_name("INSAR_GAMMA", ref, sec, {}, "job")
    with zipfile.ZipFile(earth.render_product("INSAR_GAMMA", ref, sec, {}, out, name)) as archive:
        archive.extractall(out)
    coherence = gdal.Open(str(out / name / f"{name}_corr.tif")).ReadAsArray()
    dem = gdal.Open(str(out / name / f"{name}_dem.tif")).ReadAsArray()
    return coherence, dem


def test_mountain_delay_has_relief_seasons_and_a_strength_per_date() -> None:
    scenes = make_scenes(31)
    flat = SimulatedEarth(seed=2)
    mountain = SimulatedEarth(seed=2, relief_m=1000.0, seasonal_mm_per_km=40.0,
                              turbulence_factors=(0.6, 3.0), stratified_mm_per_km=0.0)
    canvas = mountain._canvas(scenes[0], 80.0)
    relief = np.percentile(canvas.dem, 99) - np.percentile(canvas.dem, 1)
    assert 700 < relief < 1500 and relief < np.ptp(flat._canvas(scenes[0], 80.0).dem)
    h = (canvas.dem - canvas.dem.mean()).ravel()
    slopes, spreads = [], []
    for scene in scenes:
        delay = mountain._delay(canvas, scene.stack_key, scene.start.date()).ravel()
        slope = float(np.polyfit(h, delay, 1)[0])
        slopes.append(slope * 1e6)
        spreads.append(float(np.std(delay - slope * h)))
    assert 60 < max(slopes) - min(slopes) < 110  # +-40 mm/km over the year (+ turbulence)
    assert 2.5 < max(spreads) / min(spreads) < 6.0  # turbulence 0.6-3x (5x) by date
    same = SimulatedEarth(seed=2)._delay(canvas, scenes[0].stack_key, scenes[0].start.date())
    assert np.array_equal(same, flat._delay(canvas, scenes[0].stack_key, scenes[0].start.date()))


def test_high_ground_decorrelates_in_winter_only(tmp_path: Path) -> None:
    winter = make_scenes(3, start=datetime(2020, 1, 2, 13, 35, 1, tzinfo=UTC))
    summer = make_scenes(3, start=datetime(2020, 7, 2, 13, 35, 1, tzinfo=UTC))
    earth = SimulatedEarth(seed=3, relief_m=1000.0, winter_decorrelation=True)
    cold, dem = corr(earth, winter[0], winter[1], tmp_path / "w")
    warm, dem_summer = corr(earth, summer[0], summer[1], tmp_path / "s")
    high, high_summer = dem > np.quantile(dem, 0.7), dem_summer > np.quantile(dem_summer, 0.7)
    assert np.median(cold[high]) < 0.2 < 0.5 < np.median(warm[high_summer])
    low = dem < np.quantile(dem, 0.3)
    assert np.median(cold[low]) > 0.5


def test_a_ramp_event_grows_linearly_then_holds() -> None:
    ramp = DeformationEvent(lon=-112.86, lat=37.87, start=date(2020, 1, 1), kind="ramp",
                            duration_days=48.0)
    assert [ramp.fraction(date(2020, 1, 1) + (date(2020, 1, 13) - date(2020, 1, 1)) * k)
            for k in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert DeformationEvent.parse("-112.86,37.87,2020-01-01,-30,400,ramp").kind == "ramp"
