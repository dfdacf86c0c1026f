"""The sandbox catalog serves Sentinel-1 bursts of its Utah SLCs to asf_search's burst searches."""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import asf_search
import pytest
import requests
from asf_search.baseline.stack import get_baseline_from_stack
from insarhub_sandbox.catalog.bursts import absolute_burst_id, relative_burst_id
from insarhub_sandbox.catalog.service import CatalogServer
from insarhub_sandbox.clock import SandboxClock
from pyproj import Geod
from shapely import wkt
from shapely.geometry import Polygon, shape

from insarhub.search.asf import search_options

AOI_WKT = "POLYGON((-113.05 37.74,-112.68 37.74,-112.68 38.0,-113.05 38.0,-113.05 37.74))"
WINTER_2020 = {"start": "2020-01-01", "end": "2020-04-01"}
GEOD = Geod(ellps="WGS84")
AUTH = {"Authorization": "Bearer sandbox-earthdata-token"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogServer]:
    with CatalogServer(tmp_path_factory.mktemp("catalog")) as running:
        yield running


@pytest.fixture
def catalog(server: CatalogServer) -> Iterator[CatalogServer]:
    yield server
    server.clock.set(SandboxClock().now())


def search(server: CatalogServer, **keywords: object) -> asf_search.ASFSearchResults:
    return asf_search.search(opts=search_options(server.url, **keywords))


def day(product: asf_search.ASFProduct) -> str:
    return str(product.properties["startTime"])[:10]


def begins(product: asf_search.ASFProduct) -> datetime:
    """The exact start (asf_search's `startTime` drops the fraction of a second)."""
    text = product.umm["TemporalExtent"]["RangeDateTime"]["BeginningDateTime"]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_burst_search_over_the_aoi_matches_the_slc_dates(catalog: CatalogServer) -> None:
    bursts = search(catalog, intersectsWith=AOI_WKT, dataset="SLC-BURST", polarization="VV",
                    relativeOrbit=100, **WINTER_2020)
    slcs = search(catalog, intersectsWith=AOI_WKT, processingLevel="SLC", relativeOrbit=100,
                  **WINTER_2020)
    assert bursts and all(isinstance(p, asf_search.S1BurstProduct) for p in bursts)
    assert {day(p) for p in bursts} == {day(p) for p in slcs}
    per_date = Counter(day(p) for p in bursts)
    assert len(set(per_date.values())) == 1  # the same bursts cover the AOI on every pass
    ids = {p.properties["burst"]["fullBurstID"] for p in bursts}
    assert len(ids) == next(iter(per_date.values()))
    for product in bursts:
        burst = product.properties["burst"]
        assert product.properties["polarization"] == "VV" and product.properties["pathNumber"] == 100
        assert burst["fullBurstID"] == f"100_{burst['relativeBurstID']:06d}_{burst['subswath']}"
        assert product.properties["sceneName"].startswith(
            f"S1_{burst['relativeBurstID']:06d}_{burst['subswath']}_{day(product).replace('-', '')}T")
        assert Polygon(shape(product.geometry)).intersects(wkt.loads(AOI_WKT))
    swaths = defaultdict(set)
    for full_id in ids:
        _, number, swath = full_id.split("_")
        swaths[swath].add(int(number))
    for numbers in swaths.values():  # contiguous along the track in each swath
        assert sorted(numbers) == list(range(min(numbers), max(numbers) + 1))


