"""`Downloader.filter`: chainable, never destructive, clear about bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from insarhub import Downloader
from insarhub.errors import ConfigError, StackError
from insarhub.search.downloader import Downloader as BaseDownloader
from insarhub.search.filters import aoi_coverage

SEED_AOI = [-113.05, 37.74, -112.68, 38.00]


@pytest.fixture(scope="module")
def searched(catalog_server) -> Iterator[BaseDownloader]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INSARHUB_ASF_URL", catalog_server.url)
        s1 = Downloader.create("S1_SLC", intersectsWith=SEED_AOI, start="2019-01-01",
                               end="2021-12-31")
        s1.search()
    yield s1


@pytest.fixture
def s1(searched: BaseDownloader) -> Iterator[BaseDownloader]:
    yield searched
    searched.reset()


def days(products) -> list[date]:
    return [date.fromisoformat(p.properties["startTime"][:10]) for p in products]


def test_filters_narrow_in_turn_return_the_stacks_and_reset_restores(s1: BaseDownloader) -> None:
    total = sum(len(v) for v in s1.results.values())
    s1.filter(flight_direction="descending")
    s1.filter(path_frame=(100, 466))
    narrowed = s1.filter(season=[6, 7, 8])
    assert narrowed == s1.stacks and type(narrowed) is type(s1.results)
    kept = s1.stacks[(100, 466)]
    assert list(s1.stacks) == [(100, 466)]
    assert {d.month for d in days(kept)} == {6, 7, 8}
    grid = [date(2017, 2, 22) + timedelta(days=12 * k) for k in range(200)]
    summers = [d for d in grid if 2019 <= d.year <= 2021 and d.month in (6, 7, 8)]
    assert days(kept) == [d for d in summers if d != date(2020, 6, 6)]  # 12-day repeat, one gap
    assert sum(len(v) for v in s1.results.values()) == total  # the search itself is untouched
    restored = s1.reset()
    assert sum(len(v) for v in restored.values()) == total and restored == s1.stacks


def test_dates_latest_and_min_scenes(s1: BaseDownloader) -> None:
    s1.filter(start="2021-01-01", end="2021-03-31")
    assert all(date(2021, 1, 1) <= d <= date(2021, 3, 31) for v in s1.stacks.values() for d in days(v))
    s1.reset()
    s1.filter(latest_n=3)
    assert all(len(v) <= 3 for v in s1.stacks.values())
    last = s1.stacks[(100, 466)]
    assert days(last)[-1] == max(days(s1.results[(100, 466)]))
    s1.reset()
    s1.filter(min_scenes=50)
    assert all(len(v) >= 50 for v in s1.stacks.values()) and (100, 466) in s1.stacks


def test_coverage_platform_polarization_and_exclude(s1: BaseDownloader) -> None:
    s1.filter(min_aoi_coverage=100)
    assert s1.stacks and all(aoi_coverage(p, s1.aoi) == pytest.approx(100)
                             for v in s1.stacks.values() for p in v)
    assert len(s1.stacks) < len(s1.results)  # edge frames cover the AOI only in part
    s1.reset()
    s1.filter(platform="S1B")
    assert {p.properties["platform"] for v in s1.stacks.values() for p in v} == {"Sentinel-1B"}
    s1.reset()
    s1.filter(polarization="VV+VH")
    assert sum(map(len, s1.stacks.values())) == sum(map(len, s1.results.values()))
    first, second = s1.results[(100, 466)][:2]
    second_day = second.properties["startTime"][:10]
    s1.reset()
    s1.filter(path_frame=(100, 466), exclude=[first.properties["sceneName"], second_day])
    kept = {p.properties["sceneName"] for p in s1.stacks[(100, 466)]}
    assert first.properties["sceneName"] not in kept
    assert date.fromisoformat(second_day) not in days(s1.stacks[(100, 466)])
    assert len(kept) == len(s1.results[(100, 466)]) - 2


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"path_frame": (100, 467)}, StackError, r"\(100, 467\) is not among the stacks found: .*\(100, 466\)"),
    ({"path_frame": "p1_x"}, StackError, "neither"),
    ({"start": "2020-13-45"}, ConfigError, "start='2020-13-45' is not a date"),
    ({"start": "2021-01-01", "end": "2020-01-01"}, ConfigError, "after end"),
    ({"season": [0, 13]}, ConfigError, "months as integers 1..12"),
    ({"flight_direction": "north"}, ConfigError, "ASCENDING"),
    ({"min_aoi_coverage": 150}, ConfigError, "between 0 and 100"),
    ({"latest_n": 0}, ConfigError, "positive integer"),
])
def test_bad_filters_name_the_value(s1: BaseDownloader, options: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        s1.filter(**options)
    assert s1.stacks == s1.results  # a refused filter changes nothing
