"""Fixtures for the products tests.

- `synthetic_run`: MintPy output files written with MintPy's own writer (geocoded UTM grid,
  realistic HyP3 attributes) from a known displacement field, so every product can be checked
  against the numbers that went in.
- `products`: make_products run once on it.
- `s3`: moto's S3 server in a subprocess on a loopback port, stopped by PID.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyproj import Transformer

from insarhub.products import ProductSet, make_products

# A 50 x 40 grid of 80 m pixels in UTM zone 12N, inside the seed's Utah AOI.
EPSG = 32612
X_FIRST, Y_FIRST, STEP = 330000.0, 4195000.0, 80.0
WIDTH, LENGTH = 50, 40
DATES = [dt.date(2020, 1, 2) + dt.timedelta(days=12 * i) for i in range(8)]
REF_ROW, REF_COL = 30, 40
NO_DATA = (slice(0, 5), slice(0, 6))  # MintPy did not invert these pixels (coherence 0)
LOW_COHERENCE = (slice(35, 40), slice(0, 10))  # inverted but unreliable


@dataclass
class SyntheticRun:
    """A MintPy folder and the truth written into it."""

    mintpy_dir: Path
    dates: list[dt.date]
    velocity: np.ndarray  # m/year
    velocity_std: np.ndarray
    coherence: np.ndarray
    displacement: np.ndarray  # m, the corrected (demErr) time series
    raw_displacement: np.ndarray  # m, timeseries.h5 before the DEM-error correction
    attrs: dict[str, Any] = field(default_factory=dict)

    def lat_lon(self, row: int, col: int) -> tuple[float, float]:
        """WGS84 lat/lon of a pixel centre."""
        x = X_FIRST + (col + 0.5) * STEP
        y = Y_FIRST - (row + 0.5) * STEP
        lon, lat = Transformer.from_crs(EPSG, 4326, always_xy=True).transform(x, y)
        return float(lat), float(lon)

    @property
    def has_data(self) -> np.ndarray:
        return self.coherence > 0

    @property
    def reliable(self) -> np.ndarray:
        return self.coherence >= 0.7


def base_attributes() -> dict[str, Any]:
    """Attributes as MintPy writes them for HyP3 GAMMA products (prep_hyp3 + smallbaselineApp)."""
    ref_x = X_FIRST + (REF_COL + 0.5) * STEP
    ref_y = Y_FIRST - (REF_ROW + 0.5) * STEP
    return {
        "PROCESSOR": "hyp3", "PLATFORM": "Sen", "ANTENNA_SIDE": "-1",
        "ORBIT_DIRECTION": "DESCENDING", "HEADING": "-167.8", "relative_orbit": "100",
        "WAVELENGTH": "0.05546576", "CENTER_LINE_UTC": "49033.0", "ALOOKS": "4", "RLOOKS": "20",
        "WIDTH": str(WIDTH), "LENGTH": str(LENGTH),
        "X_FIRST": str(X_FIRST), "Y_FIRST": str(Y_FIRST),
        "X_STEP": str(STEP), "Y_STEP": str(-STEP), "X_UNIT": "meters", "Y_UNIT": "meters",
        "EPSG": str(EPSG), "UTM_ZONE": "12N",
        "REF_DATE": DATES[0].strftime("%Y%m%d"), "REF_Y": str(REF_ROW), "REF_X": str(REF_COL),
        # MintPy stores northing/easting here for UTM grids (coord.yx2lalo)
        "REF_LAT": str(ref_y), "REF_LON": str(ref_x),
        "START_DATE": DATES[0].strftime("%Y%m%d"), "END_DATE": DATES[-1].strftime("%Y%m%d"),
    }


def synthetic_truth(seed: int = 0) -> dict[str, np.ndarray]:
    """A subsidence bowl with a seasonal term, MintPy-style zeros where nothing was inverted."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:LENGTH, 0:WIDTH]
    velocity = -0.03 * np.exp(-((rows - 18) ** 2 + (cols - 22) ** 2) / (2 * 8.0**2))
    velocity -= velocity[REF_ROW, REF_COL]
    years = np.array([(d - DATES[0]).days / 365.25 for d in DATES])
    seasonal = 0.002 * np.sin(2 * np.pi * years)[:, None, None] * (rows / LENGTH)
    displacement = velocity[None] * years[:, None, None] + seasonal
    displacement -= displacement[:, REF_ROW, REF_COL][:, None, None]
    dem_error = rng.normal(0, 0.003, (len(DATES), 1, 1)) * (cols / WIDTH)[None]
    raw = displacement + dem_error - dem_error[:, REF_ROW, REF_COL][:, None, None]
    coherence = np.clip(0.95 - 0.05 * rng.random((LENGTH, WIDTH)), 0, 1)
    coherence[LOW_COHERENCE] = 0.4
    velocity_std = 0.0005 + 0.001 * (1 - coherence)
    for array in (velocity, velocity_std, coherence):
        array[NO_DATA] = 0.0
    displacement[:, NO_DATA[0], NO_DATA[1]] = 0.0
    raw[:, NO_DATA[0], NO_DATA[1]] = 0.0
    return {
        "velocity": velocity.astype(np.float32),
        "velocity_std": velocity_std.astype(np.float32),
        "coherence": coherence.astype(np.float32),
        "displacement": displacement.astype(np.float32),
        "raw_displacement": raw.astype(np.float32),
    }


