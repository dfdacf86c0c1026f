"""The anomaly detector on seeded synthetic stacks: events found where they are, atmosphere
alone quiet, regions described, news announced once."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from insarhub.anomaly import AnnouncementMemory, announce, detect_anomaly, residual_figure
from insarhub.anomaly.synthetic import Stack, make_stack
from insarhub.errors import ConfigError


def stack(seed: int, atmosphere_mm: float, event_mm: float | None = None,
          size: int = 120) -> Stack:
    return make_stack(np.random.default_rng(seed), atmosphere_mm=atmosphere_mm, size=size,
                      n_dates=30, event_mm=event_mm, event_first=28)


def day(s: Stack, index: int) -> str:
    return s.dates[index].strftime("%Y%m%d")


def distance_m(s: Stack, row: float, col: float) -> float:
    assert s.event is not None
    return math.hypot(row - s.event.row, col - s.event.col) * s.pixel_m


def test_a_local_event_is_found_where_it_is_then_confirmed() -> None:
    s = stack(3, atmosphere_mm=4.0, event_mm=-30.0)
    first = detect_anomaly(s.dates[:29], s.displacement_m[:29], height=s.height)
    assert first.anomalous and len(first.regions) == 1
    region = first.regions[0]
    assert distance_m(s, region.row, region.col) < 300
    assert region.status == "new" and region.first_date == first.date == day(s, 28)
    assert -40 < region.magnitude_mm < -20  # the 30 mm bowl, estimated
    assert 0.2 < region.extent_km2 < 3.0  # half-peak area of a 400 m bowl: ~0.7 km2
    assert region.significance >= (first.z_threshold or 0) and region.p_value <= 0.02
    assert first.row == region.row and first.pixels_over >= region.pixels

    second = detect_anomaly(s.dates, s.displacement_m, height=s.height)
    assert [r.status for r in second.regions] == ["confirmed"]
    assert second.regions[0].first_date == day(s, 28) and second.date == day(s, 29)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_strong_atmosphere_alone_is_quiet(seed: int) -> None:
    s = stack(seed, atmosphere_mm=12.0)
    report = detect_anomaly(s.dates, s.displacement_m, height=s.height)
    assert not report.anomalous and report.regions == []
    assert report.residual_mm > 5  # the atmosphere is there: the old statistic alarmed on it
    assert "no region" in report.reason


def test_a_steady_local_subsidence_is_a_trend_not_an_anomaly() -> None:
    """A 400 m bowl sinking 60 mm/yr since the first date is its pixels' own trend: only the
    new event elsewhere is reported, not the old subsidence."""
    s = stack(5, atmosphere_mm=4.0, event_mm=-30.0)
    assert s.event is not None
    rows, cols = np.mgrid[0:120, 0:120]
    row, col = (30.0, 30.0) if s.event.row > 60 else (90.0, 90.0)
    bowl = np.exp(-((rows - row) ** 2 + (cols - col) ** 2) * s.pixel_m ** 2 / (2 * 400.0 ** 2))
    years = np.array([(d - s.dates[0]).days / 365.25 for d in s.dates], dtype=np.float32)
    series = s.displacement_m - 0.060 * years[:, None, None] * bowl[None].astype(np.float32)
    report = detect_anomaly(s.dates[:29], series[:29], height=s.height)
    assert report.anomalous
    assert all(distance_m(s, r.row, r.col) < 300 for r in report.regions), report.regions


def test_the_user_threshold_in_mm_is_a_further_requirement() -> None:
    s = stack(3, atmosphere_mm=4.0, event_mm=-30.0)
    report = detect_anomaly(s.dates, s.displacement_m, 60.0, height=s.height)
    assert not report.anomalous  # significant, but smaller than the user's 60 mm


def test_masked_pixels_are_never_part_of_a_region() -> None:
    s = stack(3, atmosphere_mm=4.0, event_mm=-30.0)
    assert s.event is not None
    mask = np.ones(s.displacement_m.shape[1:], dtype=bool)
    mask[:, int(s.event.col) - 3:int(s.event.col) + 4] = False  # a river through the event
    report = detect_anomaly(s.dates, s.displacement_m, mask=mask, height=s.height)
    assert report.valid_pixels == mask.sum()
    assert report.region_labels is not None and not report.region_labels[~mask].any()


def test_a_map_too_small_for_the_bowls_says_so() -> None:
    small = stack(5, atmosphere_mm=6.0, size=28)  # 2.2 km: narrower than 5 x the 1 km bowl
    report = detect_anomaly(small.dates, small.displacement_m, height=small.height)
    assert "the map is 2.2 km across" in report.reason and "larger AOI" in report.reason
    narrow = detect_anomaly(small.dates, small.displacement_m, height=small.height,
                            scales_m=[250.0, 354.0])  # bowls up to 354 m fit in 2.2 km
    assert "km across" not in narrow.reason
    large = stack(5, atmosphere_mm=6.0, size=64)
    assert "km across" not in detect_anomaly(large.dates, large.displacement_m,
                                             height=large.height).reason


def test_too_few_dates_and_bad_shapes_are_explained() -> None:
    dates = [date(2020, 1, 2) + timedelta(days=12 * i) for i in range(6)]
    cube = np.zeros((6, 30, 30), dtype=np.float32)
    short = detect_anomaly(dates, cube)
    assert not short.anomalous and "8 needed" in short.reason
    with pytest.raises(ConfigError, match="must match"):
        detect_anomaly(dates[:-1], cube)
    with pytest.raises(ConfigError, match=r"\(dates, rows, cols\)"):
        detect_anomaly(dates, cube[:, 0])


def test_a_region_is_announced_when_new_and_when_confirmed_only(tmp_path: Path) -> None:
    s = stack(3, atmosphere_mm=4.0, event_mm=-30.0)
    first = detect_anomaly(s.dates[:29], s.displacement_m[:29], height=s.height)
    second = detect_anomaly(s.dates, s.displacement_m, height=s.height)
    news = announce(first, tmp_path)
    assert [(n["status"], n["date"]) for n in news] == [("new", day(s, 28))]
    assert announce(first, tmp_path) == []  # the same cycle again: nothing new
    confirmed = announce(second, tmp_path)
    assert [(n["status"], n["first_date"]) for n in confirmed] == [("confirmed", day(s, 28))]
    assert confirmed[0]["region_id"] == news[0]["region_id"]
    assert announce(second, tmp_path) == []
    memory = AnnouncementMemory(tmp_path)  # read back from the stack folder
    assert [r["status"] for r in memory.regions] == ["confirmed"]
    assert [a["status"] for a in memory.regions[0]["announced"]] == ["new", "confirmed"]
    # the slope moves again months later, after cycles without it: a new episode, announced
    region = dataclasses.replace(first.regions[0], first_date="20300113")
    again = dataclasses.replace(first, date="20300113", previous_date="20300101",
                                regions=[region])
    assert [(n["status"], n["date"], n["region_id"]) for n in announce(again, tmp_path)] == [
        ("new", "20300113", news[0]["region_id"])]
    steady = dataclasses.replace(again, date="20300125", previous_date="20300113")
    assert announce(steady, tmp_path) == []  # seen on the cycle before: the same episode


def test_residual_figure_outlines_the_region(tmp_path: Path) -> None:
    s = stack(3, atmosphere_mm=4.0, event_mm=-30.0)
    report = detect_anomaly(s.dates, s.displacement_m, height=s.height)
    png = residual_figure(report, tmp_path / "residual.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert "residual_map" not in report.to_dict() and report.to_dict()["regions"][0]["status"]
