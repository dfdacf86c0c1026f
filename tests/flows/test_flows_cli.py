"""`insarhub run` and `insarhub monitor add|list|run`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from flowkit import SandboxUser

from flows.cli import main  # the `insarhub` command
from flows.deployments import PREFECT_YAML
from insarhub.monitoring import MonitorConfig, aoi_lock

AOI_ARG = "--aoi=-113.05,37.74,-112.68,38.0"


def test_monitor_add_writes_the_config_and_its_deployment(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefect_file = tmp_path / "prefect.yaml"
    shutil.copy(PREFECT_YAML, prefect_file)
    args = ["monitor", "add", "cedar-city", AOI_ARG, "--stack", "100", "466", "--start",
            "2020-01-01", "--interval-hours", "12", "--threshold-mm", "30",
            "--config-dir", str(tmp_path / "aois"), "--prefect-file", str(prefect_file)]
    assert main(args) == 0
    config = MonitorConfig.from_yaml(tmp_path / "aois" / "cedar-city.yaml")
    assert config.stack == (100, 466) and config.alert.threshold_mm == 30.0
    assert config.schedule.interval_hours == 12 and config.schedule.cron is None
    entries = {d["name"]: d for d in yaml.safe_load(prefect_file.read_text())["deployments"]}
    entry = entries["monitor-cedar-city"]
    assert entry["entrypoint"] == "flows/monitor.py:monitor_aoi"
    assert entry["parameters"] == {"config": str(tmp_path / "aois" / "cedar-city.yaml")}
    assert entry["schedules"][0]["interval"] == 12 * 3600
    assert entry["concurrency_limit"]["limit"] == 1
    assert {"insar-pipeline", "monitor-utah-p100-f466"} <= set(entries)  # the rest kept
    assert prefect_file.read_text().startswith(PREFECT_YAML.read_text())

    capsys.readouterr()
    assert main(args) == 1  # no silent overwrite
    assert "exists" in capsys.readouterr().err
    assert main(["monitor", "list", "--config-dir", str(tmp_path / "aois")]) == 0
    listing = capsys.readouterr().out
    assert "cedar-city" in listing and "every 12.0 h" in listing
    bad = ["monitor", "add", "Bad Name", AOI_ARG, "--stack", "100", "466", "--start",
           "2020-01-01", "--config-dir", str(tmp_path / "aois")]
    assert main(bad) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "name" in error and len(error.splitlines()) == 1


@pytest.mark.usefixtures("harness")
def test_run_prints_one_clear_line_on_bad_input(
        sandbox_user: SandboxUser, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", AOI_ARG, "--start", "2020-01-03", "--end", "2020-01-12",
                 "--path-frame", "100", "466", "--workdir", str(tmp_path)]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("error: no Sentinel-1 S1_SLC scenes")
    assert main(["run", AOI_ARG, "--start", "2020-01-01", "--network", "{max_degree: 5"]) == 1
    assert "--network" in capsys.readouterr().err
    assert sandbox_user.jobs() == []


@pytest.mark.usefixtures("harness")
def test_monitor_run_of_a_busy_aoi(sandbox_user: SandboxUser, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = MonitorConfig(name="busy", aoi=[-113.05, 37.74, -112.68, 38.0], stack=(100, 466),
                           start="2020-01-01", workdir=tmp_path / "busy")
    config.to_yaml(tmp_path / "busy.yaml")
    with aoi_lock(config.workdir, owner="the scheduled run"):
        assert main(["monitor", "run", "busy", "--config-dir", str(tmp_path)]) == 3
    assert "busy: skipped" in capsys.readouterr().out


@pytest.mark.usefixtures("harness")
def test_run_on_a_dask_cluster(sandbox_user: SandboxUser, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("prefect_dask")
    rc = main(["run", AOI_ARG, "--start", "2020-01-01", "--end", "2020-02-01", "--path-frame",
               "100", "466", "--workdir", str(tmp_path), "--poll-interval", "0.5",
               "--max-degree", "3", "--dask", "2"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "p100_f466" in out and str(tmp_path / "p100_f466" / "products") in out
    assert (tmp_path / "p100_f466" / "products" / "velocity.tif").is_file()
