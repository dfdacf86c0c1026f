"""insar_pipeline from OPERA DISP-S1: `auto` takes it where a frame covers the AOI (0
credits, said so), `disp` outside every frame names the nearest one."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowkit import AOI, SandboxUser, artifacts_of_run

from flows.pipeline import insar_pipeline
from insarhub.disp.errors import DispCoverageError

pytestmark = pytest.mark.usefixtures("harness")


@pytest.fixture
def disp_user(sandbox_user: SandboxUser, flow_sandbox_server, monkeypatch) -> SandboxUser:
    monkeypatch.setenv("OPERA_UTILS_DATA_DIR", str(flow_sandbox_server.data_dir / "opera_utils"))
    return sandbox_user


def test_auto_takes_disp_s1_over_the_seed_aoi_and_spends_nothing(disp_user: SandboxUser,
                                                                 tmp_path: Path) -> None:
    before = disp_user.credits()
    state = insar_pipeline(aoi=AOI, start="2020-01-01", product="auto",  # the clock: 2020-02-12
                           workdir=str(tmp_path / "work"), points=[(37.87, -112.86)],
                           return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["product"] == "S1_DISP"
    stack = result["stacks"]["F31466"] if "F31466" in result["stacks"] else next(
        iter(result["stacks"].values()))
    assert stack["pairs"] == 0 and stack["interferograms"]["credits"]["credits"] == 0
    assert len(stack["timeseries"]["dates"]) >= 4 and stack["products"]  # 2020-01-02 .. 02-07
    assert disp_user.credits() == before
    made = artifacts_of_run(state.state_details.flow_run_id)
    assert "S1_DISP" in str(made["product-choice"].data)


def test_disp_outside_every_frame_names_the_nearest(disp_user: SandboxUser,
                                                   tmp_path: Path) -> None:
    state = insar_pipeline(aoi=[-147.9, 64.7, -147.6, 64.9], start="2020-01-01",
                           product="disp", workdir=str(tmp_path / "w"),
                           return_state=True)
    assert state.is_failed()
    with pytest.raises(DispCoverageError, match="nearest frame is F3.*product='auto'"):
        state.result()


def test_monitoring_appends_new_disp_s1_dates_as_they_appear(disp_user: SandboxUser,
                                                             flow_sandbox, tmp_path: Path) -> None:
    from flows.monitor import monitor_aoi
    from insarhub.monitoring import MonitorConfig

    config = MonitorConfig.from_dict({
        "name": "utah-disp", "aoi": AOI, "product": "S1_DISP", "stack": "F31466",
        "start": "2020-01-01", "workdir": str(tmp_path / "work"),
        "schedule": {"active": False}})
    path = tmp_path / "utah-disp.yaml"
    config.to_yaml(path)
    before = disp_user.credits()
    first = monitor_aoi(str(path))
    assert first["status"] == "updated" and first["stack"] == "F31466"
    assert first["timeseries"]["dates"][-1] == "20200207"  # the clock: 2020-02-12
    flow_sandbox.admin.advance(12)  # DISP-S1 of 2020-02-19 is published
    second = monitor_aoi(str(path))
    assert second["status"] == "updated" and second["new_dates"] == ["2020-02-19"]
    assert second["timeseries"]["dates"][-1] == "20200219"
    assert second["timeseries"]["dates"][:-1] == first["timeseries"]["dates"]
    assert monitor_aoi(str(path))["status"] == "up to date"
    assert disp_user.credits() == before
