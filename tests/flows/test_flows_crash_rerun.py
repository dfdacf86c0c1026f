"""A pipeline killed (SIGKILL) mid-flow, then rerun: no duplicate job, no recomputed cached stage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flowkit import AOI, SandboxUser, task_runs_of
from insarhub_sandbox.admin import Hyp3Admin
from prefect.settings import PREFECT_API_URL

from flows.pipeline import insar_pipeline

pytestmark = pytest.mark.usefixtures("harness")

RUN = """
import json, sys
from flows.pipeline import insar_pipeline
insar_pipeline(**json.loads(sys.argv[1]))
"""


def test_rerun_after_sigkill_mid_flow(flow_sandbox: Any, sandbox_user: SandboxUser,
                                      tmp_path: Path) -> None:
    import json

    params = {"aoi": AOI, "start": "2020-01-01", "path_frame": [100, 466],
              "workdir": str(tmp_path / "work"), "poll_interval_s": 0.5,
              "wait_timeout_s": 300}
    admin = Hyp3Admin(flow_sandbox.url)
    admin.configure(job_seconds=600, user_id=sandbox_user.user_id)  # jobs outlive the kill
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    log = (tmp_path / "killed-run.log").open("wb")
    process = subprocess.Popen([sys.executable, "-c", RUN, json.dumps(params)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not sandbox_user.jobs():  # wait until the jobs reached HyP3, then kill
            assert process.poll() is None, (tmp_path / "killed-run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the flow never submitted its jobs"
            time.sleep(0.5)
        time.sleep(2.0)  # now polling the jobs
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        log.close()
    submitted = sandbox_user.jobs()
    assert {j["status_code"] for j in submitted} <= {"PENDING", "RUNNING"}
    admin.configure(job_seconds=1, user_id=sandbox_user.user_id)
    flow_sandbox.admin.advance(1)  # the sandbox finishes jobs whose time has passed

    state = insar_pipeline(**params, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    jobs = sandbox_user.jobs()
    assert len(jobs) == len(submitted) == result["stacks"]["p100_f466"]["pairs"]
    assert len({tuple(j["job_parameters"]["granules"]) for j in jobs}) == len(jobs)  # 1 per pair
    assert {j["job_id"] for j in jobs} == {j["job_id"] for j in submitted}
    assert result["stacks"]["p100_f466"]["interferograms"]["submit"]["submitted"] == []

    states = {run.name.rsplit("-", 1)[0]: run.state.name
              for run in task_runs_of(state.state_details.flow_run_id)}
    assert states["search-scenes"] == "Cached"
    assert states["select-pairs"] == "Cached"
    assert len(result["stacks"]["p100_f466"]["timeseries"]["dates"]) == 4
