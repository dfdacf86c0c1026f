"""AOI monitoring cycles against the sandbox: new dates only, one run per AOI, anomaly events."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from flowkit import AOI, SandboxUser, artifacts_of_run
from prefect.settings import PREFECT_API_URL

from flows.monitor import ANOMALY_EVENT, aoi_slot, monitor_aoi
from insarhub.ledger import Ledger
from insarhub.monitoring import MonitorConfig, acquisition_date, aoi_lock

pytestmark = pytest.mark.usefixtures("harness")


def write_config(tmp_path: Path, name: str, **changes: Any) -> Path:
    config = MonitorConfig.from_dict({
        "name": name, "aoi": AOI, "stack": [100, 466], "start": "2020-01-01",
        "workdir": str(tmp_path / name), "network": {"max_degree": 5}, "new_date_pairs": 2,
        "wait": {"poll_interval_s": 0.5, "timeout_s": 180},
        "schedule": {"active": False}, **changes})
    path = tmp_path / f"{name}.yaml"
    config.to_yaml(path)
    return path


def ledger_pairs(folder: Path) -> list[tuple[str, str]]:
    ledger = Ledger.for_workdir(folder)
    try:
        return ledger.pairs()
    finally:
        ledger.close()


def anomaly_events(aoi_name: str, dates: set[str] | None = None,
                   timeout: float = 20.0) -> list[dict[str, Any]]:
    """The anomaly events of an AOI on the Prefect server (waiting until those of `dates`
    have been delivered, or `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.post(f"{PREFECT_API_URL.value()}/events/filter", timeout=10, json={
            "filter": {"event": {"name": [ANOMALY_EVENT]},
                       "resource": {"id": [f"insarhub.aoi.{aoi_name}"]}}})
        response.raise_for_status()
        events = response.json()["events"]
        seen = {e["payload"]["date"] for e in events}
        if (dates is not None and dates <= seen) or time.monotonic() > deadline:
            return list(events)
        time.sleep(0.5)


def test_two_cycles_add_one_date_and_submit_only_its_pairs(
        flow_sandbox: Any, sandbox_user: SandboxUser, s3: Any, tmp_path: Path) -> None:
    s3.client().create_bucket(Bucket="insar-products")
    path = write_config(tmp_path, "utah-two-cycles",
                        publish={"bucket": "insar-products", "prefix": "monitoring",
                                 "endpoint_url": s3.endpoint_url})

    first = monitor_aoi(str(path))
    assert first["status"] == "updated"
    folder = Path(first["folder"])
    pairs_1 = ledger_pairs(folder)
    assert first["pairs_submitted"] == len(pairs_1) >= 3
    assert len(first["new_dates"]) == 4  # everything is new the first time
    assert first["timeseries"]["dates"] == ["20200102", "20200114", "20200126", "20200207"]
    assert first["timeseries"]["run"]["mode"] == "full"
    prefix = "monitoring/utah-two-cycles/p100_f466/"
    listed = s3.client().list_objects_v2(Bucket="insar-products", Prefix=prefix)
    assert {prefix + n for n in ("velocity.tif", "displacement.tif", "item.json")} <= {
        o["Key"] for o in listed["Contents"]}
    jobs_1 = sandbox_user.jobs()
    credits_1 = sandbox_user.credits()
    assert len(jobs_1) == len(pairs_1)

    flow_sandbox.admin.advance(12)  # the next acquisition (2020-02-19) appears
    state = monitor_aoi(str(path), return_state=True)
    second = state.result()
    assert second["status"] == "updated"
    assert [acquisition_date(n).isoformat() for n in second["new_dates"]] == ["2020-02-19"]
    pairs_2 = ledger_pairs(folder)
    added = [p for p in pairs_2 if p not in pairs_1]
    assert second["pairs_submitted"] == len(added) == 2  # new_date_pairs: its 2 predecessors
    assert all(acquisition_date(p[1]).isoformat() == "2020-02-19" for p in added)
    jobs_2 = sandbox_user.jobs()
    assert len(jobs_2) == len(jobs_1) + len(added)  # only the new pairs reached HyP3
    assert sandbox_user.credits() == credits_1 - 10 * len(added)
    assert second["timeseries"]["dates"][-1] == "20200219"
    assert len(second["timeseries"]["dates"]) == 5
    assert second["timeseries"]["run"]["mode"] == "append"  # only the new date was estimated
    assert Path(second["products"]["displacement.tif"]).is_file()
    assert prefix + "displacement.tif" in second["published"]["uploaded"]  # one band more

    # 5 dates: too few to know each pixel's noise, so no alert and no event
    assert second["anomaly"]["anomalous"] is False and "needed" in second["anomaly"]["reason"]
    assert anomaly_events("utah-two-cycles", timeout=3.0) == []

    # the summary on the run: the verdict first, new dates as a count, the check's result
    on_run = artifacts_of_run(state.state_details.flow_run_id)
    summary = on_run["utah-two-cycles-monitoring"].data
    first_line = summary.splitlines()[0]
    assert first_line.startswith("# utah-two-cycles: No verdict yet")
    assert "1 new date (2020-02-19)" in summary
    assert f"| residual_mm | {second['anomaly']['residual_mm']} |" in summary
    assert "S1A_IW_SLC" not in summary  # no wall of granule names
    # the published products: presigned links a browser opens without credentials
    page = on_run["utah-two-cycles-p100-f466-published"].data
    links = re.findall(r"\]\((http[^)]+)\)", page)
    assert any("velocity.png" in u and "X-Amz-Signature=" in u for u in links)
    for url in links:
        assert requests.get(url, timeout=30).status_code == 200, url

    third = monitor_aoi(str(path))  # nothing new: nothing submitted, nothing recomputed
    assert third["status"] == "up to date"
    assert third["pairs_submitted"] == 0 and third["new_dates"] == []
    assert len(sandbox_user.jobs()) == len(jobs_2)


def test_a_second_run_of_the_same_aoi_stops(sandbox_user: SandboxUser, tmp_path: Path) -> None:
    path = write_config(tmp_path, "utah-busy")
    config = MonitorConfig.from_yaml(path)
    with aoi_lock(config.workdir, owner="another worker"):  # a worker sharing the folder
        result = monitor_aoi(str(path))
    assert result["status"] == "skipped"
    assert "another worker" in result["reason"]
    with aoi_slot(config, wait_s=1):  # a run holding the AOI's Prefect concurrency limit
        result = monitor_aoi(str(path))
    assert result["status"] == "skipped"
    assert config.concurrency_key in result["reason"]
    assert sandbox_user.jobs() == []


EVENT = {"lon": -112.858, "lat": 37.874, "magnitude_mm": -80.0, "sigma_m": 500.0}


def test_an_injected_event_raises_one_alert_near_it_and_none_without(
        flow_sandbox: Any, sandbox_user: SandboxUser, tmp_path: Path) -> None:
    from insarhub_sandbox.earth.events import DeformationEvent, distance_m

    flow_sandbox.admin.set_now("2020-05-20T00:00:00+00:00")  # 12 dates: 2020-01-0x .. 05-1x
    quiet = monitor_aoi(str(write_config(tmp_path, "utah-quiet")))
    assert len(quiet["timeseries"]["dates"]) == 12
    assert quiet["anomaly"]["regions"] == [] and "no region" in quiet["anomaly"]["reason"]

    flow_sandbox.admin.add_event(start="2020-04-25", **EVENT)  # the two newest dates show it
    try:
        loud = monitor_aoi(str(write_config(tmp_path, "utah-event")))
    finally:
        flow_sandbox.admin.clear_events()
    truth = DeformationEvent.from_dict({**EVENT, "start": "2020-04-25"})
    dates = loud["timeseries"]["dates"]
    regions = loud["anomaly"]["regions"]
    assert regions, loud["anomaly"]["reason"]
    nearest = min(regions, key=lambda r: distance_m(truth, r["lat"], r["lon"]))
    assert distance_m(truth, nearest["lat"], nearest["lon"]) < 600
    assert nearest["magnitude_mm"] < 0 and nearest["first_date"] == dates[-2]
    assert Path(loud["anomaly"]["figure"]).is_file()
    events = anomaly_events("utah-event", {dates[-1]})
    payload = next(e["payload"] for e in events
                   if e["payload"]["region_id"] == nearest.get("region_id", 1))
    assert {"lat", "lon", "row", "col", "extent_km2", "magnitude_mm", "first_date",
            "significance", "status"} <= set(payload)
    assert payload["status"] == "confirmed"
    assert anomaly_events("utah-quiet", timeout=3.0) == []


def test_a_custom_run_takes_overrides_and_its_own_aoi_tag(
        sandbox_user: SandboxUser, tmp_path: Path) -> None:
    """A run of one AOI's deployment with another config and overrides: the run carries that
    config's AOI tag, and the overrides (dates, network, threshold) are what it used."""
    from prefect import tags
    from prefect.client.orchestration import get_client

    path = write_config(tmp_path, "utah-window")
    with tags("insarhub", "aoi:utah-p100-f466"):  # as the seed AOI's deployment tags it
        state = monitor_aoi(str(path), start="2020-01-10", end="2020-02-01", threshold_mm=7.5,
                            network={"max_degree": 1, "min_degree": 1}, return_state=True)
    result = state.result()
    assert result["scenes"] == 2  # 2020-01-14 and 2020-01-26 only
    assert result["pairs_submitted"] == 1 and len(sandbox_user.jobs()) == 1
    assert result["status"] == "too few dates"
    assert result["overrides"]["threshold_mm"] == "7.5"
    assert result["overrides"]["network"]["max_degree"] == 1
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert "aoi:utah-window" in run.tags and "aoi:utah-p100-f466" not in run.tags
    assert "insarhub" in run.tags
    summary = artifacts_of_run(run.id)["utah-window-monitoring"].data
    assert summary.splitlines()[0].startswith("# utah-window: Too few dates")
    assert "threshold_mm=7.5" in summary