def write_synthetic_run(mintpy_dir: Path, seed: int = 0) -> SyntheticRun:
    """Write velocity.h5, timeseries.h5, timeseries_demErr.h5, timeseriesResidual.h5,
    temporalCoherence.h5 and maskTempCoh.h5 with MintPy's writer."""
    from mintpy.utils import writefile

    mintpy_dir.mkdir(parents=True, exist_ok=True)
    truth = synthetic_truth(seed)
    attrs = base_attributes()
    date_bytes = np.array([d.strftime("%Y%m%d").encode() for d in DATES])
    bperp = np.linspace(-50, 50, len(DATES)).astype(np.float32)

    def timeseries(name: str, data: np.ndarray) -> None:
        writefile.write(
            {"timeseries": data, "date": date_bytes, "bperp": bperp},
            str(mintpy_dir / name), metadata={**attrs, "FILE_TYPE": "timeseries", "UNIT": "m"},
            print_msg=False,
        )

    timeseries("timeseries.h5", truth["raw_displacement"])
    timeseries("timeseries_demErr.h5", truth["displacement"])
    timeseries("timeseriesResidual.h5", truth["raw_displacement"] - truth["displacement"])
    writefile.write(
        {"velocity": truth["velocity"], "velocityStd": truth["velocity_std"],
         "intercept": np.zeros((LENGTH, WIDTH), np.float32)},
        str(mintpy_dir / "velocity.h5"),
        metadata={**attrs, "FILE_TYPE": "velocity", "UNIT": "m/year",
                  "DATE12": f"{DATES[0]:%Y%m%d}_{DATES[-1]:%Y%m%d}"},
        print_msg=False,
    )
    writefile.write(
        {"temporalCoherence": truth["coherence"]}, str(mintpy_dir / "temporalCoherence.h5"),
        metadata={**attrs, "FILE_TYPE": "temporalCoherence", "UNIT": "1"}, print_msg=False,
    )
    writefile.write(
        {"mask": truth["coherence"] >= 0.7}, str(mintpy_dir / "maskTempCoh.h5"),
        metadata={**attrs, "FILE_TYPE": "mask", "UNIT": "1"}, print_msg=False,
    )
    return SyntheticRun(mintpy_dir=mintpy_dir, dates=list(DATES), attrs=attrs, **truth)


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> SyntheticRun:
    return write_synthetic_run(tmp_path_factory.mktemp("synthetic") / "mintpy")


@pytest.fixture
def fresh_run(tmp_path: Path) -> SyntheticRun:
    """A private copy, for tests that damage or change the MintPy files."""
    return write_synthetic_run(tmp_path / "mintpy")


@pytest.fixture(scope="session")
def point_pixels() -> dict[str, tuple[int, int]]:
    """Named pixels for user points: the bowl's centre and a stable pixel."""
    return {"bowl": (18, 22), "stable": (10, 45)}


@pytest.fixture(scope="session")
def products(
    synthetic_run: SyntheticRun, point_pixels: dict[str, tuple[int, int]],
    tmp_path_factory: pytest.TempPathFactory,
) -> ProductSet:
    points = {name: synthetic_run.lat_lon(*rc) for name, rc in point_pixels.items()}
    aoi = _aoi_around(synthetic_run)
    return make_products(
        synthetic_run.mintpy_dir, tmp_path_factory.mktemp("products"),
        points=points, aoi=aoi, geoparquet=True, kmz=True,
    )


def _aoi_around(run: SyntheticRun) -> Any:
    from shapely.geometry import box

    south, west = run.lat_lon(LENGTH - 8, 6)
    north, east = run.lat_lon(6, WIDTH - 8)
    return box(west, south, east, north)


