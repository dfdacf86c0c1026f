"""INSAR_ISCE_MULTI_BURST on the sandbox HyP3: hyp3_sdk submits, HyP3's rules refuse, MintPy reads."""

from __future__ import annotations

import re
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import shapely
from hyp3_sdk import HyP3
from hyp3_sdk.exceptions import HyP3Error
from insarhub_sandbox.admin import Hyp3Admin
from insarhub_sandbox.catalog.service import CatalogService
from insarhub_sandbox.clock import SandboxClock
from mintpy.prep_hyp3 import add_hyp3_metadata
from mintpy.utils import readfile
from osgeo import gdal
from pyproj import Transformer
from shapely import wkt

from insarhub.analyzer.prep import check_products, find_products

gdal.UseExceptions()
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REAL_TXT = FIXTURES / "mintpy" / "S1_044_000000s1n00-093117s2n01-093118s3n01_IW_20250718_20250730_VV_INT80_B4FA.txt"
MINTPY_NAME = re.compile(  # MintPy 1.6.4 prep_hyp3's pattern for INSAR_ISCE_MULTI_BURST
    r"S1_\d{3}_\d{6}s1n\d{2}-\d{6}s2n\d{2}-\d{6}s3n\d{2}_IW(_\d{8}){2}_(VV|HH)_INT\d{2}_[0-9A-F]{4}")
OVER_AOI = ["100_213494_IW2", "100_213495_IW2", "100_213494_IW3", "100_213495_IW3"]
LAYERS = ("unw_phase", "corr", "conncomp", "dem", "lv_theta", "lv_phi", "water_mask")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> CatalogService:
    return CatalogService(SandboxClock(), tmp_path_factory.mktemp("catalog"), "http://unused")


def side(catalog: CatalogService, day: str, ids: Sequence[str], pol: str = "VV") -> list[str]:
    """The burst granules of `ids` acquired on `day`."""
    names = [r.name for full_id in ids for r in catalog.bursts(full_id)
             if r.start.date().isoformat() == day and r.polarization == pol]
    assert len(names) == len(ids), f"{ids} on {day}: {names}"
    return names


def block(first: int, count: int, swaths: Sequence[int] = (1, 2, 3)) -> list[str]:
    return [f"100_{first + i:06d}_IW{s}" for i in range(count) for s in swaths]


@pytest.fixture
def hyp3(sandbox) -> HyP3:
    return HyP3(api_url=sandbox.url, token=f"test-{uuid.uuid4()}")


def post(url: str, jobs: list[dict[str, Any]], validate_only: bool = True) -> requests.Response:
    return requests.post(f"{url}/jobs", json={"jobs": jobs, "validate_only": validate_only},
                         headers={"Authorization": f"Bearer test-{uuid.uuid4()}"}, timeout=60)


def job(reference: list[str], secondary: list[str], **params: Any) -> dict[str, Any]:
    return {"job_type": "INSAR_ISCE_MULTI_BURST",
            "job_parameters": {"reference": reference, "secondary": secondary, **params}}


@pytest.mark.parametrize(("bursts", "looks", "credits"), [
    (block(213494, 1, (2,)), "20x4", 1), (OVER_AOI, "20x4", 1), (block(213494, 2), "20x4", 5),
    (block(213493, 4), "20x4", 5), (block(213492, 5), "20x4", 10), (OVER_AOI, "10x2", 5),
    (block(213494, 1, (2, 3)), "5x1", 5),
])
def test_cost_follows_asfs_table(sandbox, catalog: CatalogService, bursts: list[str], looks: str,
                                 credits: float) -> None:
    reference, secondary = side(catalog, "2020-01-14", bursts), side(catalog, "2020-01-26", bursts)
    response = post(sandbox.url, [job(reference, secondary, looks=looks)])
    assert response.status_code == 200, response.text
    assert response.json()["jobs"][0]["credit_cost"] == credits


def test_costs_endpoint_lists_the_multi_burst_table(hyp3: HyP3) -> None:
    table = hyp3.costs()["INSAR_ISCE_MULTI_BURST"]
    assert table["cost_parameters"] == ["looks", "reference"]
    assert [table["cost_table"]["20x4"][str(n)] for n in (1, 4, 5, 12, 13, 15)] == [1, 1, 5, 5, 10, 10]