def test_an_slc_holds_three_swaths_of_consecutive_bursts(catalog: CatalogServer) -> None:
    slcs = search(catalog, relativeOrbit=100, processingLevel="SLC", **WINTER_2020)
    per_date = Counter(day(p) for p in slcs)
    slc = next(p for p in slcs if per_date[day(p)] == 1)  # frames of one pass share bursts
    footprint = shape(slc.geometry)
    found = search(catalog, dataset="SLC-BURST", polarization="VV", intersectsWith=footprint.wkt,
                   start=slc.properties["startTime"], end=slc.properties["stopTime"])
    mine = [p for p in found if p.umm["InputGranules"] == [f"{slc.properties['sceneName']}-SLC"]]
    by_swath: dict[str, list[asf_search.ASFProduct]] = defaultdict(list)
    for product in mine:
        by_swath[product.properties["burst"]["subswath"]].append(product)
    assert sorted(by_swath) == ["IW1", "IW2", "IW3"]
    for swath, products in by_swath.items():
        products.sort(key=lambda p: p.properties["burst"]["relativeBurstID"])
        numbers = [p.properties["burst"]["relativeBurstID"] for p in products]
        assert 8 <= len(numbers) <= 10 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        assert [p.properties["burst"]["burstIndex"] for p in products] == list(range(len(products)))
        for earlier, later in zip(products, products[1:], strict=False):
            # a burst cycle (2.758 s) apart; ~20 km long footprints that overlap a little
            assert (begins(later) - begins(earlier)).total_seconds() == pytest.approx(2.758, abs=0.01)
            first, second = shape(earlier.geometry), shape(later.geometry)
            assert first.intersects(second) and first.intersection(second).area < 0.2 * first.area
        ring = list(shape(products[0].geometry).exterior.coords)
        along = GEOD.inv(*ring[0], *ring[1])[2] / 1000
        across = GEOD.inv(*ring[1], *ring[3])[2] / 1000
        assert 18 < along < 24
        assert {"IW1": 85, "IW2": 75, "IW3": 70}[swath] == pytest.approx(across, abs=6)
        assert all(footprint.buffer(0.01).contains(shape(p.geometry)) for p in products)


def test_burst_records_carry_what_asf_records_carry(catalog: CatalogServer) -> None:
    product = search(catalog, fullBurstID="100_213495_IW2", polarization="VV", **WINTER_2020)[0]
    with resources.files("insarhub_sandbox").joinpath("data", "slc_burst_stack.json.gz").open("rb") as raw:
        recorded = json.loads(gzip.decompress(raw.read()))[0]["umm"]
    names = {a["Name"] for a in product.umm["AdditionalAttributes"]}
    assert {a["Name"] for a in recorded["AdditionalAttributes"]} <= names
    assert set(recorded) <= set(product.umm)
    burst = product.properties["burst"]
    assert burst["subswath"] == "IW2" and burst["samplesPerBurst"] > 20_000
    attrs = {a["Name"]: a["Values"][0] for a in product.umm["AdditionalAttributes"]}
    node = datetime.fromisoformat(attrs["ASC_NODE_TIME"].replace("Z", "+00:00"))
    assert float(burst["azimuthAnxTime"]) == pytest.approx(
        (begins(product) - node).total_seconds() - 1.15, abs=0.01)
    files = product.properties["url"], *product.properties["additionalUrls"]
    assert [f.rsplit(".", 1)[-1] for f in files] == ["tiff", "xml"]
    assert all(f.startswith(f"{catalog.url}/files/BURST/{product.properties['sceneName']}") for f in files)


def test_burst_baselines_agree_with_the_slc_stack(catalog: CatalogServer) -> None:
    bursts = search(catalog, fullBurstID="100_213495_IW2", polarization="VV", **WINTER_2020)
    slcs = search(catalog, relativeOrbit=100, asfFrame=466, processingLevel="SLC", **WINTER_2020)
    assert len(bursts) == len(slcs) >= 6
    first_burst = min(bursts, key=day)
    first_slc = min(slcs, key=day)
    burst_stack, _ = get_baseline_from_stack(first_burst, bursts)
    slc_stack, _ = get_baseline_from_stack(first_slc, slcs)
    slc_bperp = {day(p): p.properties["perpendicularBaseline"] for p in slc_stack}
    spread = max(abs(v) for v in slc_bperp.values())
    assert spread > 10  # the passes really differ
    for product in burst_stack:
        assert product.properties["perpendicularBaseline"] == pytest.approx(slc_bperp[day(product)], abs=2.0)


