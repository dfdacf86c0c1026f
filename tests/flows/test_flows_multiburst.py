"""The pipeline on multi-burst stacks, credits before submission, max_credits and
product="auto", against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flowkit import AOI, SandboxUser, artifact_keys

from flows.pipeline import insar_pipeline
from insarhub.ledger import Ledger
from tasks.common import artifact_key

pytestmark = pytest.mark.usefixtures("harness")

STACK = "p100_IW2-3_213494-213496"  # the seed AOI's 6 bursts on the descending orbit 100


def latest_artifact(key: str) -> Any:
    """The data of the newest artifact with `key` (tables as lists of rows)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    data = max(found, key=lambda a: a.created).data
    return json.loads(data) if isinstance(data, str) and data[:1] in "[{" else data


def test_a_burst_stack_through_the_pipeline_then_a_monitoring_cycle(
        flow_sandbox: Any, sandbox_user: SandboxUser, tmp_path: Path) -> None:
    from flows.monitor import monitor_aoi
    from insarhub.monitoring import MonitorConfig, acquisition_date, chosen_product

    before = sandbox_user.credits()
    state = insar_pipeline(aoi=AOI, start="2020-01-01", path_frame=STACK, product="S1_Burst",
                           workdir=str(tmp_path / "work"), network={"max_degree": 5},
                           poll_interval_s=0.5, wait_timeout_s=180, max_credits=100,
                           return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    stack = result["stacks"][STACK]
    folder = Path(stack["folder"])
    ledger = Ledger.for_workdir(folder)
    pairs = ledger.pairs()
    ledger.close()
    jobs = sandbox_user.jobs()
    assert len(jobs) == len(pairs) == stack["pairs"] >= 3
    assert {j["job_type"] for j in jobs} == {"INSAR_ISCE_MULTI_BURST"}
    assert {len(j["job_parameters"]["reference"]) for j in jobs} == {6}
    # the estimate shown before submission is what HyP3 charged
    credits = stack["interferograms"]["credits"]
    assert credits["credits"] == 5 * len(pairs) == before - sandbox_user.credits()
    assert artifact_key("credits", STACK) in artifact_keys()
    shown = latest_artifact(artifact_key("credits", STACK))
    assert f"| credits needed | **{5 * len(pairs)}** |" in shown and "8,000" in shown
    # MintPy ran on the multi-burst products
    assert stack["timeseries"]["dates"] == ["20200102", "20200114", "20200126", "20200207"]
    assert Path(stack["products"]["velocity.tif"]).is_file()

    # the AOI then monitored with product "auto" on orbit 100: bursts are the cheaper product
    config = MonitorConfig.from_dict({
        "name": "utah-bursts", "aoi": AOI, "product": "auto", "stack": 100,
        "start": "2020-01-01", "workdir": str(tmp_path / "work"),
        "network": {"max_degree": 5}, "new_date_pairs": 2, "max_credits": 100,
        "wait": {"poll_interval_s": 0.5, "timeout_s": 180}, "schedule": {"active": False}})
    path = tmp_path / "utah-bursts.yaml"
    config.to_yaml(path)
    flow_sandbox.admin.advance(12)  # 2020-02-19 appears
    credits_1 = sandbox_user.credits()
    cycle = monitor_aoi(str(path))
    assert chosen_product(config.workdir) == "S1_Burst"
    assert cycle["status"] == "updated" and cycle["stack"] == STACK
    assert [acquisition_date(n).isoformat() for n in cycle["new_dates"]] == ["2020-02-19"]
    assert cycle["pairs_submitted"] == 2  # the new date and its 2 predecessors
    assert len(sandbox_user.jobs()) == len(jobs) + 2
    assert sandbox_user.credits() == credits_1 - 2 * 5  # 6 bursts: 5 credits a pair
    assert cycle["timeseries"]["dates"][-1] == "20200219"


def test_max_credits_stops_the_pipeline_before_any_submission(sandbox_user: SandboxUser,
                                                              tmp_path: Path) -> None:
    state = insar_pipeline(aoi=AOI, start="2020-01-01", path_frame=(100, 466),
                           workdir=str(tmp_path / "work"), network={"max_degree": 3},
                           max_credits=25, return_state=True)
    assert state.is_failed()
    message = str(state.message)
    assert "credits (" in message and "x 10, INSAR_GAMMA 20x4), above max_credits=25" in message
    assert "product='S1_Burst'" in message
    assert sandbox_user.jobs() == []
    ledger = Ledger.for_workdir(tmp_path / "work" / "p100_f466")
    assert ledger.pairs() == []  # nothing queued either: a lower max_degree starts afresh
    ledger.close()


def test_product_auto_takes_the_cheaper_multi_burst_stacks(sandbox_user: SandboxUser,
                                                           tmp_path: Path) -> None:
    state = insar_pipeline(aoi=AOI, start="2020-01-01", product="auto",
                           workdir=str(tmp_path / "work"), max_credits=0, return_state=True)
    assert state.is_failed()  # max_credits=0: it stops before submitting, after choosing
    assert "INSAR_ISCE_MULTI_BURST" in str(state.message)
    rows = {row["product"]: row for row in latest_artifact("product-choice")}
    assert rows["S1_Burst"]["chosen"] and not rows["S1_SLC"]["chosen"]
    assert rows["S1_Burst"]["credits per pair"] < rows["S1_SLC"]["credits per pair"]
    assert sandbox_user.jobs() == []