# ---------------------------------------------------------------- real MintPy run
@dataclass
class MintPyRun:
    """Real MintPy outputs of simulated HyP3 products, the truth beside, and their products."""

    workdir: Path
    mintpy_dir: Path
    truth_dir: Path
    dates: list[dt.date]
    points: dict[str, tuple[int, int]]  # name -> (row, col) on MintPy's grid
    point_lat_lon: dict[str, tuple[float, float]]
    products: ProductSet


def simulated_scenes(count: int, spacing_days: int) -> list[Any]:
    """SLC records of one descending stack over the seed's Utah AOI."""
    from insarhub_sandbox.records import SceneRecord

    footprint = "POLYGON((-114.2 37.0, -111.4 37.0, -111.4 38.8, -114.2 38.8, -114.2 37.0))"
    scenes = []
    for index in range(count):
        start = dt.datetime(2020, 1, 2, 13, 35, 1, tzinfo=dt.UTC) + dt.timedelta(days=spacing_days * index)
        stop = start + dt.timedelta(seconds=27)
        orbit = 30341 + 175 * index * spacing_days // 12
        scenes.append(SceneRecord(
            name=f"S1A_IW_SLC__1SDV_{start:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_0{orbit}_0389F1_{index:04X}",
            start=start, stop=stop, platform="S1A", path=100, frame=466,
            flight_direction="DESCENDING", polarization="VV+VH", beam_mode="IW",
            processing_level="SLC", footprint_wkt=footprint, stack_key="p100_f466",
            absolute_orbit=orbit,
        ))
    return scenes


@pytest.fixture(scope="session")
def mintpy_run(tmp_path_factory: pytest.TempPathFactory) -> MintPyRun:
    """8 dates 48 days apart, 18 INSAR_GAMMA pairs on a 60-pixel grid, MintPy run for real."""
    from insarhub_sandbox.earth.model import SimulatedEarth, product_name
    from mintpy.utils import readfile

    from insarhub import Analyzer

    workdir = tmp_path_factory.mktemp("mintpy_run") / "p100_f466"
    hyp3_dir = workdir / "hyp3"
    hyp3_dir.mkdir(parents=True)
    scenes = simulated_scenes(8, 48)
    earth = SimulatedEarth(seed=3, grid_size=60, atmosphere_mm=2.0)
    parameters = {"looks": "20x4", "include_dem": True, "include_look_vectors": True}
    for index, reference in enumerate(scenes):
        for offset, secondary in enumerate(scenes[index + 1 : index + 4]):
            job_parameters = {**parameters, "granules": [reference.name, secondary.name]}
            name = product_name("INSAR_GAMMA", reference, secondary, job_parameters,
                                f"job-{index}-{offset}")
            earth.render_product("INSAR_GAMMA", reference, secondary, job_parameters, hyp3_dir, name)
    truth_dir = workdir / "truth"
    earth.write_truth("p100_f466", scenes, truth_dir)

    analyzer = Analyzer.create("Hyp3_SBAS", workdir=workdir,
                               mintpy_options={"mintpy.save.kmz": "no"})
    analyzer.prep_data()
    analyzer.run()
    mintpy_dir = workdir / "mintpy"

    mask = readfile.read(str(mintpy_dir / "maskTempCoh.h5"), print_msg=False)[0].astype(bool)
    velocity, attrs = readfile.read(str(mintpy_dir / "velocity.h5"), datasetName="velocity",
                                    print_msg=False)
    ref = (int(attrs["REF_Y"]), int(attrs["REF_X"]))
    inner = np.zeros_like(mask)
    inner[3:-3, 3:-3] = True
    fastest = np.unravel_index(np.argmin(np.where(mask & inner, velocity, np.inf)), mask.shape)
    rows, cols = np.nonzero(mask & inner)
    distance = np.hypot(rows - ref[0], cols - ref[1])
    near = int(np.argmin(np.where(distance >= 3, distance, np.inf)))
    points = {"fastest": (int(fastest[0]), int(fastest[1])),
              "near_reference": (int(rows[near]), int(cols[near]))}
    point_lat_lon = {name: _mintpy_lat_lon(attrs, *rc) for name, rc in points.items()}
    products = make_products(mintpy_dir, workdir / "products", points=point_lat_lon,
                             geoparquet=True, kmz=True)
    return MintPyRun(workdir, mintpy_dir, truth_dir, [s.start.date() for s in scenes], points,
                     point_lat_lon, products)


def _mintpy_lat_lon(attrs: dict[str, Any], row: int, col: int) -> tuple[float, float]:
    """A pixel centre in WGS84, through MintPy's own coordinate code."""
    from mintpy.utils import utils as ut

    northing, easting = ut.coordinate(attrs).yx2lalo(row, col)
    lat, lon = ut.utm2latlon(attrs, easting, northing)
    return float(lat), float(lon)