def test_bursts_appear_with_the_clock(catalog: CatalogServer) -> None:
    catalog.clock.set(datetime(2020, 1, 20, tzinfo=UTC))
    early = search(catalog, fullBurstID="100_213495_IW2", polarization="VV", **WINTER_2020)
    assert {day(p) for p in early} == {"2020-01-02", "2020-01-14"}
    assert search(catalog, fullBurstID="100_213495_IW2", polarization="VH", **WINTER_2020)
    catalog.clock.set(SandboxClock().now())
    assert len(search(catalog, fullBurstID="100_213495_IW2", polarization="VV", **WINTER_2020)) > 2


def test_slc_searches_do_not_return_bursts(catalog: CatalogServer, tmp_path: Path) -> None:
    slcs = search(catalog, intersectsWith=AOI_WKT, processingLevel="SLC", **WINTER_2020)
    assert slcs and not any("BURST" in p.properties["sceneName"] for p in slcs)
    record = catalog.catalog.lookup(search(catalog, fullBurstID="100_213494_IW3", polarization="VV",
                                           **WINTER_2020)[0].properties["sceneName"])
    assert record is not None and record.stack_key == "100_213494_IW3" and record.processing_level == "BURST"


def test_relative_and_absolute_burst_id_searches_and_downloads(catalog: CatalogServer, tmp_path: Path) -> None:
    by_full = search(catalog, fullBurstID="100_213495_IW3", polarization="VV", **WINTER_2020)
    by_relative = search(catalog, relativeBurstID=213495, polarization="VV", **WINTER_2020)
    assert {p.properties["sceneName"] for p in by_relative} >= {p.properties["sceneName"] for p in by_full}
    assert {p.properties["burst"]["subswath"] for p in by_relative} == {"IW1", "IW2", "IW3"}
    one = by_full[0]
    same = search(catalog, absoluteBurstID=one.properties["burst"]["absoluteBurstID"], polarization="VV")
    assert one.properties["sceneName"] in {p.properties["sceneName"] for p in same}
    assert all(p.properties["startTime"][:10] == day(one) for p in same)
    response = requests.get(one.properties["url"], headers=AUTH, timeout=30)
    assert response.status_code == 200 and response.content.startswith(b"II*\x00")
    assert len(response.content) == int(one.properties["bytes"])
    assert requests.get(one.properties["url"], timeout=30).status_code == 401


def attributes(item: dict) -> dict[str, str]:
    return {a["Name"]: a["Values"][0] for a in item["umm"]["AdditionalAttributes"]}


def test_burst_ids_follow_esas_formula_like_asfs_records(catalog: CatalogServer) -> None:
    with resources.files("insarhub_sandbox").joinpath("data", "slc_burst_stack.json.gz").open("rb") as raw:
        recorded = json.loads(gzip.decompress(raw.read()))
    for item in recorded:  # the formula reproduces ASF's real IDs (166 dates of 174_372326_IW3)
        attrs = attributes(item)
        anx = float(attrs["AZIMUTH_ANX_TIME"])
        assert relative_burst_id(174, anx) == int(attrs["BURST_ID_RELATIVE"])
        orbit = item["umm"]["OrbitCalculatedSpatialDomains"][0]["OrbitNumber"]
        assert abs(absolute_burst_id(orbit, anx) - int(attrs["BURST_ID_ABSOLUTE"])) <= 1
    bursts = search(catalog, intersectsWith=AOI_WKT, dataset="SLC-BURST", relativeOrbit=100, **WINTER_2020)
    assert {p.properties["polarization"] for p in bursts} == {"VV", "VH"}
    for product in bursts:
        burst = product.properties["burst"]
        anx = float(burst["azimuthAnxTime"])
        assert relative_burst_id(100, anx) == burst["relativeBurstID"]
        assert absolute_burst_id(product.properties["orbit"], anx) == burst["absoluteBurstID"]
