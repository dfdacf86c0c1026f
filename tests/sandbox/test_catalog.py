"""The sandbox catalog answers asf_search's real CMR requests with ASF-shaped content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import asf_search
import pytest
import requests
import yaml
from asf_search.baseline.stack import get_baseline_from_stack
from insarhub_sandbox.catalog.service import CatalogServer, CatalogService
from insarhub_sandbox.catalog.stacks import UTAH_AOI, UTAH_STACKS
from insarhub_sandbox.clock import SandboxClock
from insarhub_sandbox.http import Faults

from insarhub.search.asf import search_options

AOI_WKT = "POLYGON((-113.05 37.74,-112.68 37.74,-112.68 38.0,-113.05 38.0,-113.05 37.74))"
AUTH = {"Authorization": "Bearer sandbox-earthdata-token"}

# ASF's catalog over the seed AOI, as the issue lists it: (path, frame, count, first, last)
ISSUE_TABLE = [
    ("ASCENDING", 20, 117, 10, "2015-04-05", "2016-11-19"),
    ("ASCENDING", 20, 118, 156, "2016-12-13", "2026-02-24"),
    ("ASCENDING", 20, 119, 2, "2015-03-24", "2015-12-25"),
    ("ASCENDING", 20, 120, 12, "2014-10-31", "2016-09-14"),
    ("ASCENDING", 20, 121, 6, "2015-04-05", "2015-08-27"),
    ("ASCENDING", 20, 122, 4, "2016-05-05", "2016-11-19"),
    ("ASCENDING", 20, 123, 151, "2016-12-13", "2026-02-24"),
    ("ASCENDING", 93, 116, 85, "2014-11-05", "2021-12-16"),
    ("ASCENDING", 93, 117, 25, "2015-03-29", "2026-03-01"),
    ("ASCENDING", 93, 118, 5, "2016-10-07", "2017-01-11"),
    ("ASCENDING", 93, 119, 1, "2017-02-10", "2017-02-10"),
    ("ASCENDING", 93, 120, 14, "2015-11-12", "2025-07-04"),
    ("ASCENDING", 93, 121, 85, "2014-11-05", "2021-12-16"),
    ("ASCENDING", 93, 122, 22, "2025-05-05", "2026-03-01"),
    ("DESCENDING", 100, 464, 119, "2015-11-24", "2026-02-23"),
    ("DESCENDING", 100, 465, 20, "2014-11-29", "2017-01-05"),
    ("DESCENDING", 100, 466, 161, "2017-02-22", "2022-07-02"),
    ("DESCENDING", 100, 469, 119, "2015-11-24", "2026-02-23"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogServer]:
    with CatalogServer(tmp_path_factory.mktemp("catalog")) as running:
        yield running


@pytest.fixture
def catalog(server: CatalogServer) -> Iterator[CatalogServer]:
    yield server
    server.set_faults()
    server.clock.set(SandboxClock().now())


def search(server: CatalogServer, **keywords: object) -> asf_search.ASFSearchResults:
    return asf_search.search(opts=search_options(server.url, **keywords))


def post(server: CatalogServer, data: list[tuple[str, str]], **headers: str) -> requests.Response:
    return requests.post(f"{server.url}/search/granules.umm_json", data=data, headers=headers,
                         timeout=30)


def test_generated_stacks_reproduce_the_issue_table(catalog: CatalogServer) -> None:
    records = [r for r in catalog.catalog.records if r.stack_key.startswith("p")
               and r.path in (20, 93, 100)]
    table = []
    for direction, path, frame, _, _, _ in ISSUE_TABLE:
        stack = sorted((r for r in records if (r.path, r.frame) == (path, frame)),
                       key=lambda r: r.start)
        assert {r.flight_direction for r in stack} == {direction}
        table.append((direction, path, frame, len(stack), stack[0].start.date().isoformat(),
                      stack[-1].start.date().isoformat()))
    assert table == ISSUE_TABLE
    assert len(records) == sum(row[3] for row in ISSUE_TABLE)


def test_asf_search_finds_every_utah_stack_through_the_aoi(catalog: CatalogServer) -> None:
    results = search(catalog, intersectsWith=AOI_WKT, dataset="SENTINEL-1", processingLevel="SLC",
                     beamMode="IW")
    assert all(type(p).__name__ == "S1Product" for p in results)
    stacks: dict[tuple[int, int], int] = {}
    for product in results:
        key = (product.properties["pathNumber"], product.properties["frameNumber"])
        stacks[key] = stacks.get(key, 0) + 1
    assert stacks == {(path, frame): count for _, path, frame, count, _, _ in ISSUE_TABLE}
    # real S1 naming, the sandbox's own download URLs, platforms of the time
    product = results[0]
    assert product.properties["sceneName"].startswith(("S1A_IW_SLC__1SDV_", "S1B_IW_SLC__1SDV_",
                                                       "S1C_IW_SLC__1SDV_"))
    assert product.properties["url"].startswith(f"{catalog.url}/files/SLC/")
    platforms = {p.properties["platform"] for p in results}
    assert platforms == {"Sentinel-1A", "Sentinel-1B", "Sentinel-1C"}


def test_path_frame_and_2020_gives_thirty_scenes(catalog: CatalogServer) -> None:
    results = search(catalog, intersectsWith=AOI_WKT, dataset="SENTINEL-1", processingLevel="SLC",
                     relativeOrbit=100, frame=466, flightDirection="DESCENDING",
                     start="2020-01-01", end="2020-12-31T23:59:59Z")
    days = sorted(p.properties["startTime"][:10] for p in results)
    assert len(days) == 30
    assert (days[0], days[-1]) == ("2020-01-02", "2020-12-27")
    gaps = {(date.fromisoformat(b) - date.fromisoformat(a)).days for a, b in zip(days, days[1:], strict=False)}
    assert gaps == {12, 24}  # 12-day repeat with one missed acquisition


def test_filters_cut_by_attribute_geometry_and_time(catalog: CatalogServer) -> None:
    base = {"dataset": "SENTINEL-1", "processingLevel": "SLC"}
    ascending = search(catalog, intersectsWith=AOI_WKT, flightDirection="ASCENDING", **base)
    assert {p.properties["flightDirection"] for p in ascending} == {"ASCENDING"}
    assert len(ascending) == sum(r[3] for r in ISSUE_TABLE if r[0] == "ASCENDING")
    # a point in the AOI's north-west corner is outside the southern frames of path 20
    point = search(catalog, intersectsWith="POINT(-113.0 37.99)", relativeOrbit=20, **base)
    assert {p.properties["frameNumber"] for p in point} < {117, 118, 119, 120, 121, 122, 123}
    # far away: nothing
    assert len(search(catalog, intersectsWith="POINT(10 10)", **base)) == 0
    s1b = search(catalog, intersectsWith=AOI_WKT, platform="Sentinel-1B", relativeOrbit=93, **base)
    assert s1b and {p.properties["platform"] for p in s1b} == {"Sentinel-1B"}
    season = search(catalog, intersectsWith=AOI_WKT, relativeOrbit=100, frame=466,
                    start="2018-01-01", end="2019-12-31", season=(152, 243), **base)  # June-August
    assert season and {p.properties["startTime"][5:7] for p in season} <= {"06", "07", "08"}
    named = results_names(search(catalog, granule_list=[season[0].properties["sceneName"]]))
    assert named == [season[0].properties["sceneName"]]


def results_names(results: asf_search.ASFSearchResults) -> list[str]:
    return [p.properties["sceneName"] for p in results]


def test_paging_with_search_after_returns_every_hit_once(catalog: CatalogServer) -> None:
    form = [("shortName", "SENTINEL-1A_SLC"), ("shortName", "SENTINEL-1B_SLC"),
            ("shortName", "SENTINEL-1C_SLC"), ("bounding_box", ",".join(map(str, UTAH_AOI))),
            ("page_size", "100")]
    seen: list[str] = []
    after = None
    while True:
        headers: dict[str, str] = {"CMR-Search-After": after} if after else {}
        answer = post(catalog, form, **headers)
        assert answer.status_code == 200
        body = answer.json()
        seen += [item["umm"]["GranuleUR"] for item in body["items"]]
        if len(seen) >= body["hits"]:
            break
        after = answer.headers["CMR-Search-After"]
    assert len(seen) == len(set(seen)) == body["hits"] == 997
    ends = [catalog.catalog.lookup(ur).stop for ur in seen]  # type: ignore[union-attr]
    assert ends == sorted(ends, reverse=True)  # CMR's -end_date order


def test_bad_parameters_get_cmr_errors(catalog: CatalogServer) -> None:
    for form in ([("page_size", "lots")], [("attribute[]", "int,PATH_NUMBER")],
                 [("polygon", "1,2,3")], [("temporal", "yesterday,today")]):
        answer = post(catalog, form)
        assert answer.status_code == 400
        assert answer.json()["errors"]


def test_clock_hides_later_acquisitions(catalog: CatalogServer) -> None:
    keywords = {"dataset": "SENTINEL-1", "processingLevel": "SLC", "relativeOrbit": 100,
                "frame": 466, "intersectsWith": AOI_WKT}
    catalog.clock.set("2020-06-01T00:00:00Z")
    before = results_names(search(catalog, **keywords))
    # 12-day repeat from 2017-02-22 to 2020-05-25 (100 slots), less the 2018-08-16 gap
    assert len(before) == 99
    assert max(before).split("_")[5].startswith("20200525")
    catalog.clock.advance(days=7)
    assert len(search(catalog, **keywords)) == len(before)  # 2020-06-06 was never acquired
    catalog.clock.advance(days=12)
    later = results_names(search(catalog, **keywords))
    assert len(later) == len(before) + 1 and set(before) < set(later)


def test_generated_state_vectors_give_realistic_baselines(catalog: CatalogServer) -> None:
    stack = search(catalog, intersectsWith=AOI_WKT, dataset="SENTINEL-1", processingLevel="SLC",
                   relativeOrbit=100, frame=466)
    reference = stack[len(stack) // 2]
    computed, warnings = get_baseline_from_stack(reference, stack)
    assert warnings == []
    bperp = [p.properties["perpendicularBaseline"] for p in computed]
    assert all(b is not None for b in bperp)
    assert 30 < max(abs(b) for b in bperp) < 300
    assert sum(abs(b) < 150 for b in bperp) > 0.9 * len(bperp)
    temporal = sorted(p.properties["temporalBaseline"] for p in computed)
    assert temporal[0] < 0 < temporal[-1] and all(t % 12 == 0 for t in temporal)


def test_recorded_burst_stack_keeps_asf_baselines(catalog: CatalogServer, fixtures_dir: Path) -> None:
    stack = search(catalog, fullBurstID="174_372326_IW3", dataset="SLC-BURST", polarization="VV")
    assert len(stack) == 166 and type(stack[0]).__name__ == "S1BurstProduct"
    reference = next(p for p in stack
                     if p.properties["sceneName"] == "S1_372326_IW3_20180815T151558_VV_6BD3-BURST")
    computed, _ = get_baseline_from_stack(reference, stack)
    recorded = {item["properties"]["sceneName"]: item["properties"]["perpendicularBaseline"]
                for item in yaml.load((fixtures_dir / "asf_search" / "SLC_BURST_stack.yml").read_text(), Loader=yaml.CSafeLoader)}
    differences = [abs(p.properties["perpendicularBaseline"] - recorded[p.properties["sceneName"]])
                   for p in computed]
    assert max(differences) <= 10  # ASF's own values, from the state vectors we serve unchanged


def test_lookup_returns_scene_records(catalog: CatalogServer) -> None:
    service = catalog.catalog
    record = next(r for r in service.records if r.stack_key == "p100_f466")
    assert service.lookup(record.name) == record
    assert service.lookup(f"{record.name}-SLC") == record
    assert record.file_url == f"{catalog.url}/files/SLC/{record.name}.zip"
    assert record.platform in {"S1A", "S1B"} and record.processing_level == "SLC"
    burst = service.lookup("S1_372326_IW3_20180815T151558_VV_6BD3-BURST")
    assert burst is not None and burst.burst_id == burst.stack_key == "174_372326_IW3"
    assert burst.processing_level == "BURST" and burst.start.tzinfo is not None
    assert service.lookup("S1A_IW_SLC__1SDV_20990101T000000_20990101T000027_000000_000000_0000") is None
    visible = service.visible(datetime(2020, 1, 3, tzinfo=UTC))
    assert visible and max(r.stop for r in visible) <= datetime(2020, 1, 3, tzinfo=UTC)


def test_generation_is_deterministic(tmp_path: Path) -> None:
    one = CatalogService(SandboxClock(), tmp_path / "a", "http://127.0.0.1:1", stacks=UTAH_STACKS[:3])
    two = CatalogService(SandboxClock(), tmp_path / "b", "http://127.0.0.1:1", stacks=UTAH_STACKS[:3])
    assert [r.name for r in one.records] == [r.name for r in two.records]
    assert [r.md5 for r in one.records] == [r.md5 for r in two.records]


def test_stand_in_files_match_their_metadata(catalog: CatalogServer) -> None:
    record = next(r for r in catalog.catalog.records if r.stack_key == "p100_f466")
    assert record.file_url is not None
    assert requests.get(record.file_url, timeout=10).status_code == 401  # Earthdata login required
    body = requests.get(record.file_url, headers=AUTH, timeout=10).content
    assert len(body) == record.file_size and hashlib.md5(body).hexdigest() == record.md5
    tail = requests.get(record.file_url, headers={**AUTH, "Range": "bytes=1000-"}, timeout=10)
    assert tail.status_code == 206 and tail.content == body[1000:]
    missing = requests.get(f"{catalog.url}/files/SLC/S1A_nothing.zip", headers=AUTH, timeout=10)
    assert missing.status_code == 404
    log = requests.get(f"{catalog.url}/_sandbox/files/log", timeout=10).json()
    assert {"path": f"/files/SLC/{record.name}.zip", "method": "GET", "range": "bytes=1000-",
            "status": 200} in log


def test_catalog_faults_are_retried_by_the_search_session(catalog: CatalogServer) -> None:
    catalog.set_faults(catalog=Faults(error_rate=0.4))
    results = search(catalog, intersectsWith=AOI_WKT, dataset="SENTINEL-1", processingLevel="SLC",
                     relativeOrbit=100, frame=466, start="2020-01-01", end="2020-12-31")
    assert len(results) == 30


def test_umm_items_are_json_of_the_real_shape(catalog: CatalogServer, fixtures_dir: Path) -> None:
    answer = post(catalog, [("shortName", "SENTINEL-1A_SLC"), ("attribute[]", "int,PATH_NUMBER,100"),
                            ("attribute[]", "int,FRAME_NUMBER,466"), ("page_size", "1")])
    item = answer.json()["items"][0]
    recorded = yaml.load((fixtures_dir / "asf_search" / "Fairbanks_SLC.yml").read_text(), Loader=yaml.CSafeLoader)
    names = {a["Name"] for a in item["umm"]["AdditionalAttributes"]}
    real = {a["Name"] for a in recorded["umm"]["AdditionalAttributes"]}
    assert real <= names
    assert set(recorded["umm"]) <= set(item["umm"]) | {"ProviderDates"}
    assert json.loads(answer.headers["CMR-Search-After"])[1] == item["umm"]["GranuleUR"]