def refusals(catalog: CatalogService) -> list[tuple[str, list[str], list[str], str]]:
    ref, sec = side(catalog, "2020-01-14", OVER_AOI), side(catalog, "2020-01-26", OVER_AOI)
    vh = side(catalog, "2020-01-26", OVER_AOI, "VH")
    big = block(213492, 6)  # 18 bursts
    return [
        ("different bursts", ref, side(catalog, "2020-01-26", block(213495, 2, (2, 3))),
         "Burst number + swath + polarization identifiers must be the same"),
        ("different counts", ref[:1], sec, "Must provide the same number of reference and secondary scenes, "
                                           "got 1 reference and 4 secondary"),
        ("secondary first", sec, ref, "Reference scenes must be older than secondary scenes"),
        ("cross-polarized", ref, vh, "Burst number + swath + polarization identifiers must be the same"),
        ("VH", side(catalog, "2020-01-14", OVER_AOI, "VH"), vh,
         "VH polarization is not currently supported, only VV and HH"),
        ("two passes", ref[:2] + side(catalog, "2020-01-02", OVER_AOI)[2:], sec,
         "Reference scenes must fall within a 2-minute window"),
        ("duplicate", [ref[0], ref[0]], [sec[0], sec[0]],
         "Each reference scene must have a unique burst number + swath + polarization identifier"),
        ("too many", side(catalog, "2020-01-14", big), side(catalog, "2020-01-26", big),
         "Must provide no more than 15 scene pairs, got 18 reference and 18 secondary"),
        ("unknown", [ref[0].replace("213494", "213000")], [sec[0]], "Some requested scenes could not be found"),
        ("empty", [], [], "Must include at least 1 reference scene and 1 secondary scene"),
    ]


def test_invalid_multi_burst_jobs_are_refused_with_hyp3s_messages(sandbox, catalog: CatalogService) -> None:
    for label, reference, secondary, message in refusals(catalog):
        response = post(sandbox.url, [job(reference, secondary)])
        assert response.status_code == 400, (label, response.text)
        assert message in response.json()["detail"], (label, response.json()["detail"])
    schema = post(sandbox.url, [job(["S1_213494_IW2_20200114T133510_VV_942E"], ["x"])])
    assert schema.status_code == 400 and "does not match" in schema.json()["detail"]


def test_sdk_refusal_spends_nothing(hyp3: HyP3, catalog: CatalogService) -> None:
    ref, sec = side(catalog, "2020-01-14", OVER_AOI), side(catalog, "2020-01-26", OVER_AOI)
    with pytest.raises(HyP3Error, match="Reference scenes must be older"):
        hyp3.submit_insar_isce_multi_burst_job(sec, ref)
    assert hyp3.check_credits() == 8000


def test_gapped_bursts_fail_at_processing_like_burst2safe(hyp3: HyP3, catalog: CatalogService) -> None:
    gapped = ["100_213494_IW2", "100_213496_IW2"]
    batch = hyp3.submit_insar_isce_multi_burst_job(side(catalog, "2020-01-14", gapped),
                                                   side(catalog, "2020-01-26", gapped))
    batch = hyp3.watch(batch, timeout=120, interval=0.3)
    assert batch[0].status_code == "FAILED"
    log = requests.get(batch[0].logs[0], timeout=10).text
    assert "All bursts must have consecutive burst IDs. Found: [213494, 213496]" in log


