"""insarhub.monitoring without Prefect: configs, new acquisitions, the AOI lock (anomalies:
tests/anomaly)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from insarhub.errors import ConfigError
from insarhub.monitoring import (
    MonitorBusyError,
    MonitorConfig,
    acquisition_date,
    aoi_lock,
    find_config,
    list_configs,
    new_acquisitions,
    processed_dates,
)

REPO = Path(__file__).resolve().parents[2]
SLC = "S1A_IW_SLC__1SDV_{d}T133501_{d}T133528_031000_038000_ABCD"


def slc(day: str) -> str:
    return SLC.format(d=day)


def test_every_shipped_aoi_config_loads_and_round_trips() -> None:
    configs = list_configs(REPO / "deployments" / "aois")
    assert "utah-p100-f466" in [c.name for c in configs]
    for config in configs:
        again = MonitorConfig.from_yaml(config.to_yaml())
        assert again == config
        assert config.concurrency_key == f"insarhub-aoi-{config.name}"


def test_config_file_round_trip(tmp_path: Path) -> None:
    config = MonitorConfig(name="my-aoi", aoi="POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))",
                           stack="174_372326_IW3", product="S1_Burst", start=date(2021, 1, 1),
                           workdir=tmp_path / "w", schedule={"interval_hours": 12})
    path = tmp_path / "aois" / "my-aoi.yaml"
    config.to_yaml(path)
    loaded = MonitorConfig.from_yaml(path)
    assert loaded == config
    assert loaded.path_frame is None
    assert loaded.schedule.prefect_schedule()["interval"] == 12 * 3600
    assert find_config("my-aoi", tmp_path / "aois") == path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Bad Name!"}, "name"),
        ({"aoi": [1, 2, 3]}, "aoi"),
        ({"backend": "snap"}, "backend"),
        ({"schedule": {"cron": "every day"}}, "schedule.cron"),
        ({"alert": {"threshold_mm": -1}}, "alert.threshold_mm"),
        ({"wait": {"poll_interval_s": 0}}, "wait.poll_interval_s"),
        ({"unknown_option": 1}, "unknown_option"),
        ({"start": "yesterday"}, "start"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, change: dict, field: str) -> None:
    data = {"name": "ok", "aoi": [-113.05, 37.74, -112.68, 38.0], "stack": [100, 466],
            "start": "2020-01-01", "workdir": str(tmp_path)}
    data.update(change)
    with pytest.raises(ConfigError) as info:
        MonitorConfig.from_dict(data, origin="test.yaml")
    assert field in str(info.value)
    assert "test.yaml" in str(info.value)


def test_unknown_config_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="utah-p100-f466"):
        find_config("nowhere", REPO / "deployments" / "aois")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        MonitorConfig.from_yaml(broken)


def test_new_acquisitions_after_the_last_processed_date() -> None:
    processed = processed_dates([(slc("20200102"), slc("20200114")),
                                 (slc("20200114"), slc("20200126"))])
    assert processed == {date(2020, 1, 2), date(2020, 1, 14), date(2020, 1, 26)}
    found = [slc(d) for d in ("20200102", "20200114", "20200126", "20200219", "20200207")]
    assert new_acquisitions(found, processed) == [slc("20200207"), slc("20200219")]
    assert new_acquisitions(found, set()) == sorted(found)
    assert new_acquisitions(found[:3], processed) == []
    assert acquisition_date("S1_372326_IW3_20180815T151558_VV_6BD3-BURST") == date(2018, 8, 15)
    with pytest.raises(ConfigError, match="no acquisition time"):
        acquisition_date("not-a-granule")


def test_aoi_lock_excludes_a_second_process(tmp_path: Path) -> None:
    holder = textwrap.dedent(f"""
        import sys, time
        from insarhub.monitoring import aoi_lock
        with aoi_lock({str(tmp_path)!r}, owner="holder"):
            print("locked", flush=True)
            sys.stdin.readline()
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(MonitorBusyError, match="holder"), aoi_lock(tmp_path):
            pass
    finally:
        proc.kill()  # SIGKILL: the OS releases the lock with the process
        proc.wait()
    with aoi_lock(tmp_path, owner="me") as path:
        assert "me" in path.read_text()
