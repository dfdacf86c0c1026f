"""The whole pipeline as a Prefect flow against the sandbox: search -> ... -> products."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import rasterio
from flowkit import (
    AOI,
    SandboxUser,
    all_artifact_data,
    artifact_keys,
    artifacts_of_run,
    task_runs_of,
)
from insarhub_sandbox.admin import Hyp3Admin

from flows.pipeline import insar_pipeline
from insarhub import Downloader
from insarhub.errors import PairNetworkError, SearchError
from insarhub.ledger import Ledger
from insarhub.network import scene_name

pytestmark = pytest.mark.usefixtures("harness")


def test_full_pipeline(sandbox_user: SandboxUser, tmp_path: Path) -> None:
    state = insar_pipeline(aoi=AOI, start="2020-01-01", path_frame=(100, 466),
                           workdir=str(tmp_path / "work"), network={"max_degree": 5},
                           points=[(37.87, -112.86)], poll_interval_s=0.5,
                           wait_timeout_s=180, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["waiting"] == []
    stack = result["stacks"]["p100_f466"]
    folder = Path(stack["folder"])
    assert folder == (tmp_path / "work" / "p100_f466").resolve()
    # the sandbox clock (2020-02-12) shows 4 acquisitions of 2020 in stack (100, 466)
    assert stack["scenes"] == 4
    assert (folder / "scenes.json").is_file()

    # one HyP3 job per pair, all done, each product downloaded
    ledger = Ledger.for_workdir(folder)
    pairs = ledger.pairs()
    ledger.close()
    assert stack["pairs"] == len(pairs) >= 3
    jobs = sandbox_user.jobs()
    assert len(jobs) == len(pairs)
    assert {j["status_code"] for j in jobs} == {"SUCCEEDED"}
    assert len({j["name"] for j in jobs}) == len(jobs)
    assert len(list((folder / "hyp3").glob("*/*_unw_phase.tif"))) == len(pairs)

    # the MintPy time series covers every date
    series = stack["timeseries"]
    assert series["dates"] == ["20200102", "20200114", "20200126", "20200207"]
    with h5py.File(folder / "mintpy" / "velocity.h5") as h5:
        velocity = h5["velocity"][()]
    assert np.isfinite(velocity).mean() > 0.5

    # products a user opens
    products = stack["products"]
    for name in ("velocity.tif", "displacement.tif", "velocity.png", "item.json",
                 "timeseries_points.csv"):
        assert Path(products[name]).is_file(), name
    with rasterio.open(products["displacement.tif"]) as cog:
        assert cog.count == 4

    # what the Prefect UI shows, keyed by AOI (the workdir's name here) and stack
    keys = artifact_keys()
    for key in ("work-stack-summary", "work-pair-network", "work-hyp3-progress",
                "work-hyp3-jobs", "work-p100-f466-products", "work-summary"):
        assert key in keys, key
    # the job table and the progress sit on the pipeline run, written after the downloads
    run_id = state.state_details.flow_run_id
    on_run = artifacts_of_run(run_id)
    jobs_table = json.loads(on_run["work-hyp3-jobs"].data)
    assert len(jobs_table) == len(pairs)
    assert all(row["downloaded"] is True and row["status"] == "SUCCEEDED" for row in jobs_table)
    assert {row["reference"] for row in jobs_table} <= set(
        ["2020-01-02", "2020-01-14", "2020-01-26", "2020-02-07"])
    assert set(jobs_table[0]) == {"stack", "reference", "secondary", "status", "attempt",
                                  "expires", "downloaded"}
    progress = on_run["work-hyp3-progress"]
    assert progress.data == 100.0
    assert progress.description.startswith(f"HyP3 jobs finished (succeeded or failed): "
                                           f"{len(pairs)} of {len(pairs)} jobs")
    # without a product server the products page names the files (no dead file:// links)
    page = on_run["work-p100-f466-products"].data
    assert "file://" not in page and "velocity.tif" in page
    assert "](data:image/png;base64," in page  # the velocity map inline
    assert sandbox_user.token not in json.dumps(all_artifact_data(), default=str)
    assert sandbox_user.token not in (folder / "hyp3_jobs.json").read_text()
    names = {run.name.rsplit("-", 1)[0] for run in task_runs_of(state.state_details.flow_run_id)}
    assert {"search-scenes", "select-pairs", "hyp3-submit", "hyp3-download",
            "mintpy-timeseries", "make-products"} <= names


@pytest.mark.parametrize(
    ("start", "end", "error", "message"),
    [("2020-01-03", "2020-01-12", SearchError, "no Sentinel-1 S1_SLC scenes"),
     ("2020-01-01", "2020-01-10", PairNetworkError, "at least 2 dates")],
)
def test_pipeline_without_enough_scenes_says_what_to_change(
        sandbox_user: SandboxUser, tmp_path: Path, start: str, end: str,
        error: type[Exception], message: str) -> None:
    state = insar_pipeline(aoi=AOI, start=start, end=end, path_frame=(100, 466),
                           workdir=str(tmp_path), return_state=True)
    assert state.is_failed()
    with pytest.raises(error, match=message):
        state.result()
    assert sandbox_user.jobs() == []


def test_pipeline_rides_out_api_faults_and_replaces_a_pair_that_keeps_failing(
        flow_sandbox: Any, sandbox_user: SandboxUser, tmp_path: Path) -> None:
    s1 = Downloader.create("S1_SLC", intersectsWith=AOI, start="2020-01-01")
    s1.search()
    scenes = [scene_name(p) for p in s1.filter(path_frame=(100, 466))[(100, 466)]]
    bad = (scenes[0], scenes[1])
    Hyp3Admin(flow_sandbox.url).configure(fail_pairs=[list(bad)], user_id=sandbox_user.user_id)
    flow_sandbox.admin.set_faults(hyp3={"error_rate": 0.2}, catalog={"error_rate": 0.2})

    state = insar_pipeline(aoi=AOI, start="2019-12-31", path_frame=(100, 466),
                           workdir=str(tmp_path / "work"), network={"max_degree": 5},
                           poll_interval_s=0.5, wait_timeout_s=240, return_state=True)
    flow_sandbox.admin.clear_faults()
    assert state.is_completed(), state.message
    stack = state.result()["stacks"]["p100_f466"]
    ledger = Ledger.for_workdir(stack["folder"])
    pairs = ledger.pairs()
    ledger.close()
    assert bad not in pairs and len(pairs) == 5  # dropped after its retries, network intact
    assert stack["interferograms"]["repaired"]["removed"] == [list(bad)]
    jobs = sandbox_user.jobs()
    failing = [j for j in jobs if tuple(j["job_parameters"]["granules"]) == bad]
    assert len(failing) == 3 and {j["status_code"] for j in failing} == {"FAILED"}  # 1 + 2 retries
    others = [j for j in jobs if j not in failing]
    assert len(others) == len(pairs) and {j["status_code"] for j in others} == {"SUCCEEDED"}
    assert stack["timeseries"]["dates"] == ["20200102", "20200114", "20200126", "20200207"]