def pixel_centres(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ds = gdal.Open(str(path))
    data = np.asarray(ds.GetRasterBand(1).ReadAsArray())
    x0, dx, _, y0, _, dy = ds.GetGeoTransform()
    epsg = int(ds.GetSpatialRef().GetAuthorityCode(None))
    xx, yy = np.meshgrid(x0 + (np.arange(ds.RasterXSize) + 0.5) * dx, y0 + (np.arange(ds.RasterYSize) + 0.5) * dy)
    lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(xx, yy)
    return data, lon, lat


def test_multi_burst_product_is_real_format_and_mintpy_reads_it(
        sandbox, hyp3: HyP3, catalog: CatalogService, tmp_path: Path) -> None:
    reference, secondary = side(catalog, "2020-01-14", OVER_AOI), side(catalog, "2020-01-26", OVER_AOI)
    batch = hyp3.submit_insar_isce_multi_burst_job(reference, secondary, name="mb")
    assert batch[0].credit_cost == 1 and hyp3.check_credits() == 7999
    batch = hyp3.watch(batch, timeout=120, interval=0.3)
    assert batch.succeeded()
    archive = batch.download_files(tmp_path / "hyp3")[0]
    name = archive.name[: -len(".zip")]
    assert MINTPY_NAME.fullmatch(name)
    assert name.startswith("S1_100_000000s1n00-213494s2n02-213494s3n02_IW_20200114_20200126_VV_INT80_")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "hyp3")
    folder = tmp_path / "hyp3" / name
    assert all((folder / f"{name}_{layer}.tif").is_file() for layer in LAYERS)

    txt = (folder / f"{name}.txt").read_text().splitlines()
    real = REAL_TXT.read_text().splitlines()
    assert [line.split(":")[0] for line in txt] == [line.split(":")[0] for line in real]
    assert txt[0] == f"Reference Granule: {', '.join(reference)}"
    assert txt[1] == f"Secondary Granule: {', '.join(secondary)}"

    unw = folder / f"{name}_unw_phase.tif"
    meta = add_hyp3_metadata(str(unw), readfile.read_gdal_vrt(str(unw)), is_ifg=True)
    assert meta["DATE12"] == "200114-200126" and meta["beam_swath"] == "23"
    assert meta["ORBIT_DIRECTION"] == "DESCENDING" and meta["PROCESSOR"] == "hyp3"
    assert float(meta["P_BASELINE_TOP_HDR"]) != 0.0
    geometry = add_hyp3_metadata(str(folder / f"{name}_lv_theta.tif"), {
        **readfile.read_gdal_vrt(str(folder / f"{name}_lv_theta.tif"))}, is_ifg=False)
    assert geometry["UNIT"] == "radian"

    products = check_products(find_products(tmp_path / "hyp3"))
    assert [(p.job_type, p.date12, p.polarization) for p in products] == [
        ("INSAR_ISCE_MULTI_BURST", "20200114_20200126", "VV")]

    union = shapely.union_all([wkt.loads(r.footprint_wkt) for r in map(catalog.lookup, reference) if r])
    corr, lon, lat = pixel_centres(folder / f"{name}_corr.tif")
    assert (corr > 0).mean() > 0.5
    assert shapely.contains_xy(union.buffer(0.002), lon[corr > 0], lat[corr > 0]).all()

    truth = Hyp3Admin(sandbox.url).truth_files("100_000000s1n00-213494s2n02-213494s3n02")
    assert {"velocity.tif", "displacement_20200114.tif", "displacement_20200126.tif"} <= set(truth)


def test_same_pair_same_bursts_gives_the_same_stack_key_on_every_date(
        hyp3: HyP3, catalog: CatalogService, tmp_path: Path) -> None:
    dates = ["2020-01-02", "2020-01-14", "2020-01-26"]
    sides = [side(catalog, d, OVER_AOI) for d in dates]
    batch = hyp3.submit_insar_isce_multi_burst_job(sides[0], sides[1])
    batch += hyp3.submit_insar_isce_multi_burst_job(sides[0], sides[2])
    batch = hyp3.watch(batch, timeout=120, interval=0.3)
    assert batch.succeeded()
    names = [j.files[0]["filename"] for j in batch]
    assert {n.split("_")[2] for n in names} == {"000000s1n00-213494s2n02-213494s3n02"}
    assert sorted(n.split("_")[5] for n in names) == ["20200114", "20200126"]


def test_single_burst_jobs_run_on_the_generated_bursts_too(hyp3: HyP3, catalog: CatalogService) -> None:
    first, second = (side(catalog, d, ["100_213495_IW2"])[0] for d in ("2020-01-14", "2020-01-26"))
    batch = hyp3.watch(hyp3.submit_insar_isce_burst_job(first, second), timeout=120, interval=0.3)
    assert batch.succeeded() and batch[0].credit_cost == 1
    assert batch[0].files[0]["filename"].startswith("S1_213495_IW2_20200114_20200126_VV_INT80_")
