"""AOI monitoring cycles against the sandbox: new dates only, one run per AOI, anomaly events."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from flowkit import AOI, SandboxUser
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
    prefix = "monitoring/utah-two-cycles/p100_f466/"
    listed = s3.client().list_objects_v2(Bucket="insar-products", Prefix=prefix)
    assert {prefix + n for n in ("velocity.tif", "displacement.tif", "item.json")} <= {
        o["Key"] for o in listed["Contents"]}
    jobs_1 = sandbox_user.jobs()
    credits_1 = sandbox_user.credits()
    assert len(jobs_1) == len(pairs_1)

    flow_sandbox.admin.advance(12)  # the next acquisition (2020-02-19) appears
    second = monitor_aoi(str(path))
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
    assert Path(second["products"]["displacement.tif"]).is_file()
    assert prefix + "displacement.tif" in second["published"]["uploaded"]  # one band more

    # 5 dates: too few to know each pixel's noise, so no alert and no event
    assert second["anomaly"]["anomalous"] is False and "needed" in second["anomaly"]["reason"]
    assert anomaly_events("utah-two-cycles", timeout=3.0) == []

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
    from insarhub.sandbox.earth_events import DeformationEvent, distance_m

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
