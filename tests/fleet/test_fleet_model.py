"""The fleet file: entries validated one by one, each problem naming its entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from insarhub.fleet import FleetError, add_entry, load_fleet, remove_entry

GOOD = {"name": "cedar", "geometry": [-113.05, 37.74, -112.68, 38.0], "product": "gamma",
        "priority": 2, "orbit": 100, "alert": {"threshold_mm": 12}}


def write(path: Path, aois: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"workdir": "work", "aois": aois}))
    return path


def test_bad_entries_are_named_and_the_others_load(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path / "fleet.yaml", [
        GOOD,
        {"name": "flipped", "geometry": [1.0, 2.0, 0.5, 3.0]},
        {"name": "bad-wkt", "geometry": "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"},
        {"name": "optical", "geometry": [1, 1, 2, 2], "product": "sentinel-2"},
        {**GOOD, "priority": 7},
        {"name": "kept", "geometry": "POLYGON ((10 10, 10.1 10, 10.1 10.1, 10 10.1, 10 10))"},
    ]))
    assert [e.name for e in fleet.entries] == ["cedar", "kept"]
    problems = {p.name: str(p) for p in fleet.problems}
    assert set(problems) == {"flipped", "bad-wkt", "optical", "cedar"}
    assert "entry #2 (flipped)" in problems["flipped"] and "min_lon < max_lon" in problems["flipped"]
    assert "not a valid polygon" in problems["bad-wkt"]
    assert "product" in problems["optical"] and "sentinel-2" in problems["optical"]
    assert "duplicate name 'cedar'" in problems["cedar"] and "entry #1" in problems["cedar"]
    with pytest.raises(FleetError, match=r"entry #4 \(optical\)"):
        fleet.entry("optical")


def test_an_entry_becomes_a_monitoring_config(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path / "fleet.yaml", [GOOD, {**GOOD, "name": "any",
                                                              "product": "auto", "orbit": None}]))
    config = fleet.monitor_config("cedar")
    assert config.product == "S1_SLC" and config.stack == 100
    assert config.alert.threshold_mm == 12
    assert config.workdir == (tmp_path / "work" / "cedar").resolve()
    assert fleet.monitor_config("any").product == "auto"
    path = fleet.write_monitor_config("any", orbit=20)
    assert yaml.safe_load(path.read_text())["stack"] == 20


def test_add_and_remove_keep_the_file_the_truth(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    add_entry(path, GOOD)
    add_entry(path, {"name": "two", "geometry": "POLYGON ((1 1, 2 1, 2 2, 1 2, 1 1))"})
    with pytest.raises(FleetError, match="already has an AOI named 'cedar'"):
        add_entry(path, GOOD)
    with pytest.raises(FleetError, match="multi_burst"):
        add_entry(path, {"name": "x", "geometry": [0, 0, 1, 1], "product": "burst"})
    assert [e.name for e in load_fleet(path).entries] == ["cedar", "two"]
    remove_entry(path, "cedar")
    assert [e.name for e in load_fleet(path).entries] == ["two"]
    with pytest.raises(FleetError, match="no AOI named 'cedar'"):
        remove_entry(path, "cedar")
