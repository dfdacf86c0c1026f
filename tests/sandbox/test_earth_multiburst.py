"""Multi-burst products of the simulated Earth cover exactly their bursts and share the truth."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from insarhub_sandbox.catalog.service import CatalogService
from insarhub_sandbox.clock import SandboxClock
from insarhub_sandbox.earth.model import WAVELENGTH, SimulatedEarth, product_name
from insarhub_sandbox.errors import SandboxError
from insarhub_sandbox.products.multiburst import group_record
from insarhub_sandbox.records import SceneRecord
from osgeo import gdal
from pyproj import Transformer
from shapely import wkt

gdal.UseExceptions()
MULTI = "INSAR_ISCE_MULTI_BURST"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> CatalogService:
    return CatalogService(SandboxClock(), tmp_path_factory.mktemp("catalog"), "http://unused")


def group(catalog: CatalogService, day: str, ids: list[str]) -> SceneRecord:
    return group_record([r for i in ids for r in catalog.bursts(i)
                         if r.start.date().isoformat() == day and r.polarization == "VV"])


def render(earth: SimulatedEarth, ref: SceneRecord, sec: SceneRecord, out: Path) -> tuple[str, Path]:
    name = product_name(MULTI, ref, sec, {"looks": "20x4"}, "job")
    archive = earth.render_product(MULTI, ref, sec, {"looks": "20x4"}, out, name)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(out)
    return name, out / name


def read(path: Path) -> tuple[np.ndarray, tuple[float, ...], np.ndarray, np.ndarray]:
    ds = gdal.Open(str(path))
    data = np.asarray(ds.GetRasterBand(1).ReadAsArray())
    gt = ds.GetGeoTransform()
    epsg = int(ds.GetSpatialRef().GetAuthorityCode(None))
    xx, yy = np.meshgrid(gt[0] + (np.arange(ds.RasterXSize) + 0.5) * gt[1],
                         gt[3] + (np.arange(ds.RasterYSize) + 0.5) * gt[5])
    lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(xx, yy)
    return data, gt, lon, lat


def test_product_covers_exactly_its_bursts(catalog: CatalogService, tmp_path: Path) -> None:
    ids = ["100_213495_IW3"]  # its edge crosses the site of interest (the AOI centre)
    ref, sec = group(catalog, "2020-01-14", ids), group(catalog, "2020-01-26", ids)
    name, folder = render(SimulatedEarth(seed=3), ref, sec, tmp_path)
    assert name.startswith("S1_100_000000s1n00-000000s2n00-213495s3n01_IW_20200114_20200126_VV_INT80_")
    footprint = wkt.loads(ref.footprint_wkt)
    corr, _, lon, lat = read(folder / f"{name}_corr.tif")
    inside = shapely.contains_xy(footprint, lon, lat)
    assert 0.1 < inside.mean() < 0.99  # the burst's edge runs through the product
    assert np.array_equal(corr > 0, inside)
    for layer in ("unw_phase", "dem", "lv_theta", "conncomp"):
        data, *_ = read(folder / f"{name}_{layer}.tif")
        assert data.shape == corr.shape and not data[~inside].any()
    assert np.any(inside[0]) and np.any(inside[-1]) and np.any(inside[:, 0]) and np.any(inside[:, -1])


def test_multi_burst_phase_is_the_truth(catalog: CatalogService, tmp_path: Path) -> None:
    ids = ["100_213494_IW2", "100_213495_IW2", "100_213494_IW3", "100_213495_IW3"]
    days = ["2020-01-02", "2020-12-27"]
    ref, sec = (group(catalog, d, ids) for d in days)
    assert ref.stack_key == sec.stack_key == "100_000000s1n00-213494s2n02-213494s3n02"
    earth = SimulatedEarth(seed=5, noise=False)
    name, folder = render(earth, ref, sec, tmp_path / "product")
    truth = earth.write_truth(ref.stack_key, [ref, sec], tmp_path / "truth")
    assert {p.name for p in truth} >= {"velocity.tif", "displacement_20200102.tif", "displacement_20201227.tif"}
    phase, gt, *_ = read(folder / f"{name}_unw_phase.tif")
    valid = read(folder / f"{name}_corr.tif")[0] > 0
    disp = -WAVELENGTH / (4 * math.pi) * phase.astype(np.float64)  # MintPy's sign: towards the satellite
    true, tgt, *_ = read(tmp_path / "truth" / "displacement_20201227.tif")
    row, col = round((gt[3] - tgt[3]) / tgt[5]), round((gt[0] - tgt[0]) / tgt[1])
    window = true[row:row + disp.shape[0], col:col + disp.shape[1]]
    assert valid.mean() > 0.9 and np.ptp(window[valid]) > 0.005  # a real signal, seen nearly everywhere
    assert np.std(disp[valid] - window[valid]) < 1e-5  # the same field, up to HyP3's reference offset


def test_bursts_away_from_the_site_still_render_and_unknown_names_are_refused(catalog: CatalogService,
                                                                            tmp_path: Path) -> None:
    ids = ["100_213490_IW1", "100_213491_IW1"]
    ref, sec = group(catalog, "2020-01-14", ids), group(catalog, "2020-01-26", ids)
    name, folder = render(SimulatedEarth(seed=3), ref, sec, tmp_path)
    corr, _, lon, lat = read(folder / f"{name}_corr.tif")
    assert shapely.contains_xy(wkt.loads(ref.footprint_wkt), lon[corr > 0], lat[corr > 0]).all()
    with pytest.raises(SandboxError, match="not a Sentinel-1 burst granule name"):
        group_record([SceneRecord(**{**ref.__dict__, "name": "S1A_IW_SLC__1SDV_X"})])


@pytest.mark.parametrize("ids", [["100_213496_IW2", "100_213496_IW3"], ["100_213494_IW2"]])
def test_bursts_beside_the_site_are_simulated_where_they_meet_the_aoi(catalog: CatalogService, tmp_path: Path,
                                                                       ids: list[str]) -> None:
    aoi = shapely.box(-113.05, 37.74, -112.68, 38.00)  # the seed AOI; its centre is the site
    ref, sec = group(catalog, "2020-01-14", ids), group(catalog, "2020-01-26", ids)
    footprint = wkt.loads(ref.footprint_wkt)
    assert not footprint.contains(aoi.centroid) and footprint.intersects(aoi)
    name, folder = render(SimulatedEarth(seed=3), ref, sec, tmp_path)
    corr, _, lon, lat = read(folder / f"{name}_corr.tif")
    valid = corr > 0
    assert valid.any() and shapely.contains_xy(footprint, lon[valid], lat[valid]).all()
    assert shapely.contains_xy(aoi, lon[valid], lat[valid]).mean() > 0.5  # mostly over the AOI
