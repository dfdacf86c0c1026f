"""Deployments on a real `prefect server` run by process workers (subprocesses on loopback).

One server, one `prefect deploy` (the project's prefect.yaml plus two AOI monitoring
deployments) and two workers with one slot each serve the tests.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flowkit import AOI
from insarhub_sandbox.admin import Hyp3Admin

from flows.deployments import PREFECT_YAML, add_monitor_deployment, deployments
from flows.server import PrefectServer, register_deployments, start_worker, stop_process
from insarhub.monitoring import MonitorConfig
from tasks.common import DEFAULT_TAG_LIMITS
from tasks.limits import default_limits

POOL = "insarhub-test-pool"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Stack:
    server: PrefectServer
    workers: dict[str, Path]  # worker name -> its log
    root: Path
    sandbox_url: str
    token: str
    user_id: str = ""

    def hyp3_jobs(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.sandbox_url}/jobs", timeout=30,
                                headers={"Authorization": f"Bearer {self.token}"})
        response.raise_for_status()
        return list(response.json()["jobs"])

    def api(self, method: str, path: str, **body: Any) -> Any:
        """One REST call; 503 (SQLite busy on a loaded machine) is retried, as Prefect's
        own client does, and so is a read that timed out."""
        reading = method == "GET" or path.endswith("/filter")  # safe to ask again
        for attempt in range(6):
            try:
                response = requests.request(method, f"{self.server.api_url}{path}",
                                            json=body or None, timeout=60)
            except requests.exceptions.Timeout:  # a server stalled by a loaded machine
                if not reading or attempt == 5:
                    raise
                continue
            if response.status_code != 503:
                break
            time.sleep(2 ** attempt)
        assert response.status_code < 400, response.text
        return response.json()

    def takers(self, run_id: str) -> list[str]:
        """The workers that ran `run_id` (a worker that lost the race logs an abort)."""
        out = []
        for worker, log in self.workers.items():
            text = log.read_text()
            if (f"submitting flow run '{run_id}'" in text
                    and f"Aborted submission of flow run '{run_id}'" not in text):
                out.append(worker)
        return out

    def run_deployment(self, name: str, **parameters: Any) -> str:
        deployment = self.api("GET", f"/deployments/name/{name}")
        run = self.api("POST", f"/deployments/{deployment['id']}/create_flow_run",
                       parameters=parameters)
        return str(run["id"])

    def wait(self, run_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.api("GET", f"/flow_runs/{run_id}")
            if run["state"]["type"] in TERMINAL:
                return dict(run)
            assert time.monotonic() < deadline, f"run {run_id} still {run['state']['name']}"
            time.sleep(1.0)


def monitor_config(root: Path, name: str, stack: list[int], start: str
                   ) -> tuple[MonitorConfig, Path]:
    config = MonitorConfig.from_dict({
        "name": name, "aoi": AOI, "stack": stack, "start": start,
        "workdir": str(root / name), "network": {"max_degree": 4},
        "wait": {"poll_interval_s": 1, "timeout_s": 240},
        "schedule": {"cron": "0 6 * * *", "active": False}})
    path = root / f"{name}.yaml"
    config.to_yaml(path)
    return config, path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, flow_sandbox_server: Any) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("deployments")
    home = root / "prefect-home"
    token = f"flows-deploy-{uuid.uuid4().hex[:12]}"
    server = PrefectServer(home=home, extra_env={
        **flow_sandbox_server.env, "EARTHDATA_TOKEN": token,
        "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
        "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "INFO"})
    prefect_yaml = root / "prefect.yaml"
    shutil.copy(PREFECT_YAML, prefect_yaml)
    # two AOI stacks with 4-5 dates each at the sandbox clock
    for name, path_frame, start in (("scale-a", [100, 466], "2020-01-01"),
                                    ("scale-b", [20, 118], "2019-11-01")):
        config, path = monitor_config(root, name, path_frame, start)
        assert add_monitor_deployment(config, path, prefect_yaml, work_pool=POOL)
    text = prefect_yaml.read_text().replace("name: insarhub-process", f"name: {POOL}")
    prefect_yaml.write_text(text)
    server.start()
    workers = []
    try:
        register_deployments(server.env(), POOL, prefect_file=prefect_yaml,
                             names=["insar-pipeline", "monitor-scale-a", "monitor-scale-b"])
        logs = {f"worker-{n}": root / f"worker-{n}.log" for n in ("a", "b")}
        workers = [start_worker(server.env(), POOL, name=name, limit=1, log_path=log)
                   for name, log in logs.items()]
        user = requests.get(f"{flow_sandbox_server.url}/user", timeout=30,
                            headers={"Authorization": f"Bearer {token}"}).json()
        yield Stack(server, logs, root, flow_sandbox_server.url, token, str(user["user_id"]))
    finally:
        for worker in workers:
            stop_process(worker)  # SIGINT: workers may ignore SIGTERM
        server.stop()


def test_insar_pipeline_deployment_runs_on_a_process_worker(stack: Stack) -> None:
    """Triggered through the API; its HyP3 jobs outlive the run's wait, so the run returns
    (the worker is free again) and schedules its own follow-up, which finishes the job."""
    # the deploy created the concurrency limits (checked here: a test of its own on another
    # xdist worker would start a second server stack)
    created = {g["name"]: g["limit"] for g in stack.api("POST", "/v2/concurrency_limits/filter")}
    assert all(created.get(name) == value for name, value in default_limits().items()), created
    tags = {c["tag"]: c["concurrency_limit"] for c in stack.api("POST", "/concurrency_limits/filter")}
    assert tags == DEFAULT_TAG_LIMITS
    Hyp3Admin(stack.sandbox_url).configure(job_seconds=8, user_id=stack.user_id)
    workdir = stack.root / "pipeline-run"
    run_id = stack.run_deployment(
        "insar-pipeline/insar-pipeline", aoi=AOI, start="2020-01-01", end="2020-02-01",
        path_frame=[100, 466], workdir=str(workdir), poll_interval_s=1, wait_timeout_s=1,
        resume_after_s=2)
    first = stack.wait(run_id)
    assert first["state"]["type"] == "COMPLETED", first["state"]
    products = workdir / "p100_f466" / "products"
    assert not products.exists()  # the first run returned while HyP3 worked
    done = {run_id}
    while True:  # follow-ups (each run schedules the next while jobs are still running)
        runs = stack.api("POST", "/flow_runs/filter",
                         deployments={"id": {"any_": [first["deployment_id"]]}})
        todo = [r["id"] for r in runs if r["id"] not in done]
        if not todo:
            break
        for follow_up in todo:
            run = stack.wait(follow_up)
            assert run["state"]["type"] == "COMPLETED", run["state"]
            assert run["parameters"]["workdir"] == str(workdir)
            done.add(follow_up)
    assert len(done) >= 2  # the first run scheduled a follow-up for itself
    assert (products / "velocity.tif").is_file() and (products / "item.json").is_file()
    assert len(stack.takers(run_id)) == 1  # a process worker ran it
    jobs = stack.hyp3_jobs()
    assert len(jobs) == len({j["name"] for j in jobs}) == 3  # nothing submitted twice


def test_a_monitoring_deployment_in_prefect_yaml_runs_on_a_worker(stack: Stack) -> None:
    """`add_monitor_deployment` wrote it into prefect.yaml; `prefect deploy` registered it.
    (Two workers taking different AOIs at once: tests/fleet/test_fleet_workers.py.)"""
    run = stack.wait(stack.run_deployment("monitor-aoi/monitor-scale-b"))
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert list((stack.root / "scale-b").glob("*/products/velocity.tif"))
    assert run["parameters"]["config"].endswith("scale-b.yaml")
    assert len(stack.takers(run["id"])) == 1


def test_every_aoi_config_has_a_monitoring_deployment() -> None:
    names = {d["name"] for d in deployments(PREFECT_YAML)}
    configs = sorted(Path(PREFECT_YAML).parent.glob("deployments/aois/*.yaml"))
    assert configs
    for path in configs:
        assert f"monitor-{MonitorConfig.from_yaml(path).name}" in names
    assert "insar-pipeline" in names
