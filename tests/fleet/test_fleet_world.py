"""The sandbox's generated world: N distinct AOIs served beside Utah, a clock that moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from insarhub_sandbox.catalog.world import make_world
from insarhub_sandbox.server import Sandbox, SandboxOptions
from shapely import union_all
from shapely.geometry import box, shape

from insarhub import Downloader


@pytest.fixture(scope="module")
def world_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    world = make_world(6, "2023-01-01", cycles=30)
    options = SandboxOptions(data_dir=tmp_path_factory.mktemp("world"), now="2023-01-01",
                             grid_size=32, extra={"world": world})
    with Sandbox(options) as sandbox:
        yield sandbox


def test_a_world_of_distinct_aois() -> None:
    world = make_world(12, "2023-01-01", cycles=30)
    assert len({a.path for a in world.aois}) == 12  # an orbit each
    assert len({a.center for a in world.aois}) == 12
    assert {a.direction for a in world.aois} == {"ASCENDING", "DESCENDING"}
    assert len({a.dates_before_now for a in world.aois}) >= 5  # stack sizes differ
    assert any(a.large for a in world.aois) and any(a.event for a in world.aois)
    assert {a.product for a in world.aois} == {"gamma", "multi_burst", "auto"}
    for aoi in world.aois:
        west, south, east, north = aoi.bbox
        assert west < aoi.center[0] < east and south < aoi.center[1] < north
        if aoi.event:
            assert aoi.event["start"] > "2023-01-01"
    assert make_world(12, "2023-01-01") == world  # deterministic


def test_a_world_of_a_hundred_aois_and_one_too_many() -> None:
    world = make_world(100, "2023-01-25", cycles=3)
    assert len({a.path for a in world.aois}) == 100  # an orbit each, none of Utah's
    assert not {20, 93, 100} & {a.path for a in world.aois}
    assert [a.name for a in world.aois[:2]] == ["w000-p4", "w001-p11"]  # smaller worlds kept
    with pytest.raises(ValueError, match="at most 172 world AOIs"):
        make_world(173, "2023-01-25")


def test_the_sandbox_serves_each_aoi_and_its_clock_adds_dates(
        world_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in world_sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    world = world_sandbox.options.extra["world"]
    counts = {}
    for aoi in world.aois:
        search = Downloader.create("S1_SLC", intersectsWith=list(aoi.bbox),
                                   start=aoi.stack.first.isoformat())
        search.search(allow_empty=True)
        assert list(search.stacks) == [(aoi.path, aoi.stack.frame)], aoi.name
        counts[aoi.name] = len(next(iter(search.stacks.values())))
        assert counts[aoi.name] == aoi.dates_before_now, aoi.name
    world_sandbox.clock.advance(days=24)
    first = world.aois[0]
    later = Downloader.create("S1_SLC", intersectsWith=list(first.bbox),
                              start=first.stack.first.isoformat())
    later.search(allow_empty=True)
    assert len(next(iter(later.stacks.values()))) == counts[first.name] + 2
    large = next(a for a in world.aois if a.large)
    bursts = Downloader.create("S1_Burst", intersectsWith=list(large.bbox),
                               start="2022-12-01")
    bursts.search(allow_empty=True)
    ids = {p.properties["burst"]["fullBurstID"] for group in bursts.stacks.values()
           for p in group}
    assert len(ids) > 15  # a large AOI: more bursts than one multi-burst job takes
    assert len(bursts.stacks) >= 2  # so its multi-burst stacks are split
    area = box(*large.bbox)
    covered = [union_all([shape(p.geometry) for p in group]).intersection(area).area / area.area
               for group in bursts.stacks.values()]
    # "the stack of the orbit" a monitor takes is the first: the one that sees most of the AOI
    assert covered == sorted(covered, reverse=True) and covered[0] > 0.5, covered


def test_a_split_large_aoi_is_monitored_on_the_stack_that_sees_most_of_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """w084 (large, near the equator) splits into three stacks of orbit 71, two of them groups
    of 15 burst-swaths that do not fill their key's outline (IW1-3 x 6 bursts = 18). A date
    filter (every monitoring search has one) took those for incomplete on every date and left
    only the 2-burst group covering 1 % of the AOI: its runs failed ("the AOI does not
    intersect the interferograms' common extent"). All three now stay, whole; the stack of the
    orbit is the one covering most of the AOI."""
    from insarhub.fleet.needs import pick_stack

    world = make_world(85, "2023-01-25", cycles=3)
    aoi = world.aois[84]
    assert aoi.large and aoi.path == 71
    options = SandboxOptions(data_dir=tmp_path / "sandbox", now="2023-01-25", grid_size=32,
                             extra={"world": world})
    with Sandbox(options) as sandbox:
        for key, value in sandbox.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(tmp_path)
        bursts = Downloader.create("S1_Burst", intersectsWith=list(aoi.bbox), start="2022-12-01")
        bursts.search(allow_empty=True)
        found = {k: len(v) for k, v in bursts.stacks.items()}
        bursts.filter(start="2022-12-01")  # as the monitor's search does
    assert {k: len(v) for k, v in bursts.stacks.items()} == found
    assert not bursts.left_out
    area = box(*aoi.bbox)
    covered = {str(k): union_all([shape(p.geometry) for p in group]).intersection(area).area
               / area.area for k, group in bursts.stacks.items()}
    assert len(covered) == 3 and min(covered.values()) < 0.05  # one is a sliver
    records = [{"name": name, "scenes": []} for name in covered]
    chosen = pick_stack(records, 71, tmp_path / "w084")
    assert chosen is not None
    assert covered[str(chosen["name"])] == max(covered.values()) > 0.5
