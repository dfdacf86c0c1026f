"""A fleet on a real `prefect server`, two process workers on one pool, the served sandbox.

Ordered: the first test's cycle builds each AOI's time series; the second kills a worker in
the middle of the next cycle and shows the run after it resumes from the ledger.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from insarhub.fleet import FleetBudget, load_fleet
from insarhub.fleet.status import cycle_history, fleet_status
from tasks.limits import default_limits

MONTH = "2023-01"


@pytest.mark.slow
def test_two_workers_run_the_fleets_aois_never_one_aoi_twice_at_once(
        fleet_stack: Any) -> None:
    stack = fleet_stack
    first = stack.cycle(MONTH)
    second = stack.cycle(MONTH)  # at once again: each AOI now has two runs in the pool
    runs = stack.aoi_runs(first)
    names = {r["parameters"]["name"] for r in runs}
    assert names == {"w000-p4", "w001-p11"}  # bad entries got no run
    done = [stack.wait(r["id"]) for r in runs]
    assert all(r["state"]["type"] == "COMPLETED" for r in done), [r["state"] for r in done]
    takers = {r["id"]: stack.takers(r["id"]) for r in done}
    assert all(len(t) == 1 for t in takers.values()), takers
    assert {t[0] for t in takers.values()} == {"worker-a", "worker-b"}  # both workers worked
    # one slot per worker: the AOIs ran at the same time, so on different workers at once
    first_two = sorted((r for r in done if r["parameters"]["name"] in names),
                       key=lambda r: r["start_time"])[:2]
    assert {r["parameters"]["name"] for r in first_two} == names
    assert max(r["start_time"] for r in first_two) < min(r["end_time"] for r in first_two)
    fleet = load_fleet(stack.fleet_file)
    for aoi in names:  # the AOI's runs that did work (not skipped) never overlap
        history = cycle_history(fleet.workdir / aoi)
        assert {h["flow_run"] for h in history} == {r["id"] for r in done
                                                    if r["parameters"]["name"] == aoi}
        spans = sorted((datetime.fromisoformat(h["started"]), datetime.fromisoformat(h["finished"]))
                       for h in history if h["status"] != "skipped")
        assert spans and all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), aoi
    jobs = stack.hyp3_jobs()
    assert len(jobs) == len({j["name"] for j in jobs}) > 0  # nothing submitted twice
    problems = {p.name: str(p) for p in fleet.problems}
    assert "bad-product" in problems and "sentinel-2" in problems["bad-product"]
    assert "duplicate name 'w000-p4'" in problems["w000-p4"]
    rows = {r["aoi"]: r for r in fleet_status(fleet, MONTH)}
    assert "no Sentinel-1 acquisition" in rows["no-coverage"]["problem"]
    for name in names:
        assert rows[name]["newest_date"] is not None and rows[name]["dates_pending"] == 0, rows[name]
        assert rows[name]["credits_month"] > 0
    with FleetBudget.for_workdir(fleet.workdir, 8000) as budget:
        assert budget.spent(MONTH) == sum(float(j["credit_cost"]) for j in jobs)
    artifacts = stack.api("POST", "/artifacts/filter", artifacts={"key": {"any_": ["fleet-status"]}})
    assert artifacts and artifacts[0]["type"] == "table"
    assert second  # the second cycle's runs were judged above with the first's
    created = {g["name"]: g["limit"] for g in stack.api("POST", "/v2/concurrency_limits/filter")}
    assert all(created.get(name) == value for name, value in default_limits().items()), created


@pytest.mark.slow
def test_a_worker_killed_mid_cycle_loses_nothing(fleet_stack: Any) -> None:
    stack = fleet_stack
    target = "w001-p11"
    before = stack.submitted(target)
    stack.sandbox.admin.advance(12)  # one new acquisition for every AOI
    stack.hyp3().configure(job_seconds=30, user_id=stack.user_id)  # the run waits on HyP3
    planner = stack.cycle(MONTH)
    run = next(r for r in stack.aoi_runs(planner) if r["parameters"]["name"] == target)
    deadline = time.monotonic() + 240
    while stack.submitted(target) == before or not stack.takers(run["id"]):
        assert time.monotonic() < deadline, "the target's new pairs were never submitted"
        time.sleep(0.5)
    submitted = stack.submitted(target)
    killed = stack.kill_worker(stack.takers(run["id"])[0])  # SIGKILL: worker and flow run
    assert len(killed) >= 2
    stack.hyp3().configure(job_seconds=1, user_id=stack.user_id)
    stack.start_worker("worker-c")
    for other in stack.aoi_runs(planner):
        if other["id"] != run["id"]:
            assert stack.wait(other["id"])["state"]["type"] == "COMPLETED"
    resumed = stack.cycle(MONTH)
    again = next(r for r in stack.aoi_runs(resumed) if r["parameters"]["name"] == target)
    assert stack.wait(again["id"])["state"]["type"] == "COMPLETED"
    history = cycle_history(load_fleet(stack.fleet_file).workdir / target)
    assert run["id"] not in {h["flow_run"] for h in history}  # the killed run never finished
    jobs = stack.hyp3_jobs()
    assert len(jobs) == len({j["name"] for j in jobs})  # no credit spent twice
    assert stack.submitted(target) == submitted  # the resumed run sent nothing again
    fleet = load_fleet(stack.fleet_file)
    row = next(r for r in fleet_status(fleet, MONTH) if r["aoi"] == target)
    assert row["status"] == "updated" and row["dates_pending"] == 0, row
    with FleetBudget.for_workdir(fleet.workdir, 8000) as budget:
        assert budget.spent(MONTH) == sum(float(j["credit_cost"]) for j in jobs)
        assert budget.committed(MONTH) <= 8000
